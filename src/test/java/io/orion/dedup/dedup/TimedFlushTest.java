package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Without durable commits the pool flushes what was committed within one interval after writes
 * stop, also while a record-moving pass (scrub --repair, compression-optimize, cleanup) holds its
 * lock: the timed cleanup then waits for that lock, and it used to share the flush's timer thread
 * (found by review).
 */
class TimedFlushTest {
    @TempDir
    Path dir;

    @Test
    void committedWritesAreFlushedWithinTheIntervalWhileARecordMovingPassRuns() throws Exception {
        System.setProperty("orion.flushEveryMillis", "200");
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).referenceCleanupIntervalSeconds(1).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            var lock = pool.gc().runLock();
            lock.lock();
            try {
                Thread.sleep(1500); // the timed cleanup now waits for the lock
                v.write(0, ByteBuffer.wrap(PoolFixture.random(1, 4096)), false);
                Thread.sleep(50);
                v.write(1, ByteBuffer.wrap(PoolFixture.random(2, 4096)), false);
                Thread.sleep(2000); // ten intervals
                assertFalse(pool.committer().dirty(), "committed writes stayed unflushed past the interval");
            } finally {
                lock.unlock();
                System.clearProperty("orion.flushEveryMillis");
            }
        }
    }
}
