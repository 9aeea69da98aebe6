package io.orion.dedup.iscsi.session;

import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.iscsi.TargetCatalog;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Answers SendTargets (RFC 7143 §13.3 SendTargets, §13.8 TargetAddress): "All" lists every
 * target the initiator may see, an iSCSI name lists that target, an empty value lists the
 * session's own target. Each target is followed by its TargetAddress=host:port,tpgt entries: every
 * portal of every portal group, each with its own group's tag.
 */
final class SendTargets {

    /** iqn., eui. and naa. name formats (RFC 7143 §4.2.7.1). */
    private static final Pattern ISCSI_NAME = Pattern.compile(
            "(?i)(iqn\\.\\d{4}-\\d{2}(\\.[^\\s,]*)?|eui\\.[0-9a-f]{16}|naa\\.([0-9a-f]{16}|[0-9a-f]{32}))");

    private SendTargets() {
    }

    /**
     * The answer pairs, or null when the value is malformed (the caller answers SendTargets=Reject).
     */
    static List<Map.Entry<String, String>> answer(String value, TargetCatalog catalog, String initiatorName,
                                                  IscsiTargetInfo current, InetSocketAddress local) {
        List<IscsiTargetInfo> chosen = new ArrayList<>();
        if ("All".equals(value)) {
            for (IscsiTargetInfo t : catalog.targets()) {
                if (t.authorizer().visibleInDiscovery(initiatorName)) {
                    chosen.add(t);
                }
            }
        } else if (value == null || value.isEmpty()) {
            if (current == null) {
                return null;
            }
            chosen.add(current);
        } else if (ISCSI_NAME.matcher(value).matches()) {
            catalog.find(value).filter(t -> t.authorizer().visibleInDiscovery(initiatorName)).ifPresent(chosen::add);
        } else {
            return null;
        }
        List<Map.Entry<String, String>> out = new ArrayList<>();
        for (IscsiTargetInfo t : chosen) {
            out.add(Map.entry("TargetName", t.name()));
            IscsiTargetInfo.PortalGroup here = t.groupAt(local);
            for (IscsiTargetInfo.PortalGroup g : t.groups()) {
                // a group on the server's portals is reached at the address the initiator used,
                // unless another group's own portal takes that address
                List<String> portals = !g.portals().isEmpty() ? g.portals()
                        : g == here ? List.of(format(local)) : List.of();
                for (String p : portals) {
                    out.add(Map.entry("TargetAddress", advertised(p, local) + "," + g.tag()));
                }
            }
        }
        return out;
    }

    /**
     * A portal as an initiator can reach it: a wildcard host (0.0.0.0, [::]) is no address to connect
     * to, so it is given as the address the initiator used with the portal's port, as LIO does.
     */
    static String advertised(String portal, InetSocketAddress local) {
        int colon = portal.lastIndexOf(':');
        String host = colon < 0 ? portal : portal.substring(0, colon);
        boolean wildcard = host.equals("0.0.0.0") || host.equals("[::]") || host.equals("::")
                || host.equals("[0:0:0:0:0:0:0:0]");
        if (!wildcard || local == null || local.getAddress() == null) {
            return portal;
        }
        try {
            return format(new InetSocketAddress(local.getAddress(), Integer.parseInt(portal.substring(colon + 1))));
        } catch (NumberFormatException e) {
            return portal;
        }
    }

    static String format(InetSocketAddress a) {
        String host = a.getAddress() instanceof Inet6Address ? "[" + a.getAddress().getHostAddress() + "]"
                : a.getAddress().getHostAddress();
        return host + ":" + a.getPort();
    }
}
