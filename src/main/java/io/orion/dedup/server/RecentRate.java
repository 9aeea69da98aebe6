package io.orion.dedup.server;

/**
 * Counts of the last {@link #WINDOW_SECONDS} seconds, one slot per second (a ring), for rates that
 * say what is happening now rather than averaged over the uptime. Thread-safe: {@link #add} takes
 * the object's monitor for a few nanoseconds (one slot update).
 */
final class RecentRate {

    /** How far back {@link #sum} looks, in seconds. */
    static final int WINDOW_SECONDS = 60;
    private static final int SLOTS = 64;

    private final long[] second = new long[SLOTS];
    private final long[] count = new long[SLOTS];

    RecentRate() {
        java.util.Arrays.fill(second, Long.MIN_VALUE);
    }

    /** Adds {@code n} at second {@code now} (any monotonic second count). */
    synchronized void add(long now, long n) {
        int s = (int) (now & (SLOTS - 1));
        if (second[s] != now) {
            second[s] = now;
            count[s] = 0;
        }
        count[s] += n;
    }

    /** The total of the seconds {@code now - WINDOW_SECONDS + 1 .. now}. */
    synchronized long sum(long now) {
        long total = 0;
        for (int s = 0; s < SLOTS; s++) {
            if (second[s] <= now && second[s] > now - WINDOW_SECONDS) {
                total += count[s];
            }
        }
        return total;
    }
}
