package io.orion.dedup.server;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.scsi.NexusAccess;
import io.orion.dedup.scsi.ScsiTargetService;
import io.orion.dedup.storage.BlockDevice;
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
     * The iSCSI view; portals empty = "the address the initiator connected to"; queue depth 0 =
     * the server's (a changed depth applies to sessions that log in afterwards).
     */
    IscsiTargetInfo iscsiInfo() {
        TargetDefinition d = definition;
        int tag = d.portalGroups().isEmpty() ? 1 : d.portalGroups().get(0).tag();
        List<String> portals = d.portalGroups().isEmpty() ? List.of()
                : d.portalGroups().get(0).portals().stream().map(p -> p.host() + ":" + p.port()).toList();
        return new IscsiTargetInfo(d.iqn(), d.alias(), tag, portals, scsi, new AclAuthorizer(d),
                d.attributes().queueDepth());
    }
}
