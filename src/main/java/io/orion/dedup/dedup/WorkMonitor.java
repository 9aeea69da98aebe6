package io.orion.dedup.dedup;

import java.io.InterruptedIOException;

/**
 * How a background pass (scrub, cleanup, recompression) reports its progress, learns that it was
 * cancelled and is paced. The pass calls {@link #begin} once it knows how many bytes it will
 * handle, {@link #advance} after each unit of work, and checks {@link #cancelled()} between units:
 * when it is true the pass stops at the next point where the metadata is consistent (what it has
 * committed stays, nothing half-done is left) and returns what it did so far.
 *
 * <p>{@link #NONE} is the monitor of direct calls: no progress, never cancelled, the engine's own
 * pacing. Implementations must be thread-safe for reads of the progress from other threads.
 */
public interface WorkMonitor {

    /** No progress reporting, never cancelled, the engine's default pacing. */
    WorkMonitor NONE = new WorkMonitor() {
    };

    /** The pass will handle about {@code totalBytes} (0 when nothing is to be done). */
    default void begin(long totalBytes) {
    }

    /** {@code bytes} more were handled. */
    default void advance(long bytes) {
    }

    /** True once the pass should stop at its next consistent point. */
    default boolean cancelled() {
        return false;
    }

    /**
     * The pace of this pass in bytes per second: {@code engineDefault} unless the monitor sets
     * its own; 0 or less means unthrottled.
     */
    default long rate(long engineDefault) {
        return engineDefault;
    }

    /**
     * Sleeps as long as {@code bytes} handled since {@code startedNanos} are ahead of {@code rate}
     * bytes per second (no sleep when {@code rate <= 0}), in slices of at most 100 ms so that a
     * cancel is seen promptly; returns early once {@link #cancelled()}.
     */
    default void pace(long bytes, long startedNanos, long rate, String what) throws InterruptedIOException {
        if (rate <= 0) {
            return;
        }
        long due = (long) (bytes * 1e9 / rate);
        while (!cancelled()) {
            long ahead = due - (System.nanoTime() - startedNanos);
            if (ahead <= 0) {
                return;
            }
            long slice = Math.min(ahead, 100_000_000L);
            try {
                Thread.sleep(slice / 1_000_000, (int) (slice % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException(what + " interrupted");
            }
        }
    }
}
