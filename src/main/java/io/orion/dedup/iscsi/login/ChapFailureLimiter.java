package io.orion.dedup.iscsi.login;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts CHAP failures per initiator name; once {@code limit} failures fall within
 * {@code window}, further CHAP attempts from that initiator are refused until the oldest ages out.
 * Thread-safe.
 */
public final class ChapFailureLimiter {

    private final int limit;
    private final long windowNanos;
    private final Map<String, Deque<Long>> failures = new ConcurrentHashMap<>();

    public ChapFailureLimiter(int limit, Duration window) {
        this.limit = limit;
        this.windowNanos = window.toNanos();
    }

    /** True if this initiator has failed too often recently. */
    public boolean blocked(String initiator, long nowNanos) {
        if (limit <= 0) {
            return false;
        }
        Deque<Long> d = failures.get(initiator);
        if (d == null) {
            return false;
        }
        synchronized (d) {
            prune(d, nowNanos);
            return d.size() >= limit;
        }
    }

    /** Records one failure; returns the number of failures within the window. */
    public int failed(String initiator, long nowNanos) {
        Deque<Long> d = failures.computeIfAbsent(initiator, k -> new ArrayDeque<>());
        synchronized (d) {
            prune(d, nowNanos);
            d.addLast(nowNanos);
            return d.size();
        }
    }

    /** Forgets an initiator's failures after a success. */
    public void succeeded(String initiator) {
        failures.remove(initiator);
    }

    private void prune(Deque<Long> d, long now) {
        while (!d.isEmpty() && now - d.peekFirst() > windowNanos) {
            d.removeFirst();
        }
        if (d.size() > Math.max(limit, 1) * 4) {
            d.removeFirst();
        }
    }
}
