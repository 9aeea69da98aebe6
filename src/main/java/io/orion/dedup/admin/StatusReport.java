package io.orion.dedup.admin;

import java.util.List;

/**
 * What {@code status} shows.
 *
 * @param version server version
 * @param uptimeSeconds seconds since start
 * @param portals listening portals ({@code host:port})
 * @param dataDir data directory
 * @param targets number of targets
 * @param luns number of LUNs over all targets
 * @param sessions logged-in sessions
 * @param metrics the metrics endpoint ({@code host:port}), or null when disabled
 * @param durableCommits {@code [pool] durable_commits} in effect: every metadata commit is durable
 *     against power loss; false: writes become durable at flushes (SYNCHRONIZE CACHE, FUA, WCE=0)
 * @param pool {@code "read-write"}, {@code "read-only"} (metadata or a device could not be
 *     trusted: every write fails with DATA PROTECT, reads go on) or {@code "not open"} (no dedup
 *     volume yet)
 * @param poolReadOnlyReason why the pool is read-only, else null
 */
public record StatusReport(String version, long uptimeSeconds, List<String> portals, String dataDir, int targets,
        int luns, List<SessionInfo> sessions, String metrics, boolean durableCommits, String pool,
        String poolReadOnlyReason) {

    public static final String POOL_READ_WRITE = "read-write";
    public static final String POOL_READ_ONLY = "read-only";
    public static final String POOL_NOT_OPEN = "not open";

    public StatusReport {
        portals = List.copyOf(portals);
        sessions = List.copyOf(sessions);
    }

    /** True when the pool refuses writes. */
    @com.fasterxml.jackson.annotation.JsonProperty("poolReadOnly")
    public boolean poolReadOnly() {
        return POOL_READ_ONLY.equals(pool);
    }
}
