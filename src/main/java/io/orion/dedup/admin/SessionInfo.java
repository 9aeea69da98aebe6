package io.orion.dedup.admin;

/**
 * A logged-in iSCSI session (RFC 7143 §3.4): the I_T nexus and its connections.
 *
 * @param initiator initiator name
 * @param target target name ("" for discovery sessions)
 * @param isid initiator session id, 12 hex digits
 * @param tsih target session identifying handle
 * @param connections connections in the session
 * @param remote remote address of the first connection
 * @param chapUser CHAP user name it authenticated as, or null
 */
public record SessionInfo(String initiator, String target, String isid, int tsih, int connections, String remote,
        String chapUser) {}
