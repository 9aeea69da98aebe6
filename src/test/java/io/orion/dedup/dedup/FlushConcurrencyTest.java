package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.containers.BackingDevice;
import io.orion.dedup.containers.DeviceFaults;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A flush (SYNCHRONIZE CACHE, the timed flush, the flush after 8192 block operations) waits for
 * the fsyncs of the devices and of data.mdb; the other writers of the pool must not wait with it.
 * The committer only captures the state to flush and the fsyncs run on the flushing thread:
 * before, they ran inside the committer and every write of the pool waited for them (here a 3 s
 * fsync held a write for 3 s).
 */
class FlushConcurrencyTest {
    @TempDir
    Path dir;

    private static final long FSYNC_MILLIS = 3000;

    @Test
    void writesCommitWhileAFlushWaitsForASlowFsync() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("v", 4096, 16L << 20, 4096);
            v.write(0, ByteBuffer.wrap(PoolFixture.random(1, 4096)), false);
            BackingDevice d = DeviceFaultTest.device(pool, 0);
            d.injectFaults(DeviceFaults.slow(DeviceFaults.Op.FORCE, FSYNC_MILLIS));
            long t0 = System.nanoTime();
            CompletableFuture<Void> flush = CompletableFuture.runAsync(() -> {
                try {
                    pool.flush();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(300); // the flush is in its fsync
            assertFalse(flush.isDone(), "the flush waits for the slow fsync");
            // writes of new data (a record appended, a commit) while the flush waits
            for (int lba = 1; lba <= 20; lba++) {
                v.write(lba, ByteBuffer.wrap(PoolFixture.random(lba + 1, 4096)), false);
            }
            long writesDone = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertFalse(flush.isDone(), "the writes overlapped the flush");
            assertTrue(writesDone < FSYNC_MILLIS - 500,
                    "20 writes committed in " + writesDone + " ms while the flush waited " + FSYNC_MILLIS + " ms");
            flush.get(30, TimeUnit.SECONDS);
            d.injectFaults(DeviceFaults.NONE);
            pool.flush();
            for (int lba = 0; lba <= 20; lba++) {
                assertArrayEquals(PoolFixture.random(lba + 1, 4096), PoolFixture.read(v, lba, 1).array(), "block " + lba);
            }
        }
    }

    /**
     * A flush whose device fsync fails leaves no pinned state behind: the pool turns read-only, and
     * every SYNCHRONIZE CACHE after it fails too; before, each such flush left its captured state
     * pinned for good (a reader slot each, and LMDB reuses none of the pages freed since).
     */
    @Test
    void aFailedFlushLeavesNoPinnedStateBehind() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("v", 4096, 16L << 20, 4096);
            v.write(0, ByteBuffer.wrap(PoolFixture.random(1, 4096)), false);
            BackingDevice d = DeviceFaultTest.device(pool, 0);
            d.injectFaults(DeviceFaults.failAll(DeviceFaults.Op.FORCE));
            for (int i = 0; i < 5; i++) {
                assertThrows(java.io.IOException.class, pool::flush, "flush " + i);
            }
            assertEquals(0, pool.meta().pendingFlushPoints(), "captured states still pinned");
            assertTrue(pool.readOnlyReason() != null, "a failed fsync turns the pool read-only");
            assertArrayEquals(PoolFixture.random(1, 4096), PoolFixture.read(v, 0, 1).array(), "reads go on");
        }
    }
}
