package io.orion.dedup.cli;

import io.orion.dedup.admin.LunInfo;
import io.orion.dedup.admin.PoolStats;
import io.orion.dedup.admin.StatsReport;
import io.orion.dedup.admin.StatusReport;
import io.orion.dedup.admin.TargetSummary;
import io.orion.dedup.admin.VolumeStats;
import io.orion.dedup.admin.VolumeSummary;
import io.orion.dedup.admin.SessionInfo;
import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ByteSize;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetDefinition;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** Human renderings of admin results. Every CHAP credential is masked before it is printed. */
final class Render {

    private Render() {}

    static String percent(double p) {
        return String.format(Locale.ROOT, "%.1f%%", p);
    }

    static void targets(PrintWriter out, List<TargetSummary> targets) {
        Table t = new Table("TARGET", "ALIAS", "LUNS", "ACLS", "SESSIONS", "ACCESS", "AUTH", "PORTALS");
        for (TargetSummary s : targets) {
            t.row(s.iqn(), s.alias(), s.luns(), s.acls(), s.sessions(), s.demoMode() ? "open" : "acl",
                    s.authentication() ? "chap" : "none", String.join(" ", s.portals()));
        }
        t.print(out);
    }

    static void target(PrintWriter out, TargetDefinition raw) {
        TargetDefinition t = raw.masked();
        out.println("Target:          " + t.iqn());
        out.println("Alias:           " + (t.alias() == null ? "-" : t.alias()));
        out.println("Access:          " + (t.attributes().demoMode() ? "open (demo mode: generated ACLs)" : "ACL only"));
        out.println("Authentication:  " + (t.attributes().authentication() ? "CHAP required" : "none"));
        out.println("Queue depth:     " + (t.attributes().queueDepth() == 0 ? "server default" : t.attributes().queueDepth()));
        out.println("Target CHAP:     " + chap(t.chap()));
        out.println("Discovery CHAP:  " + chap(t.discoveryChap()));
        for (PortalGroup g : t.portalGroups()) {
            out.println("Portal group " + g.tag() + ":  " + (g.portals().isEmpty() ? "server portals"
                    : g.portals().stream().map(Object::toString).collect(Collectors.joining(" "))));
        }
        out.println();
        if (t.luns().isEmpty()) {
            out.println("No LUNs.");
        } else {
            Table l = new Table("LUN", "VOLUME", "SIZE", "BLOCK", "DEDUP BLOCK", "BACKING", "THIN", "READ-ONLY");
            for (LunDefinition d : t.luns()) {
                l.row(d.id(), d.volume(), ByteSize.format(d.size()), d.blockSize(),
                        d.dedupBlockSize() == 0 ? "default" : String.valueOf(d.dedupBlockSize()),
                        d.backing().tomlName(), yes(d.thin()), yes(d.readOnly()));
            }
            l.print(out);
        }
        out.println();
        acls(out, t.acls());
        out.flush();
    }

    static String chap(ChapCredentials c) {
        if (c == null) {
            return "-";
        }
        ChapCredentials m = c.masked();
        return "user " + m.user() + " secret " + m.secret()
                + (m.mutual() ? ", mutual user " + m.mutualUser() + " secret " + m.mutualSecret() : "");
    }

    static void acls(PrintWriter out, List<AclDefinition> acls) {
        if (acls.isEmpty()) {
            out.println("No ACLs.");
            out.flush();
            return;
        }
        Table t = new Table("INITIATOR", "MAPPED LUNS", "WRITE-PROTECT", "CHAP USER", "MUTUAL CHAP");
        for (AclDefinition a : acls) {
            ChapCredentials c = a.chap() == null ? null : a.chap().masked();
            t.row(a.initiator(), a.mappedLuns().isEmpty() ? "all" : a.mappedLuns().stream().map(String::valueOf)
                            .collect(Collectors.joining(",")),
                    yes(a.writeProtect()), c == null ? "-" : c.user(), c == null || !c.mutual() ? "-" : c.mutualUser());
        }
        t.print(out);
    }

    static void luns(PrintWriter out, List<LunInfo> luns) {
        if (luns.isEmpty()) {
            out.println("No LUNs.");
            out.flush();
            return;
        }
        Table t = new Table("TARGET", "LUN", "VOLUME", "SIZE", "BLOCK", "DEDUP BLOCK", "BACKING", "THIN", "READ-ONLY",
                "SESSIONS", "ORIGIN");
        for (LunInfo l : luns) {
            t.row(l.target(), l.lun(), l.volume(), ByteSize.format(l.sizeBytes()), l.blockSize(),
                    l.dedupBlockSize() == 0 ? "-" : String.valueOf(l.dedupBlockSize()), l.backing(), yes(l.thin()),
                    yes(l.readOnly()), l.sessions(), l.originText());
        }
        t.print(out);
    }

    static void volumes(PrintWriter out, List<VolumeSummary> volumes) {
        if (volumes.isEmpty()) {
            out.println("No volumes.");
            out.flush();
            return;
        }
        Table t = new Table("VOLUME", "BACKING", "SIZE", "USED", "STORED", "EXCLUSIVE", "ATTACHED TO", "ORIGIN");
        for (VolumeSummary v : volumes) {
            t.row(v.volume(), v.backing(), ByteSize.format(v.sizeBytes()), bytesOrDash(v.logicalUsedBytes()),
                    bytesOrDash(v.storedBytes()), bytesOrDash(v.exclusiveBytes()),
                    v.attached() ? v.target() + " LUN " + v.lun() : "detached", v.originText());
        }
        t.print(out);
    }

    private static String bytesOrDash(long b) {
        return b < 0 ? "-" : ByteSize.format(b);
    }

