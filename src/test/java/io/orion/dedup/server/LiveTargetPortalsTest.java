package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.scsi.ScsiTargetService;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A target's portal groups as the iSCSI layer sees them: every group with its own tag, a group
 * without portals of its own on the server's portals, and each group a SCSI target port group.
 * (The iSCSI view listed only the first group: a second group's portal was reported with tag 1 or
 * not at all.)
 */
class LiveTargetPortalsTest {

    static final String IQN = "iqn.2026-11.io.orion:mp";

    @Test
    void everyPortalGroupWithItsTagAndTheServersPortalsForAnEmptyGroup() {
        TargetDefinition d = TargetDefinition.create(IQN, null, true)
                .withPortalGroup(2, g -> new PortalGroup(2, List.of(new HostPort("127.0.0.1", 3261),
                        new HostPort("::1", 3261))));
        try (ScsiTargetService scsi = new ScsiTargetService(IQN, null)) {
            LiveTarget live = new LiveTarget(d, scsi);
            IscsiTargetInfo info = live.iscsiInfo(List.of(new InetSocketAddress("127.0.0.1", 3260)));
            assertEquals(List.of(new IscsiTargetInfo.PortalGroup(1, List.of("127.0.0.1:3260"), true),
                    new IscsiTargetInfo.PortalGroup(2, List.of("127.0.0.1:3261", "[::1]:3261"))), info.groups());
            assertEquals(2, info.through(new InetSocketAddress("127.0.0.1", 3261)).portalGroupTag());
            assertEquals(1, info.through(new InetSocketAddress("127.0.0.1", 3260)).portalGroupTag());
            assertArrayEquals(new int[] {1, 2}, live.portGroupTags());
        }
    }

    /**
     * A login through a portal of the server that no group of this target names (another target's
     * portal; reachable because a group is on the server's portals) belongs to the group on the
     * server's portals, wherever it stands in the list; discovery there lists that address for it.
     */
    @Test
    void aPortalNoGroupNamesBelongsToTheGroupOnTheServersPortals() {
        TargetDefinition d = TargetDefinition.create(IQN, null, true)
                .withPortalGroup(1, g -> new PortalGroup(1, List.of(new HostPort("127.0.0.1", 3261))))
                .withPortalGroup(3, g -> new PortalGroup(3, List.of()));
        try (ScsiTargetService scsi = new ScsiTargetService(IQN, null)) {
            IscsiTargetInfo info = new LiveTarget(d, scsi).iscsiInfo(List.of(new InetSocketAddress("127.0.0.1", 3260)));
            assertEquals(3, info.through(new InetSocketAddress("127.0.0.1", 3999)).portalGroupTag());
            assertEquals(3, info.through(new InetSocketAddress("127.0.0.1", 3260)).portalGroupTag());
            assertEquals(1, info.through(new InetSocketAddress("127.0.0.1", 3261)).portalGroupTag());
        }
    }
}
