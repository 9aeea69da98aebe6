package io.orion.dedup.admin;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit trail of the control socket: one line on logger {@code io.orion.dedup.audit} for every
 * request that may change the server (everything but the listings, {@code status}, {@code stats} and
 * the {@code *-info}/{@code *-stats} reports), saying who (the peer's uid and user name from the
 * kernel, {@code SO_PEERCRED}), what (the method and the names it acts on: target, LUN, initiator,
 * portal, volume...) and the result ({@code ok}, or {@code refused}/{@code failed} with the reason):
 *
 * <pre>audit: uid=0(root) chap.set iqn=iqn.2026-11.io.orion:db scope=acl initiator=iqn.1994-05.com.redhat:h1 result=ok</pre>
 *
 * <p>Never a secret or a CHAP user name: only the whitelisted parameters below are written, and
 * every text found under a {@code chap} object is masked in the reason too.
 */
final class ControlAudit {

    static final Logger AUDIT = LoggerFactory.getLogger("io.orion.dedup.audit");

    /** Requests that only read. */
    private static final Set<String> READ_ONLY = Set.of(AdminProtocol.TARGET_LIST, AdminProtocol.TARGET_SHOW,
            AdminProtocol.LUN_LIST, AdminProtocol.VOLUME_LIST, AdminProtocol.ACL_LIST, AdminProtocol.STATUS,
            AdminProtocol.STATS, AdminProtocol.JOB_LIST, AdminProtocol.JOB_SHOW, AdminProtocol.JOB_SUMMARY,
            AdminProtocol.STATS_HISTOGRAM);

    /** Parameters that name what a request acts on, in the order written; none is ever a secret. */
    private static final List<String> NAMES = List.of("iqn", "lun", "toIqn", "toLun", "name", "snapshot", "initiator",
            "scope", "tag", "portal", "sizeBytes", "force", "destroy", "attach", "kind", "id");

    private ControlAudit() {}

    /** Whether {@code method} is audited. */
    static boolean audited(String method) {
        if (READ_ONLY.contains(method)) {
            return false;
        }
        for (ManagementCommand m : ManagementCommand.values()) {
            if (m.method().equals(method)) {
                return !(m.method().endsWith("-info") || m.method().endsWith("-stats"));
            }
        }
        return true; // changes, and unknown methods (whoever tries them is worth knowing)
    }

    /** Logs one audit line. {@code error} is null on success; {@code refused} tells a refusal from a failure. */
    static void log(Peer who, String method, JsonNode params, String error, boolean refused) {
        if (!audited(method)) {
            return;
        }
        StringBuilder b = new StringBuilder("audit: ").append(who).append(' ').append(method.isEmpty() ? "(none)" : method);
        if (params != null && params.isObject()) {
            for (String k : NAMES) {
                JsonNode v = nameOf(params, k);
                if (v != null && !v.isNull() && (v.isValueNode())) {
                    b.append(' ').append(k).append('=').append(v.asText());
                } else if (v != null && v.isObject() && v.has("host")) {
                    b.append(' ').append(k).append('=').append(v.path("host").asText()).append(':')
                            .append(v.path("port").asText());
                }
            }
        }
        if (error == null) {
            b.append(" result=ok");
        } else {
            b.append(" result=").append(refused ? "refused" : "failed").append(": ").append(mask(error, params));
        }
        AUDIT.info(b.toString().replace('\n', ' ').replace('\r', ' '));
    }

    /** A top-level parameter, or the same name inside {@code lun} / {@code acl} ({@code lun.id} is the LUN). */
    private static JsonNode nameOf(JsonNode p, String k) {
        if (k.equals("lun") && p.path("lun").isObject()) {
            return p.path("lun").get("id");
        }
        if (k.equals("initiator") && p.path("acl").isObject()) {
            return p.path("acl").get("initiator");
        }
        JsonNode v = p.get(k);
        return v != null && v.isBoolean() && !v.booleanValue() ? null : v; // flags only when set
    }

    /** {@code message} with every text under a {@code chap}/{@code mutualChap} object (user names, secrets) masked. */
    static String mask(String message, JsonNode params) {
        List<String> hide = new ArrayList<>();
        collectChap(params, false, hide);
        String m = message == null ? "" : message;
        for (String s : hide) {
            if (!s.isEmpty()) {
                m = m.replace(s, "****");
            }
        }
        return m;
    }

    private static void collectChap(JsonNode n, boolean inChap, List<String> out) {
        if (n == null) {
            return;
        }
        if (n.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String k = e.getKey().toLowerCase(java.util.Locale.ROOT);
                collectChap(e.getValue(), inChap || k.contains("chap") || k.contains("secret") || k.contains("user")
                        || k.contains("password"), out);
            }
        } else if (n.isArray()) {
            n.forEach(x -> collectChap(x, inChap, out));
        } else if (inChap && n.isValueNode()) {
            out.add(n.asText());
        }
    }

    /**
     * The process at the other end of a control connection, as the kernel reports it
     * ({@code SO_PEERCRED}): printed {@code uid=1000(alice)} like id(1).
     */
    record Peer(long uid, String user) {

        static final Peer UNKNOWN = new Peer(-1, "?");

        /** The peer of a connected Unix domain socket. */
        static Peer of(SocketChannel c) {
            try {
                jdk.net.UnixDomainPrincipal p = c.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED);
                String name = p.user().getName();
                return new Peer(uidOf(name), name);
            } catch (IOException | RuntimeException e) {
                return UNKNOWN;
            }
        }

        /** The uid of a user name (the JDK gives the name; a uid without a name comes as digits). */
        static long uidOf(String name) {
            if (name.chars().allMatch(Character::isDigit) && !name.isEmpty()) {
                return Long.parseLong(name);
            }
            try {
                for (String line : Files.readAllLines(Path.of("/etc/passwd"))) {
                    String[] f = line.split(":", -1);
                    if (f.length > 2 && f[0].equals(name)) {
                        return Long.parseLong(f[2]);
                    }
                }
            } catch (IOException | RuntimeException e) {
                // below
            }
            return -1;
        }

        @Override
        public String toString() {
            return "uid=" + (uid < 0 ? "?" : Long.toString(uid)) + "(" + user + ")";
        }
    }
}
