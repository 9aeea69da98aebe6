package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.IoBatch;
import io.orion.dedup.blockdev.OutOfSpaceException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * While the metadata file system is low on space, a batch of many writes that each need new space
 * is refused write by write: every write either fails (out of space) or is really there after a
 * reopen, never a GOOD for a write the metadata does not hold (the committer once gave up after
 * 64 attempts, one refused write each, and completed the rest of a large batch without a commit).
 */
class LowSpaceBatchTest {
    @TempDir
    Path dir;

    @Test
    void everyWriteOfALargeRefusedBatchFailsOrIsThere() throws Exception {
        int writes = 600;
        byte[] content = PoolFixture.random(42, 4096);
        boolean[] ok = new boolean[writes];
        int refused = 0;
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 64L << 20, 4096);
            v.write(0, ByteBuffer.wrap(content), false); // the chunk exists: later writes are dedup hits
            pool.flush();
            for (int round = 0; round < 5; round++) {
                pool.meta().markLowSpace();
                List<CompletableFuture<Void>> f = new ArrayList<>();
                // one burst, as the transport decodes it from one socket read: one commit for all
                IoBatch batch = new IoBatch();
                for (int i = 0; i < writes / 5; i++) {
                    long lba = 1 + round * (writes / 5) + i;
                    batch.submit(Runnable::run, scope -> f.add(v.writeAsync(lba, ByteBuffer.wrap(content), false, scope)), 1);
                }
                batch.dispatch();
                for (int i = 0; i < f.size(); i++) {
                    try {
                        f.get(i).join();
                        ok[round * (writes / 5) + i] = true;
                    } catch (CompletionException e) {
                        assertTrue(e.getCause() instanceof OutOfSpaceException, "out of space: " + e.getCause());
                        refused++;
                    }
                }
            }
            pool.flush();
        }
        assertTrue(refused > 0, "some writes must have been refused while space was low");
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int i = 0; i < writes; i++) {
                byte[] expected = ok[i] ? content : new byte[4096];
                assertArrayEquals(expected, PoolFixture.read(v, 1 + i, 1).array(),
                        "lba " + (1 + i) + (ok[i] ? " was acknowledged" : " was refused"));
            }
        }
    }
}
