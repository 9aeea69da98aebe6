package io.orion.dedup.iscsi;

import io.orion.dedup.scsi.ScsiTarget;
import java.util.List;
import java.util.Objects;

/**
 * One iSCSI target node as the transport sees it (RFC 7143 §4.2.7).
 *
 * @param name the target's iSCSI name (iqn./eui./naa.)
 * @param alias TargetAlias (§13.6), null for none
 * @param portalGroupTag TargetPortalGroupTag (§13.9), 1..65535
 * @param portals "host:port" addresses advertised in TargetAddress (§13.8); empty means "the address
 *     the initiator connected to"
 * @param scsi the command layer that executes this target's SCSI commands
 * @param authorizer ACLs and CHAP for this target
 * @param queueDepth commands each new session of this target may have outstanding — the CmdSN
 *     window MaxCmdSN - ExpCmdSN + 1 (RFC 7143 §3.2.2.1) — or 0 for the server's
 *     {@link IscsiServerOptions#queueDepth()}
 */
public record IscsiTargetInfo(String name, String alias, int portalGroupTag, List<String> portals, ScsiTarget scsi,
                              LoginAuthorizer authorizer, int queueDepth) {

    /** A target that uses the server's queue depth. */
    public IscsiTargetInfo(String name, String alias, int portalGroupTag, List<String> portals, ScsiTarget scsi,
                           LoginAuthorizer authorizer) {
        this(name, alias, portalGroupTag, portals, scsi, authorizer, 0);
    }

    public IscsiTargetInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(scsi, "scsi");
        portals = List.copyOf(portals == null ? List.of() : portals);
        authorizer = authorizer == null ? LoginAuthorizer.OPEN : authorizer;
        if (portalGroupTag < 1 || portalGroupTag > 65535) {
            throw new IllegalArgumentException("portalGroupTag must be 1..65535: " + portalGroupTag);
        }
        if (queueDepth < 0 || queueDepth > 1 << 20) {
            throw new IllegalArgumentException("queueDepth must be 0..1048576: " + queueDepth);
        }
    }

    /** The CmdSN window of a new session: this target's depth, or {@code serverDefault} when 0. */
    public int queueDepth(int serverDefault) {
        return queueDepth == 0 ? serverDefault : queueDepth;
    }
}
