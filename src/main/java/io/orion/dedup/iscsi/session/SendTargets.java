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
                    out.add(Map.entry("TargetAddress", p + "," + g.tag()));
                }
            }
        }
        return out;
    }

    static String format(InetSocketAddress a) {
        String host = a.getAddress() instanceof Inet6Address ? "[" + a.getAddress().getHostAddress() + "]"
                : a.getAddress().getHostAddress();
        return host + ":" + a.getPort();
    }
}
