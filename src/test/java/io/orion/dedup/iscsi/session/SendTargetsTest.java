package io.orion.dedup.iscsi.session;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.iscsi.LoginAuthorizer;
import io.orion.dedup.iscsi.TargetCatalog;
import io.orion.dedup.scsi.ScsiTargetService;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** SendTargets lists every portal of every portal group, each with its own group's tag. */
class SendTargetsTest {

    static final String IQN = "iqn.2026-11.io.orion:mp";
    final ScsiTargetService scsi = new ScsiTargetService(IQN, null);

    @AfterEach
    void close() {
        scsi.close();
    }

    List<String> addresses(IscsiTargetInfo t, InetSocketAddress local) {
        return SendTargets.answer("All", TargetCatalog.of(List.of(t)), "iqn.2026-11.test:h", null, local).stream()
                .filter(e -> e.getKey().equals("TargetAddress")).map(Map.Entry::getValue).toList();
    }

    @Test
    void eachPortalWithItsOwnGroupsTag() {
        IscsiTargetInfo t = new IscsiTargetInfo(IQN, null, scsi, LoginAuthorizer.OPEN, 0, List.of(
                new IscsiTargetInfo.PortalGroup(1, List.of("192.0.2.1:3260")),
                new IscsiTargetInfo.PortalGroup(2, List.of("192.0.2.2:3260", "[2001:db8::2]:3260"))));
        for (InetSocketAddress local : List.of(new InetSocketAddress("192.0.2.1", 3260),
                new InetSocketAddress("192.0.2.2", 3260))) {
            assertEquals(List.of("192.0.2.1:3260,1", "192.0.2.2:3260,2", "[2001:db8::2]:3260,2"), addresses(t, local),
                    "discovery through " + local);
        }
    }

    /** A wildcard portal is advertised with the address the initiator used: 0.0.0.0 is no address to dial. */
    @Test
    void aWildcardPortalIsAdvertisedAtTheAddressTheInitiatorUsed() {
        IscsiTargetInfo t = new IscsiTargetInfo(IQN, null, scsi, LoginAuthorizer.OPEN, 0, List.of(
                new IscsiTargetInfo.PortalGroup(1, List.of("0.0.0.0:3260")),
                new IscsiTargetInfo.PortalGroup(2, List.of("0.0.0.0:3261", "[::]:3262"))));
        assertEquals(List.of("192.0.2.7:3260,1", "192.0.2.7:3261,2", "192.0.2.7:3262,2"),
                addresses(t, new InetSocketAddress("192.0.2.7", 3261)));
    }

    @Test
    void aGroupOnTheServersPortalsIsTheAddressUsedUnlessAnotherGroupOwnsIt() {
        IscsiTargetInfo t = new IscsiTargetInfo(IQN, null, scsi, LoginAuthorizer.OPEN, 0, List.of(
                new IscsiTargetInfo.PortalGroup(1, List.of()),
                new IscsiTargetInfo.PortalGroup(2, List.of("127.0.0.1:3261"))));
        assertEquals(List.of("127.0.0.1:3260,1", "127.0.0.1:3261,2"),
                addresses(t, new InetSocketAddress("127.0.0.1", 3260)));
        assertEquals(List.of("127.0.0.1:3261,2"), addresses(t, new InetSocketAddress("127.0.0.1", 3261)),
                "the portal of group 2 is not also a portal of group 1");
        IscsiTargetInfo one = new IscsiTargetInfo(IQN, null, 1, List.of(), scsi, LoginAuthorizer.OPEN);
        assertEquals(List.of("127.0.0.1:3260,1"), addresses(one, new InetSocketAddress("127.0.0.1", 3260)));
    }
}
