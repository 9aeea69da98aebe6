package io.orion.dedup.iscsi;

import io.orion.dedup.scsi.ScsiTarget;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Objects;

/**
 * One iSCSI target node as the transport sees it (RFC 7143 §4.2.7).
 *
 * @param name the target's iSCSI name (iqn./eui./naa.)
 * @param alias TargetAlias (§13.6), null for none
 * @param portalGroupTag TargetPortalGroupTag (§13.9), 1..65535, of the portal group this view is
 *     reached through ({@link #through}); the first of {@code groups} until a path is chosen
 * @param portals "host:port" addresses of that portal group, advertised in TargetAddress (§13.8);
 *     empty means "the address the initiator connected to"
 * @param scsi the command layer that executes this target's SCSI commands
 * @param authorizer ACLs and CHAP for this target
 * @param queueDepth commands each new session of this target may have outstanding — the CmdSN
 *     window MaxCmdSN - ExpCmdSN + 1 (RFC 7143 §3.2.2.1) — or 0 for the server's
 *     {@link IscsiServerOptions#queueDepth()}
 * @param groups every target portal group of the target (RFC 7143 §3.4.1), each its own SCSI
 *     target port; empty means just the one above
 */
public record IscsiTargetInfo(String name, String alias, int portalGroupTag, List<String> portals, ScsiTarget scsi,
                              LoginAuthorizer authorizer, int queueDepth, List<PortalGroup> groups) {

    /**
     * One target portal group: its tag and its "host:port" portals (empty: the server's portals,
     * that is, whatever address the initiator connected to).
     */
    public record PortalGroup(int tag, List<String> portals) {
        public PortalGroup {
            portals = List.copyOf(portals == null ? List.of() : portals);
            if (tag < 1 || tag > 65535) {
                throw new IllegalArgumentException("portal group tag must be 1..65535: " + tag);
            }
        }
    }

    /** A target with one portal group. */
    public IscsiTargetInfo(String name, String alias, int portalGroupTag, List<String> portals, ScsiTarget scsi,
                           LoginAuthorizer authorizer, int queueDepth) {
        this(name, alias, portalGroupTag, portals, scsi, authorizer, queueDepth, List.of());
    }

    /** A target that uses the server's queue depth. */
    public IscsiTargetInfo(String name, String alias, int portalGroupTag, List<String> portals, ScsiTarget scsi,
                           LoginAuthorizer authorizer) {
        this(name, alias, portalGroupTag, portals, scsi, authorizer, 0, List.of());
    }

    /** A target with several portal groups, seen through the first until {@link #through} picks one. */
    public IscsiTargetInfo(String name, String alias, ScsiTarget scsi, LoginAuthorizer authorizer, int queueDepth,
                           List<PortalGroup> groups) {
        this(name, alias, groups.get(0).tag(), groups.get(0).portals(), scsi, authorizer, queueDepth, groups);
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
        groups = groups == null || groups.isEmpty() ? List.of(new PortalGroup(portalGroupTag, portals))
                : List.copyOf(groups);
    }

    /**
     * The portal group a connection that arrived at local address {@code local} belongs to: the
     * group one of whose portals takes that address (a wildcard host takes every address on its
     * port), else the first group on the server's portals (no portals of its own), else the first
     * group. Null {@code local}: the first group.
     */
    public PortalGroup groupAt(InetSocketAddress local) {
        if (local != null) {
            for (PortalGroup g : groups) {
                for (String p : g.portals()) {
                    if (takes(p, local)) {
                        return g;
                    }
                }
            }
        }
        return groups.stream().filter(g -> g.portals().isEmpty()).findFirst().orElse(groups.get(0));
    }

    /**
     * This target as seen through the portal group of local address {@code local} ({@link
     * #groupAt}): its tag is the TargetPortalGroupTag of the login and the SCSI target port of the
     * session. Null {@code local}: unchanged.
     */
    public IscsiTargetInfo through(InetSocketAddress local) {
        if (local == null) {
            return this;
        }
        PortalGroup g = groupAt(local);
        return new IscsiTargetInfo(name, alias, g.tag(), g.portals(), scsi, authorizer, queueDepth, groups);
    }

    /** True if portal "host:port" ("[v6]:port"; 0.0.0.0 or :: for every address) takes {@code local}. */
    static boolean takes(String portal, InetSocketAddress local) {
        int colon = portal.lastIndexOf(':');
        if (colon < 0 || local.getAddress() == null) {
            return false;
        }
        int port;
        try {
            port = Integer.parseInt(portal.substring(colon + 1));
        } catch (NumberFormatException e) {
            return false;
        }
        if (port != local.getPort()) {
            return false;
        }
        String host = portal.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            InetAddress a = InetAddress.getByName(host);
            return a.isAnyLocalAddress() || a.equals(local.getAddress());
        } catch (UnknownHostException e) {
            return false; // a portal whose name does not resolve cannot be the one the login came through
        }
    }

    /** The CmdSN window of a new session: this target's depth, or {@code serverDefault} when 0. */
    public int queueDepth(int serverDefault) {
        return queueDepth == 0 ? serverDefault : queueDepth;
    }
}
