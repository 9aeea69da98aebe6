package io.orion.dedup.logging;

import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.event.Level;

/**
 * Rate limit for log lines a client can cause at will — one iSCSI connection's protocol errors
 * (unknown opcodes, Data-Out errors, digest errors), writes refused on a read-only or full volume,
 * I/O errors of a failing device — in the manner of the kernel's printk_ratelimit: per message kind, the
 * first {@code burst} lines of each {@code window} are logged; the rest are only counted, and the
 * next line after the window (or the connection's end, {@link #flush()}) is preceded by one line
 * "N more like this (kind) from initiator in the last S s suppressed". The first occurrence of a
 * kind is always logged. Kinds are few and fixed by the code, so the table stays small.
 * Thread-safe.
 */
public final class RateLimitedLog {

    private final Logger log;
    private final int burst;
    private final long windowNanos;
    private volatile String who = "?";
    private final Map<String, Bucket> buckets = new LinkedHashMap<>();

    private static final class Bucket {
        long start;
        /** The level of the kind's lines; its summaries use it too (a WARN kind stays visible). */
        Level level;
        int lines;
        long suppressed;
    }

    public RateLimitedLog(Logger log, int burst, long windowNanos) {
        if (burst < 1) {
            throw new IllegalArgumentException("burst " + burst);
        }
        this.log = log;
        this.burst = burst;
        this.windowNanos = windowNanos;
    }

    /** Who the summaries name: the initiator name and its address. */
    public void who(String who) {
        this.who = who;
    }

    /** Logs {@code message} (client text already escaped) at INFO unless its kind used up its budget. */
    public void info(String kind, String message, Object... args) {
        log(Level.INFO, kind, message, args);
    }

    /** As {@link #info}, at WARN. */
    public void warn(String kind, String message, Object... args) {
        log(Level.WARN, kind, message, args);
    }

    /** As {@link #info}, at ERROR (a throwable as the last argument is logged with its trace). */
    public void error(String kind, String message, Object... args) {
        log(Level.ERROR, kind, message, args);
    }

    private void log(Level level, String kind, String message, Object... args) {
        long suppressed;
        long elapsed;
        long now = System.nanoTime();
        synchronized (this) {
            Bucket b = buckets.get(kind);
            if (b == null) {
                b = new Bucket();
                b.start = now;
                b.level = level;
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
            summary(level, kind, suppressed, elapsed);
        }
        log.atLevel(level).log(message, args);
    }

    /** Logs the summaries still owed (the connection ends): no count is lost. */
    public void flush() {
        long now = System.nanoTime();
        Map<String, long[]> owed = new LinkedHashMap<>();
        Map<String, Level> levels = new LinkedHashMap<>();
        synchronized (this) {
            for (Map.Entry<String, Bucket> e : buckets.entrySet()) {
                Bucket b = e.getValue();
                if (b.suppressed > 0) {
                    owed.put(e.getKey(), new long[] {b.suppressed, now - b.start});
                    levels.put(e.getKey(), b.level);
                    b.suppressed = 0;
                }
            }
        }
        owed.forEach((kind, v) -> summary(levels.get(kind), kind, v[0], v[1]));
    }

    private void summary(Level level, String kind, long suppressed, long elapsedNanos) {
        long seconds = Math.max(1, (elapsedNanos + 999_999_999L) / 1_000_000_000L);
        log.atLevel(level).log("{} more like this ({}) from {} in the last {} s suppressed", String.format("%,d", suppressed), kind,
                who, seconds);
    }
}
