package io.orion.dedup.iscsi.session;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.Map;

/**
 * Counts connections that have not finished login, in all and per source address, so that
 * unauthenticated clients cannot hold an unbounded number of connections (each one also has a
 * login timeout). The per-source table only holds sources with a connection in login, so it is
 * bounded by the total. Thread-safe.
 */
final class PendingLogins {

    private final int max;
    private final int maxPerSource;
    private final Map<InetAddress, Integer> bySource = new HashMap<>();
    private int total;

    PendingLogins(int max, int maxPerSource) {
        this.max = max;
        this.maxPerSource = maxPerSource;
    }

    /** Null if a connection from {@code source} may start its login (it is counted), else why not. */
    synchronized String tryAcquire(InetAddress source) {
        if (total >= max) {
            return total + " connections are in login already (limit " + max + ")";
        }
        int n = bySource.getOrDefault(source, 0);
        if (n >= maxPerSource) {
            return n + " connections from this address are in login already (limit " + maxPerSource + ")";
        }
        bySource.put(source, n + 1);
        total++;
        return null;
    }

    /** A connection counted by {@link #tryAcquire} finished its login or closed. */
    synchronized void release(InetAddress source) {
        Integer n = bySource.get(source);
        if (n == null) {
            return;
        }
        if (n <= 1) {
            bySource.remove(source);
        } else {
            bySource.put(source, n - 1);
        }
        total--;
    }

    synchronized int total() {
        return total;
    }
}
