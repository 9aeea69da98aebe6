package io.orion.dedup.server;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.iscsi.LoginAuthorizer;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;

/**
 * A target definition's access rules as the iSCSI login sees them (RFC 7143 §12, the LIO model):
 * with demo mode on, every initiator may log in (generated ACL); otherwise only initiators listed in
 * an ACL. CHAP comes from the initiator's ACL entry, else from the target-wide credentials when
 * authentication is required. A target with portals of its own is reached only through them.
 */
record AclAuthorizer(TargetDefinition target) implements LoginAuthorizer {

    private Optional<AclDefinition> acl(String initiatorName) {
        return target.acls().stream().filter(a -> a.initiator().equalsIgnoreCase(initiatorName)).findFirst();
    }

    @Override
    public boolean mayLogin(String initiatorName) {
        return target.attributes().demoMode() || acl(initiatorName).isPresent();
    }

    @Override
    public boolean visibleInDiscovery(String initiatorName) {
        return mayLogin(initiatorName);
    }

    @Override
    public Optional<io.orion.dedup.iscsi.ChapCredentials> chap(String initiatorName) {
        ChapCredentials c = acl(initiatorName).map(AclDefinition::chap).orElse(null);
        if (c == null && target.attributes().authentication()) {
            c = target.chap();
        }
        return Optional.ofNullable(c).map(AclAuthorizer::toIscsi);
    }

    /**
     * A target whose portal groups all list portals of their own is reached only through them
     * (LIO: through its TPGs' network portals); a wildcard host (0.0.0.0, ::) stands for every
     * address on its port. A target with an empty portal group (the server's portals) or none is
     * reached through every portal of the server.
     */
    @Override
    public boolean reachableThrough(InetSocketAddress local) {
        List<PortalGroup> groups = target.portalGroups();
        if (groups.isEmpty() || groups.stream().anyMatch(g -> g.portals().isEmpty()) || local == null
                || local.getAddress() == null) {
            return true;
        }
        for (PortalGroup g : groups) {
            for (HostPort p : g.portals()) {
                InetSocketAddress portal = p.toSocketAddress();
                // a portal whose name does not resolve cannot be the one the login came through
                if (!portal.isUnresolved() && OrionServer.covers(portal, local)) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Whether {@code initiator}, in a session logged in to target {@code session}, may name LUN
     * {@code lun} of this target in a third-party copy: what this target's ACLs would let it do after
     * a login (demo mode: any LUN; an ACL: its mapped LUNs, read-only when write-protected; neither:
     * nothing). The initiator name was authenticated only by the target {@code session} logged in
     * to, so for another target this holds only when a login to it would ask that initiator for no
     * CHAP at all (authentication off and no CHAP in its ACL): otherwise anyone able to log in to an
     * open target under a victim's name could read and write this target's LUNs without its CHAP.
     */
    boolean mayCopy(String initiator, String session, long lun, boolean write) {
        if (!target.iqn().equalsIgnoreCase(session) && chap(initiator).isPresent()) {
            return false;
        }
        Optional<AclDefinition> acl = target.acl(initiator);
        if (acl.isEmpty()) {
            return target.attributes().demoMode();
        }
        return lun <= Integer.MAX_VALUE && acl.get().maps((int) lun) && !(write && acl.get().writeProtect());
    }

    static io.orion.dedup.iscsi.ChapCredentials toIscsi(ChapCredentials c) {
        return new io.orion.dedup.iscsi.ChapCredentials(c.user(), c.secret(), c.mutualUser(), c.mutualSecret());
    }
}
