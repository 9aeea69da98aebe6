package io.orion.dedup.config;

import java.util.List;

/**
 * A target portal group (RFC 7143 §3.4.1): the portals through which a target is reached, under
 * one portal group tag that SendTargets reports with each TargetAddress.
 *
 * @param tag portal group tag, 1..65535
 * @param portals listen addresses; empty means the server's {@code [server] portals}
 */
public record PortalGroup(int tag, List<HostPort> portals) {

    public PortalGroup {
        portals = List.copyOf(portals);
    }

    /** Portal group 1 on the server's default portals. */
    public static PortalGroup serverDefault() {
        return new PortalGroup(1, List.of());
    }
}
