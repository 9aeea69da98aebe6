package io.orion.dedup.iscsi.login;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Counts CHAP failures per source address; once {@code limit} failures from one source fall
 * within {@code window}, further CHAP attempts from it are refused until the oldest ages out.
 *
 * <p>Keyed on where the connection comes from, not on the InitiatorName the client chooses:
 * rotating names does not reset the count, and failures under another host's name from elsewhere
 * never lock that host out of its own address. A source is one IPv4 address or one IPv6 /64 (a
 * host can pick any address of its /64). The table is bounded ({@code maxSources}): when full,
 * sources with no failure left in the window go first, then the least recently seen.
 * Thread-safe.
 */
public final class ChapFailureLimiter {

    /** Sources remembered at most. */
    public static final int DEFAULT_MAX_SOURCES = 4096;

    private final int limit;
    private final long windowNanos;
    private final int maxSources;
    /** Access order: the eldest entry is the source seen least recently. */
    private final LinkedHashMap<Object, Deque<Long>> failures = new LinkedHashMap<>(64, 0.75f, true);

    public ChapFailureLimiter(int limit, Duration window) {
        this(limit, window, DEFAULT_MAX_SOURCES);
    }

    public ChapFailureLimiter(int limit, Duration window, int maxSources) {
        this.limit = limit;
        this.windowNanos = window.toNanos();
        this.maxSources = Math.max(1, maxSources);
    }

    /** The key of a source: the IPv4 address, the /64 of an IPv6 address, or "unknown" for null. */
    static Object key(InetAddress source) {
        if (source == null) {
            return "unknown";
        }
        if (source instanceof Inet6Address) {
            return Arrays.toString(Arrays.copyOf(source.getAddress(), 8)) + "/64";
        }
        return source;
    }

    /** True if this source has failed too often recently. */
    public synchronized boolean blocked(InetAddress source, long nowNanos) {
        if (limit <= 0) {
            return false;
        }
        Deque<Long> d = failures.get(key(source));
        if (d == null) {
            return false;
        }
        prune(d, nowNanos);
        return d.size() >= limit;
    }

    /** Records one failure; returns the number of failures from this source within the window. */
    public synchronized int failed(InetAddress source, long nowNanos) {
        Object k = key(source);
        Deque<Long> d = failures.get(k);
        if (d == null) {
            makeRoom(nowNanos);
            d = new ArrayDeque<>();
            failures.put(k, d);
        }
        prune(d, nowNanos);
        d.addLast(nowNanos);
        return d.size();
    }

    /** How many sources are remembered now. */
    public synchronized int sources() {
        return failures.size();
    }

    private void makeRoom(long now) {
        if (failures.size() < maxSources) {
            return;
        }
        for (Iterator<Deque<Long>> it = failures.values().iterator(); it.hasNext(); ) {
            Deque<Long> d = it.next();
            prune(d, now);
            if (d.isEmpty()) {
                it.remove();
            }
        }
        Iterator<Map.Entry<Object, Deque<Long>>> eldest = failures.entrySet().iterator();
        while (failures.size() >= maxSources && eldest.hasNext()) {
            eldest.next();
            eldest.remove();
        }
    }

    private void prune(Deque<Long> d, long now) {
        while (!d.isEmpty() && now - d.peekFirst() > windowNanos) {
            d.removeFirst();
        }
        while (d.size() > Math.max(limit, 1) * 4) {
            d.removeFirst();
        }
    }
}
