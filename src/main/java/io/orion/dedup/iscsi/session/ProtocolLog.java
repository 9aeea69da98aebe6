package io.orion.dedup.iscsi.session;

import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;

/**
 * Rate limit for the log lines of one connection's protocol errors (unknown opcodes, Data-Out
 * errors, digest errors), in the manner of the kernel's printk_ratelimit: per message kind, the
 * first {@code burst} lines of each {@code window} are logged; the rest are only counted, and the
 * next line after the window (or the connection's end, {@link #flush()}) is preceded by one line
 * "N more like this (kind) from initiator in the last S s suppressed". The first occurrence of a
 * kind is always logged. Kinds are few and fixed by the code, so the table stays small.
 * Thread-safe.
 */
final class ProtocolLog {

    private final Logger log;
    private final int burst;
    private final long windowNanos;
    private volatile String who = "?";
    private final Map<String, Bucket> buckets = new LinkedHashMap<>();

    private static final class Bucket {
        long start;
        int lines;
        long suppressed;
    }

    ProtocolLog(Logger log, int burst, long windowNanos) {
        if (burst < 1) {
            throw new IllegalArgumentException("burst " + burst);
        }
        this.log = log;
        this.burst = burst;
        this.windowNanos = windowNanos;
    }

    /** Who the summaries name: the initiator name and its address. */
    void who(String who) {
        this.who = who;
    }

    /** Logs {@code message} (client text already escaped) at INFO unless its kind used up its budget. */
    void info(String kind, String message, Object... args) {
        long suppressed;
        long elapsed;
        long now = System.nanoTime();
        synchronized (this) {
            Bucket b = buckets.get(kind);
            if (b == null) {
                b = new Bucket();
                b.start = now;
                buckets.put(kind, b);
            }
            elapsed = now - b.start;
            if (elapsed > windowNanos) {
                suppressed = b.suppressed;
                b.start = now;
                b.lines = 0;
                b.suppressed = 0;
            } else {
                suppressed = 0;
            }
            if (b.lines >= burst) {
                b.suppressed++;
                return;
            }
            b.lines++;
        }
        if (suppressed > 0) {
            summary(kind, suppressed, elapsed);
        }
        log.info(message, args);
    }

    /** Logs the summaries still owed (the connection ends): no count is lost. */
    void flush() {
        long now = System.nanoTime();
        Map<String, long[]> owed = new LinkedHashMap<>();
        synchronized (this) {
            for (Map.Entry<String, Bucket> e : buckets.entrySet()) {
                Bucket b = e.getValue();
                if (b.suppressed > 0) {
                    owed.put(e.getKey(), new long[] {b.suppressed, now - b.start});
                    b.suppressed = 0;
                }
            }
        }
        owed.forEach((kind, v) -> summary(kind, v[0], v[1]));
    }

    private void summary(String kind, long suppressed, long elapsedNanos) {
        long seconds = Math.max(1, (elapsedNanos + 999_999_999L) / 1_000_000_000L);
        log.info("{} more like this ({}) from {} in the last {} s suppressed", String.format("%,d", suppressed), kind,
                who, seconds);
    }
}
