package io.orion.dedup.server;

import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.scsi.ScsiTargetService;
import io.orion.dedup.storage.BlockDevice;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One target as it runs: its current definition, its SCSI command layer with the opened LUN
 * devices, and the iSCSI view (name, portal group, authorizer, and the command layer as each
 * initiator's ACL lets it see it) the login and discovery consult.
 * The definition is replaced as a whole when an admin changes it; the devices stay open.
 */
final class LiveTarget {

    private volatile TargetDefinition definition;
    private final ScsiTargetService scsi;
    private final AclScsiTarget aclView;
    private final Map<Integer, BlockDevice> devices = new ConcurrentHashMap<>();

    LiveTarget(TargetDefinition definition, ScsiTargetService scsi) {
        this.definition = definition;
        this.scsi = scsi;
        this.aclView = new AclScsiTarget(scsi, this::definition);
        scsi.lunVisibility(aclView::sees);
        scsi.targetPortGroups(this::portGroupTags);
    }

    TargetDefinition definition() {
        return definition;
    }

    void definition(TargetDefinition d) {
        this.definition = d;
    }

    ScsiTargetService scsi() {
        return scsi;
    }

    /** The command layer as initiators reach it (with in-flight accounting per LUN). */
    AclScsiTarget view() {
        return aclView;
    }

    Map<Integer, BlockDevice> devices() {
        return devices;
    }

    /**
     * The iSCSI view; portals empty = "the address the initiator connected to"; queue depth 0 =
     * the server's (a changed depth applies to sessions that log in afterwards).
     */
    IscsiTargetInfo iscsiInfo() {
        TargetDefinition d = definition;
        return new IscsiTargetInfo(d.iqn(), d.alias(), aclView, new AclAuthorizer(d), d.attributes().queueDepth(),
                groups(d));
    }

    /** The target's portal groups as the iSCSI layer lists them (group 1 on the server's portals if none). */
    static List<IscsiTargetInfo.PortalGroup> groups(TargetDefinition d) {
        if (d.portalGroups().isEmpty()) {
            return List.of(new IscsiTargetInfo.PortalGroup(1, List.of()));
        }
        return d.portalGroups().stream().map(g -> new IscsiTargetInfo.PortalGroup(g.tag(),
                g.portals().stream().map(LiveTarget::portal).toList())).toList();
    }

    private static String portal(HostPort p) {
        return p.host().contains(":") && !p.host().startsWith("[") ? "[" + p.host() + "]:" + p.port()
                : p.host() + ":" + p.port();
    }

    /** The tags of the target's portal groups: its SCSI target port groups (REPORT TARGET PORT GROUPS). */
    int[] portGroupTags() {
        return groups(definition).stream().mapToInt(IscsiTargetInfo.PortalGroup::tag).toArray();
    }
}
