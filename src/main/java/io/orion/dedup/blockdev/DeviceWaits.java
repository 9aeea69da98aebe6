package io.orion.dedup.blockdev;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The backing-device operations in progress (reads, writes, fsyncs), and how long the oldest of
 * them has been waiting: the sign that a device is slow. The block I/O executor adds threads only
 * while one is ({@code io.orion.dedup.scsi.BlockIoExecutor}), not when its threads are merely busy.
 *
 * <p>Threads: any; one map entry per thread inside a device operation.
 */
public final class DeviceWaits {
    /** A device operation that waits this long means a slow device (a healthy one answers in ms). */
    public static final long SLOW_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final ConcurrentHashMap<Thread, Long> SINCE = new ConcurrentHashMap<>();

    private DeviceWaits() {
    }

    /**
     * Notes that this thread waits for a device from now on; returns false if it already did (pass
     * the result to {@link #end}).
     */
    public static boolean begin() {
        return SINCE.putIfAbsent(Thread.currentThread(), System.nanoTime()) == null;
    }

    /** The device operation {@link #begin} noted is over. */
    public static void end(boolean began) {
        if (began) {
            SINCE.remove(Thread.currentThread());
        }
    }

    /** How long the oldest device operation in progress has been waiting, in nanoseconds (0: none). */
    public static long longestNanos() {
        long now = System.nanoTime();
        long longest = 0;
        for (long since : SINCE.values()) {
            longest = Math.max(longest, now - since);
        }
        return longest;
    }

    /** True while a device operation has been waiting for {@link #SLOW_NANOS} or more. */
    public static boolean slowNow() {
        return longestNanos() >= SLOW_NANOS;
    }
}
