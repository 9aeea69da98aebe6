package io.orion.dedup.admin;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code stats} shows: a df-like line per volume and for the pool, plus (with
 * {@code --verbose}) every engine counter by name.
 *
 * @param volumes one entry per volume
 * @param pool the pool
 * @param counters named engine counters (empty unless verbose), values numbers or strings
 * @param poolReadOnlyReason why the pool refuses writes (read-only), or null while it accepts them
 */
public record StatsReport(List<VolumeStats> volumes, PoolStats pool, Map<String, Object> counters,
        String poolReadOnlyReason) {

    public StatsReport {
        volumes = List.copyOf(volumes);
        counters = counters == null ? Map.of() : new LinkedHashMap<>(counters);
    }

    static double percent(long part, long whole) {
        return whole <= 0 ? 0 : 100.0 * part / whole;
    }

    /** {@code a / b}, or null when either is unknown (negative) or {@code b} is 0. */
    static Double ratio(long a, long b) {
        return a < 0 || b <= 0 ? null : (double) a / b;
    }
}
