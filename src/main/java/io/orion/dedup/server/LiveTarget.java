package io.orion.dedup.server;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.scsi.NexusAccess;
import io.orion.dedup.scsi.ScsiTargetService;
import io.orion.dedup.blockdev.BlockDevice;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One target as it runs: its current definition, its SCSI command layer with the opened LUN
 * devices, and the iSCSI view (name, portal group, authorizer, command layer) the login and
 * discovery consult. The definition is replaced as a whole when an admin changes it; the devices
 * stay open. Each definition fills the command layer's per-nexus access table from its ACLs (mapped
 * LUNs, write protection): the masking itself is the SCSI core's ({@link NexusAccess}).
 */
final class LiveTarget {

    private volatile TargetDefinition definition;
    private final ScsiTargetService scsi;
    private final Map<Integer, BlockDevice> devices = new ConcurrentHashMap<>();

    LiveTarget(TargetDefinition definition, ScsiTargetService scsi) {
        this.scsi = scsi;
        definition(definition);
        scsi.targetPortGroups(this::portGroupTags);
    }

    TargetDefinition definition() {
        return definition;
    }

    void definition(TargetDefinition d) {
        this.definition = d;
        scsi.access().replace(access(d));
    }

    /** The access table of a definition: each ACL's initiator sees its mapped LUNs, read-only if write-protected. */
    static Map<String, NexusAccess.View> access(TargetDefinition d) {
        Map<String, NexusAccess.View> views = new java.util.HashMap<>();
        for (AclDefinition a : d.acls()) {
            views.put(a.initiator(), NexusAccess.View.of(a.mappedLuns(), a.writeProtect()));
        }
        return views;
    }

    ScsiTargetService scsi() {
        return scsi;
    }

    Map<Integer, BlockDevice> devices() {
        return devices;
    }

    /**
     * The iSCSI view: every portal group, a group without portals of its own listing
     * {@code serverPortals} (the server's listen addresses), so SendTargets through any portal names
     * every path; queue depth 0 = the server's (a changed depth applies to sessions that log in
     * afterwards).
     */
    IscsiTargetInfo iscsiInfo(List<InetSocketAddress> serverPortals) {
        TargetDefinition d = definition;
        return new IscsiTargetInfo(d.iqn(), d.alias(), scsi, new AclAuthorizer(d), d.attributes().queueDepth(),
                groups(d, serverPortals.stream().map(a -> portal(a.getAddress() == null ? a.getHostString()
                        : a.getAddress().getHostAddress(), a.getPort())).toList()));
    }

    /**
     * The target's portal groups as the iSCSI layer lists them (group 1 on the server's portals if
     * none); a group without portals of its own gets {@code serverPortals}.
     */
    static List<IscsiTargetInfo.PortalGroup> groups(TargetDefinition d, List<String> serverPortals) {
        if (d.portalGroups().isEmpty()) {
            return List.of(new IscsiTargetInfo.PortalGroup(1, serverPortals, true));
        }
        return d.portalGroups().stream().map(g -> g.portals().isEmpty()
                ? new IscsiTargetInfo.PortalGroup(g.tag(), serverPortals, true)
                : new IscsiTargetInfo.PortalGroup(g.tag(), g.portals().stream().map(p -> portal(p.host(), p.port()))
                        .toList())).toList();
    }

    private static String portal(String host, int port) {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]:" + port : host + ":" + port;
    }

    /** The tags of the target's portal groups: its SCSI target port groups (REPORT TARGET PORT GROUPS). */
    int[] portGroupTags() {
        return groups(definition, List.of()).stream().mapToInt(IscsiTargetInfo.PortalGroup::tag).toArray();
    }
}
