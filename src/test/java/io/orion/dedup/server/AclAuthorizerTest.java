package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetDefinition;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which portals reach a target: its own, when it has any; otherwise every portal of the server. */
class AclAuthorizerTest {

    private static final TargetDefinition BARE = TargetDefinition.create("iqn.2026-11.io.orion:t", null, true);

    private static TargetDefinition withPortals(HostPort... portals) {
        return BARE.withPortalGroup(1, g -> new PortalGroup(1, List.of(portals)));
    }

    @Test
    void aTargetWithoutPortalsIsReachedThroughAnyOfTheServers() {
        assertTrue(new AclAuthorizer(BARE).reachableThrough(new InetSocketAddress("127.0.0.9", 4000)));
    }

    @Test
    void aTargetWithPortalsIsReachedOnlyThroughThem() {
        AclAuthorizer a = new AclAuthorizer(withPortals(new HostPort("127.0.0.2", 3262),
                new HostPort("0.0.0.0", 3263), new HostPort("::1", 3264)));
        assertTrue(a.reachableThrough(new InetSocketAddress("127.0.0.2", 3262)));
        assertFalse(a.reachableThrough(new InetSocketAddress("127.0.0.1", 3262)), "another address");
        assertFalse(a.reachableThrough(new InetSocketAddress("127.0.0.2", 3260)), "another port");
        assertTrue(a.reachableThrough(new InetSocketAddress("127.0.0.7", 3263)), "the wildcard portal's port");
        assertTrue(a.reachableThrough(new InetSocketAddress("::1", 3264)), "IPv6 literal");
        assertFalse(a.reachableThrough(new InetSocketAddress("127.0.0.1", 3264)));
    }

    @Test
    void anEmptyPortalGroupMeansTheServersPortalsServeTheTargetToo() {
        TargetDefinition both = withPortals(new HostPort("127.0.0.2", 3262))
                .withPortalGroup(2, g -> new PortalGroup(2, List.of()));
        assertTrue(new AclAuthorizer(both).reachableThrough(new InetSocketAddress("127.0.0.1", 3260)));
    }
}
