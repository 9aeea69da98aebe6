package io.orion.dedup.iscsi;

import java.util.List;
import java.util.Set;

/**
 * A snapshot of one logged-in session (RFC 7143 §4.4).
 *
 * @param initiatorName InitiatorName
 * @param isid the 48-bit ISID
 * @param tsih the target-assigned session handle
 * @param targetName the target, or null for a discovery session
 * @param discovery true for SessionType=Discovery
 * @param connections remote addresses of the session's connections ("host:port")
 * @param lunsInUse LUNs that received at least one command in this session
 */
public record SessionInfo(String initiatorName, long isid, int tsih, String targetName, boolean discovery,
                          List<String> connections, Set<Long> lunsInUse) {

    public SessionInfo {
        connections = List.copyOf(connections);
        lunsInUse = Set.copyOf(lunsInUse);
    }
}
