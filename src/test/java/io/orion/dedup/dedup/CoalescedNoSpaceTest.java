package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.OutOfSpaceException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A write that waits for another write storing the same new data fails the way that one failed:
 * when that one found no space, with {@link OutOfSpaceException} (SPACE ALLOCATION FAILED WRITE
 * PROTECT for its initiator), not a plain I/O error (which the SCSI layer answers with MEDIUM
 * ERROR).
 */
class CoalescedNoSpaceTest {

    @TempDir
    Path dir;

    @Test
    void aWriterCoalescedOntoAWriteThatFoundNoSpaceGetsOutOfSpace() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("v", 512, 8L << 20, 4096);
            byte[] data = PoolFixture.random(5, 4096);
            // another writer holds the claim on this content, storing it
            PendingChunk other = new PendingChunk(pool.hasher().hash(ByteBuffer.wrap(data)), pool.newChunkId());
            assertTrue(pool.index().claim(other) == other);
            CompletableFuture<Void> w = CompletableFuture.runAsync(() -> {
                try {
                    v.write(8, ByteBuffer.wrap(data), false);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            Thread.sleep(300); // the write found the claim and waits for it
            pool.index().abandon(other, new OutOfSpaceException("pool is full: no free container slot on any backing device"));
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> w.get(10, TimeUnit.SECONDS));
            assertInstanceOf(OutOfSpaceException.class, e.getCause().getCause(), e.getCause().toString());
        }
    }
}
