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
 * @param poolReadOnly why the pool refuses writes (damaged metadata, ...), or null while it accepts them
 */
public record StatusReport(String version, long uptimeSeconds, List<String> portals, String dataDir, int targets,
        int luns, List<SessionInfo> sessions, String metrics, boolean durableCommits,
        String poolReadOnly) {

    public StatusReport {
        portals = List.copyOf(portals);
        sessions = List.copyOf(sessions);
    }
}
