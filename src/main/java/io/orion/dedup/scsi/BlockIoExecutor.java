package io.orion.dedup.scsi;

import io.orion.dedup.blockdev.DeviceWaits;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executor of block I/O (the command layer's {@code scsi-io} threads): a fixed number of
 * threads for ordinary work, plus threads added while every one of them is stuck, so a command
 * waiting for a slow device never keeps the queued commands of other LUNs from running.
 *
 * <p>Why: a device that answers late (a disk retrying a sector, a saturated array, a slow fsync)
 * holds the thread that called it. With a plain fixed pool, as many stuck commands as threads —
 * reads of one LUN whose data is on the slow device, writes appending to it, SYNCHRONIZE CACHEs
 * waiting for its fsync — made every later command wait behind them, a read of another LUN whose
 * data is on a healthy device included (for as long as the slow device took: seconds).
 *
 * <p>How: a watchdog looks every {@link #TICK_MILLIS} ms. When work is queued, no task has
 * finished for {@link #STALL_MILLIS} ms (every thread is waiting for something) and a device
 * operation has been waiting for at least {@link #SLOW_DEVICE_MILLIS} ms ({@link DeviceWaits}: a
 * device is slow), it raises the pool's size so that every queued task gets a thread of its own,
 * at most {@code max} threads in all. As soon as no device operation has waited that long, the
 * size returns to the base count: the threads above it leave when their task is done, so under a
 * steady load the count does not ratchet up from one slow episode to the next. A pool that is
 * merely busy — CPU-bound work, threads starved of CPU on a loaded machine, writes
 * waiting for block locks or for a commit while the devices answer in time — never grows, so the
 * long-load test (soak) sees a flat thread count. The same idea as a fork/join pool's
 * compensation threads for managed blockers, limited to waits for a device.
 *
 * <p>The bound: a command that needs no slow device waits for a thread at most about {@code
 * SLOW_DEVICE_MILLIS + STALL_MILLIS + TICK_MILLIS} after the slow device's oldest operation began,
 * unless more than {@code max} commands are stuck at once.
 *
 * <p>Threads: the pool's workers; one daemon watchdog thread shared by every instance.
 */
public final class BlockIoExecutor extends ThreadPoolExecutor {
    private static final Logger LOG = LoggerFactory.getLogger(BlockIoExecutor.class);

    /** How often the watchdog looks. */
    static final long TICK_MILLIS = 20;
    /** How long queued work may see no task finish before the pool grows. */
    static final long STALL_MILLIS = 40;
    /** How long a device operation waits before the device counts as slow. */
    static final long SLOW_DEVICE_MILLIS = TimeUnit.NANOSECONDS.toMillis(DeviceWaits.SLOW_NANOS);
    /** How long a thread above the base count stays without work (while a device is still slow). */
    static final long IDLE_SECONDS = 10;

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "scsi-io-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final int base;
    private final int max;
    private final LongAdder finished = new LongAdder();
    private final ScheduledFuture<?> watch;
    /** Watchdog state (watchdog thread only). */
    private long seenFinished;
    private long progressAt = System.nanoTime();
    /** Times the pool grew (tests, logs). */
    private final AtomicInteger grown = new AtomicInteger();

    /**
     * @param base threads kept for ordinary work
     * @param max most threads in all, stuck ones included
     * @param prefix thread names: prefix followed by a number
     */
    public BlockIoExecutor(int base, int max, String prefix) {
        super(base, base, IDLE_SECONDS, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), daemonThreads(prefix));
        this.base = base;
        this.max = Math.max(base, max);
        this.watch = WATCHDOG.scheduleWithFixedDelay(this::check, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** Times the watchdog added threads because every thread was stuck. */
    public int timesGrown() {
        return grown.get();
    }

    @Override
    protected void afterExecute(Runnable r, Throwable t) {
        finished.increment();
    }

    private void check() {
        try {
            long now = System.nanoTime();
            long done = finished.sum();
            int queued = getQueue().size();
            boolean slow = DeviceWaits.slowNow();
            if (!slow && getMaximumPoolSize() > base) {
                setCorePoolSize(base);
                setMaximumPoolSize(base); // the extra threads leave when their task is done
            }
            if (done != seenFinished || queued == 0) {
                seenFinished = done;
                progressAt = now;
                return;
            }
            if (!slow || now - progressAt < TimeUnit.MILLISECONDS.toNanos(STALL_MILLIS)) {
                return; // busy, or stuck on something other than a slow device: no more threads
            }
            int want = Math.min(max, getPoolSize() + queued);
            if (want > getCorePoolSize()) {
                // counted before the threads start: a queued task they run may be seen done at once
                grown.incrementAndGet();
                setMaximumPoolSize(max);
                setCorePoolSize(want); // starts a thread for each queued task, up to the new size
                LOG.debug("every block I/O thread is stuck and a device is slow (no task finished for {} ms, {}"
                        + " queued): {} threads now", TimeUnit.NANOSECONDS.toMillis(now - progressAt), queued, want);
            }
            progressAt = now; // the new threads get a stall period of their own before the next growth
        } catch (RuntimeException e) {
            LOG.warn("block I/O watchdog: {}", e.toString());
        }
    }

    @Override
    protected void terminated() {
        watch.cancel(false);
    }
}
