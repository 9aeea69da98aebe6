package io.orion.dedup.iscsi.session;

import java.net.InetAddress;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;

/**
 * Rate limit for the log lines of failed or refused logins (and of discovery sessions, which may
 * need no authentication), so unauthenticated traffic cannot flood the log: per source address, {@code burst} lines per {@code window}; the lines beyond are
 * counted, and the next line after the window is preceded by "N more ... suppressed". Sources
 * beyond {@code maxSources} share one budget (the table stays bounded). Thread-safe.
 */
final class LoginLog {

    private static final Object OTHERS = "other addresses";

    private final Logger log;
    private final int burst;
    private final long windowNanos;
    private final int maxSources;
    private final LinkedHashMap<Object, Bucket> buckets = new LinkedHashMap<>(64, 0.75f, true);

    private static final class Bucket {
        final String label;
        long start;
        int lines;
        long suppressed;

        Bucket(String label) {
            this.label = label;
        }
    }

    LoginLog(Logger log, int burst, long windowNanos, int maxSources) {
        this.log = log;
        this.burst = burst;
        this.windowNanos = windowNanos;
        this.maxSources = maxSources;
    }

    /**
     * Logs {@code message} (already safe: client text escaped) at INFO unless {@code source} used up
     * its budget. {@code args} as for SLF4J.
     */
    void info(InetAddress source, String message, Object... args) {
        long suppressed;
        String label;
        long now = System.nanoTime();
        synchronized (this) {
            Bucket b = bucket(source == null ? OTHERS : source, now);
            label = b.label;
            if (now - b.start > windowNanos) {
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
            log.info("{} more login line(s) from {} suppressed in the last {} s", suppressed,
                    label, windowNanos / 1_000_000_000L);
        }
        log.info(message, args);
    }

    private Bucket bucket(Object key, long now) {
        Bucket b = buckets.get(key);
        if (b != null) {
            return b;
        }
        if (buckets.size() >= maxSources) {
            for (Iterator<Map.Entry<Object, Bucket>> it = buckets.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<Object, Bucket> e = it.next();
                if (e.getKey() != OTHERS && now - e.getValue().start > windowNanos && e.getValue().suppressed == 0) {
                    it.remove();
                }
            }
            if (buckets.size() >= maxSources) {
                key = OTHERS;
                b = buckets.get(OTHERS);
                if (b != null) {
                    return b;
                }
            }
        }
        b = new Bucket(key instanceof InetAddress a ? a.getHostAddress() : key.toString());
        b.start = now;
        buckets.put(key, b);
        return b;
    }
}
