package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.containers.BackingDevice;
import io.orion.dedup.containers.DeviceFaults;
import io.orion.dedup.meta.ChunkRecord;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The committer does no device I/O while it resolves a batch inside its LMDB write transaction: the
 * fresh copy of a block whose chunk is saturated (and the read of a referenced chunk's bytes for
 * it) run between attempts, outside the transaction ({@code Committer.OutsideIo}).
 */
class CommitOutsideIoTest {
    @TempDir
    Path dir;

    @Test
    void freshCopiesAreReadAndStoredOutsideTheWriteTransaction() throws Exception {
        byte[] x = PoolFixture.random(7, 4096);
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).referenceMaxCount(2).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            List<String> seen = new CopyOnWriteArrayList<>();
            for (BackingDevice d : pool.store().devices()) {
                d.injectFaults((op, pos, length) -> {
                    if (op != DeviceFaults.Op.FORCE && pool.committer().resolving()) {
                        seen.add(op + " at " + pos + " on " + Thread.currentThread().getName());
                    }
                });
            }
            // six references to one content, at most two per chunk: the third and the fifth write
            // each get a fresh copy from the committer (the chunk they found is saturated)
            for (int i = 0; i < 6; i++) {
                v.write(i, ByteBuffer.wrap(x), false);
            }
            assertEquals(3, pool.stats().uniqueChunks());
            // a reference copy of block 0: its chunk and the one the index names are both saturated,
            // so the committer reads the chunk's bytes and stores a fourth copy
            v.copyFrom(v, 0, 10, 1);
            assertEquals(4, pool.stats().uniqueChunks());
            assertEquals(List.of(), seen, "no device read or write while a batch is resolved");
            for (long lba : new long[] {0, 1, 2, 3, 4, 5, 10}) {
                assertArrayEquals(x, PoolFixture.read(v, lba, 1).array(), "block " + lba);
            }
            for (ChunkRecord r : AccountingTest.chunks(pool)) {
                assertTrue(r.refCount() <= 2, "chunk " + r.id() + " has " + r.refCount() + " references");
            }
            pool.flush();
        }
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).referenceMaxCount(2).build())) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertArrayEquals(x, PoolFixture.read(v, 10, 1).array(), "the copy survives a reopen");
            assertTrue(pool.verify().clean());
        }
    }
}
