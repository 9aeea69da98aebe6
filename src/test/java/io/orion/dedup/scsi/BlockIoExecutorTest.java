package io.orion.dedup.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.DeviceWaits;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The block I/O executor adds threads while every thread is stuck and a device is slow, so queued
 * work still runs; never more than its maximum; not when its threads wait for something else; and
 * it goes back to its base size once no device is slow.
 */
class BlockIoExecutorTest {

    @Test
    void queuedWorkRunsWhileEveryThreadIsStuck() throws Exception {
        BlockIoExecutor io = new BlockIoExecutor(2, 8, "test-io-");
        CountDownLatch device = new CountDownLatch(1);
        CountDownLatch stuck = new CountDownLatch(3);
        try {
            for (int i = 0; i < 3; i++) { // one more than the base threads: one of them waits in the queue
                io.execute(() -> {
                    stuck.countDown();
                    awaitDevice(device);
                });
            }
            CountDownLatch ran = new CountDownLatch(1);
            long t0 = System.nanoTime();
            io.execute(ran::countDown);
            assertTrue(ran.await(5, TimeUnit.SECONDS), "a task queued behind stuck threads never ran");
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(stuck.await(5, TimeUnit.SECONDS), "the queued stuck task got a thread too");
            assertTrue(io.timesGrown() >= 1, "the pool grew");
            assertTrue(io.getPoolSize() > 2 && io.getPoolSize() <= 8, "threads: " + io.getPoolSize());
            assertEquals(1, device.getCount(), "still stuck while the queued task ran (" + waited + " ms)");
        } finally {
            device.countDown();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (io.getPoolSize() != 2 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(2, io.getPoolSize(), "back to the base size once no device is slow");
        io.shutdown();
        assertTrue(io.awaitTermination(5, TimeUnit.SECONDS));
    }

    @Test
    void neverMoreThanItsMaximum() throws Exception {
        BlockIoExecutor io = new BlockIoExecutor(1, 3, "test-io-");
        CountDownLatch device = new CountDownLatch(1);
        CountDownLatch started = new CountDownLatch(5);
        try {
            for (int i = 0; i < 5; i++) {
                io.execute(() -> {
                    started.countDown();
                    awaitDevice(device);
                });
            }
            Thread.sleep(SLOW + 20 * BlockIoExecutor.STALL_MILLIS);
            assertEquals(3, io.getPoolSize(), "grown to its maximum, no further");
            assertEquals(2, started.getCount(), "two tasks wait for a thread");
        } finally {
            device.countDown();
        }
        assertTrue(started.await(5, TimeUnit.SECONDS), "they run once the device answers");
        io.shutdown();
        assertTrue(io.awaitTermination(5, TimeUnit.SECONDS));
    }

    @Test
    void threadsWaitingForSomethingElseDoNotGrowIt() throws Exception {
        BlockIoExecutor io = new BlockIoExecutor(2, 8, "test-io-");
        CountDownLatch lock = new CountDownLatch(1);
        CountDownLatch ran = new CountDownLatch(1);
        try {
            for (int i = 0; i < 2; i++) {
                io.execute(() -> await(lock)); // a block lock, a commit: not a device
            }
            io.execute(ran::countDown);
            Thread.sleep(SLOW + 10 * BlockIoExecutor.STALL_MILLIS);
            assertEquals(1, ran.getCount(), "no thread was added");
            assertEquals(0, io.timesGrown());
            assertEquals(2, io.getPoolSize());
        } finally {
            lock.countDown();
        }
        assertTrue(ran.await(5, TimeUnit.SECONDS));
        io.shutdown();
        assertTrue(io.awaitTermination(5, TimeUnit.SECONDS));
    }

    private static final long SLOW = BlockIoExecutor.SLOW_DEVICE_MILLIS;

    /** Waits as a thread inside a device operation does. */
    private static void awaitDevice(CountDownLatch l) {
        boolean waits = DeviceWaits.begin();
        try {
            await(l);
        } finally {
            DeviceWaits.end(waits);
        }
    }

    private static void await(CountDownLatch l) {
        try {
            l.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
