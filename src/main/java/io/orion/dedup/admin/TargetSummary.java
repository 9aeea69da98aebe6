package io.orion.dedup.admin;

import java.util.List;

/**
 * One line of {@code target list}.
 *
 * @param iqn target name
 * @param alias TargetAlias or null
 * @param luns number of LUNs
 * @param acls number of node ACLs
 * @param sessions logged-in sessions
 * @param demoMode generated ACLs (open access)
 * @param authentication CHAP required
 * @param portals {@code tag:host:port} of every portal the target is reachable on
 */
public record TargetSummary(String iqn, String alias, int luns, int acls, int sessions, boolean demoMode,
        boolean authentication, List<String> portals) {

    public TargetSummary {
        portals = List.copyOf(portals);
    }
}