    static void status(PrintWriter out, StatusReport s) {
        out.println("Version:   " + s.version());
        out.println("Uptime:    " + uptime(s.uptimeSeconds()));
        out.println("Portals:   " + String.join(" ", s.portals()));
        out.println("Data:      " + s.dataDir());
        out.println("Targets:   " + s.targets() + " (" + s.luns() + " LUNs)");
        out.println("Metrics:   " + (s.metrics() == null ? "disabled" : "http://" + s.metrics() + "/metrics"));
        out.println("Commits:   " + (s.durableCommits() ? "durable at every commit (durable_commits = true)"
                : "durable at flushes (durable_commits = false)"));
        out.println("Pool:      " + (s.pool() == null ? "-" : s.poolReadOnly()
                ? "READ-ONLY: " + s.poolReadOnlyReason() + " (writes fail with DATA PROTECT; reads go on)" : s.pool()));
        out.println("Sessions:  " + s.sessions().size());
        if (!s.sessions().isEmpty()) {
            out.println();
            Table t = new Table("INITIATOR", "TARGET", "ISID", "TSIH", "CONNS", "REMOTE", "CHAP USER");
            for (SessionInfo x : s.sessions()) {
                t.row(x.initiator(), x.target().isEmpty() ? "(discovery)" : x.target(), x.isid(), x.tsih(),
                        x.connections(), x.remote(), x.chapUser());
            }
            t.print(out);
        }
        out.flush();
    }

    static String uptime(long seconds) {
        Duration d = Duration.ofSeconds(seconds);
        if (d.toDays() > 0) {
            return String.format(Locale.ROOT, "%dd %02dh %02dm", d.toDays(), d.toHoursPart(), d.toMinutesPart());
        }
        return String.format(Locale.ROOT, "%02dh %02dm %02ds", d.toHours(), d.toMinutesPart(), d.toSecondsPart());
    }

    /** The df-like table of {@code stats}, like {@code vdostats --human-readable}. */
    static void stats(PrintWriter out, StatsReport r, boolean verbose) {
        Table t = new Table("VOLUME", "TARGET", "LUN", "SIZE", "USED", "AVAILABLE", "USE%", "SAVING%", "EXCLUSIVE");
        for (VolumeStats v : r.volumes()) {
            String target = v.target() == null ? "(detached)" : v.target();
            String lun = v.lun() == null ? "-" : String.valueOf(v.lun());
            if (v.logicalUsedBytes() < 0) { // its block map could not be walked (damaged metadata)
                t.row(v.volume(), target, lun, ByteSize.format(v.sizeBytes()), "?", "?", "?", "?", "?");
                continue;
            }
            t.row(v.volume(), target, lun, ByteSize.format(v.sizeBytes()), ByteSize.format(v.logicalUsedBytes()),
                    ByteSize.format(v.availableBytes()), percent(v.usePercent()), percent(v.savingPercent()),
                    bytesOrDash(v.exclusiveBytes()));
        }
        PoolStats p = r.pool();
        if (p != null) {
            t.row("(pool)", "-", "-", ByteSize.format(p.sizeBytes()), ByteSize.format(p.usedBytes()),
                    ByteSize.format(p.availableBytes()), percent(p.usePercent()), percent(p.savingPercent()), "-");
        }
        t.print(out);
        if (r.poolReadOnlyReason() != null) {
            out.println();
            out.println("The pool is READ-ONLY: " + r.poolReadOnlyReason() + " (writes fail with DATA PROTECT; reads go on)");
        }
        if (verbose && !r.counters().isEmpty()) {
            out.println();
            figures(out, r.counters());
        }
        out.flush();
    }

    /**
     * A management command's figures as a two-column table, sizes also in human units. Nested
     * objects and lists are flattened to dotted names: {@code block_cache.hits},
     * {@code devices[0].path}.
     */
    static void figures(PrintWriter out, Map<String, Object> figures) {
        Table t = new Table("NAME", "VALUE");
        flatten(t, "", figures);
        t.print(out);
    }

    private static void flatten(Table t, String prefix, Object v) {
        if (v instanceof Map<?, ?> m && !m.isEmpty()) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                flatten(t, prefix.isEmpty() ? String.valueOf(e.getKey()) : prefix + "." + e.getKey(), e.getValue());
            }
        } else if (v instanceof List<?> l && !l.isEmpty() && l.stream().allMatch(x -> x instanceof Map<?, ?>)) {
            for (int i = 0; i < l.size(); i++) {
                flatten(t, prefix + "[" + i + "]", l.get(i));
            }
        } else {
            t.row(prefix, value(prefix, v));
        }
    }

    static String value(String key, Object v) {
        if (v == null) {
            return "-";
        }
        if (key.contains("secret") || key.contains("password")) {
            return ChapCredentials.MASK;
        }
        if (v instanceof Number n && (key.endsWith("_bytes") || key.endsWith("_size"))
                && (n instanceof Long || n instanceof Integer) && Math.abs(n.longValue()) >= 1024) {
            return n.longValue() + " (" + ByteSize.format(n.longValue()) + ")";
        }
        if (v instanceof Number n && key.endsWith("_bytes_per_second") && n.doubleValue() >= 1024) {
            return n.longValue() + " (" + ByteSize.format(n.longValue()) + "/s)";
        }
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf((long) d)
                    : String.format(Locale.ROOT, "%.3f", d);
        }
        if (v instanceof Map<?, ?> || v instanceof List<?>) {
            return String.valueOf(v);
        }
        return v.toString();
    }

    private static String yes(boolean b) {
        return b ? "yes" : "no";
    }
}
