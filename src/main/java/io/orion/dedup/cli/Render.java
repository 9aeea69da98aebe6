package io.orion.dedup.cli;

import io.orion.dedup.admin.LunInfo;
import io.orion.dedup.admin.PoolStats;
import io.orion.dedup.admin.RefcountBucket;
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
        Table t = new Table("TARGET", "LUN", "VOLUME", "SIZE", "BLOCK", "DEDUP BLOCK", "DEDUP MODE", "BACKING", "THIN",
                "READ-ONLY", "SESSIONS", "ORIGIN");
        for (LunInfo l : luns) {
            t.row(l.target(), l.lun(), l.volume(), ByteSize.format(l.sizeBytes()), l.blockSize(),
                    l.dedupBlockSize() == 0 ? "-" : String.valueOf(l.dedupBlockSize()),
                    l.dedupMode() == null ? "-" : l.dedupMode(), l.backing(), yes(l.thin()),
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
        stats(out, r, verbose, null);
    }

    /**
     * I/O rates of one LUN (or the pool) for {@code stats --interval}: operations and bytes per
     * second, read and write.
     */
    record Rates(double readOps, double writeOps, double readBytes, double writeBytes) {
        static final Rates ZERO = new Rates(0, 0, 0, 0);

        Rates plus(Rates o) {
            return new Rates(readOps + o.readOps, writeOps + o.writeOps, readBytes + o.readBytes, writeBytes + o.writeBytes);
        }
    }

    /** A ratio like {@code zpool list} prints it: {@code 2.31x}; {@code -} when unknown. */
    static String ratio(Double r) {
        return r == null ? "-" : String.format(Locale.ROOT, "%.2fx", r);
    }

    /**
     * The df-like table of {@code stats} with DEDUP and COMPRESS ratios (like {@code zpool list}),
     * and with {@code rates} (by {@code "target/lun"}, the pool under {@code ""}) the I/O columns of
     * {@code zpool iostat}. A warning follows when the volumes' sizes overcommit the pool.
     */
    static void stats(PrintWriter out, StatsReport r, boolean verbose, Map<String, Rates> rates) {
        List<String> head = new java.util.ArrayList<>(List.of("VOLUME", "TARGET", "LUN", "SIZE", "USED", "AVAILABLE",
                "USE%", "SAVING%", "DEDUP", "COMPRESS", "EXCLUSIVE", "MODE"));
        if (rates != null) {
            head.addAll(List.of("READ OPS", "WRITE OPS", "READ BW", "WRITE BW"));
        }
        Table t = new Table(head.toArray(String[]::new));
        for (VolumeStats v : r.volumes()) {
            String target = v.target() == null ? "(detached)" : v.target();
            String lun = v.lun() == null ? "-" : String.valueOf(v.lun());
            List<Object> row = new java.util.ArrayList<>();
            if (v.logicalUsedBytes() < 0) { // its block map could not be walked (damaged metadata)
                row.addAll(List.of(v.volume(), target, lun, ByteSize.format(v.sizeBytes()), "?", "?", "?", "?", "?", "?", "?",
                        v.dedupMode() == null ? "-" : v.dedupMode()));
            } else {
                row.addAll(List.of(v.volume(), target, lun, ByteSize.format(v.sizeBytes()),
                        ByteSize.format(v.logicalUsedBytes()), ByteSize.format(v.availableBytes()), percent(v.usePercent()),
                        percent(v.savingPercent()), ratio(v.dedupRatio()), ratio(v.compressRatio()),
                        bytesOrDash(v.exclusiveBytes()), v.dedupMode() == null ? "-" : v.dedupMode()));
            }
            if (rates != null) {
                rateColumns(row, v.target() == null ? null : rates.getOrDefault(v.target() + "/" + v.lun(), Rates.ZERO));
            }
            t.row(row.toArray());
        }
        PoolStats p = r.pool();
        if (p != null) {
            List<Object> row = new java.util.ArrayList<>(List.of("(pool)", "-", "-", ByteSize.format(p.sizeBytes()),
                    ByteSize.format(p.usedBytes()), ByteSize.format(p.availableBytes()), percent(p.usePercent()),
                    percent(p.savingPercent()), ratio(p.dedupRatio()), ratio(p.compressRatio()), "-", "-"));
            if (rates != null) {
                rateColumns(row, rates.getOrDefault("", Rates.ZERO));
            }
            t.row(row.toArray());
        }
        t.print(out);
        for (VolumeStats v : r.volumes()) {
            if (v.lowDedup()) {
                out.println();
                out.println(lowDedupNote(v));
            }
        }
        if (p != null && p.overcommitted()) {
            out.println();
            out.println(overcommitWarning(p));
        }
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

    /** The note {@code stats} prints for a volume whose data does not dedup ({@link VolumeStats#lowDedup()}). */
    static String lowDedupNote(VolumeStats v) {
        String what = v.target() == null ? "Volume " + v.volume() + " (detached)"
                : "LUN " + v.lun() + " of " + v.target() + " (volume " + v.volume() + ")";
        return "Note: " + what + ": dedup ratio " + ratio(v.dedupRatio()) + " after " + ByteSize.format(v.logicalUsedBytes())
                + " written — its data does not dedup; consider dedup = \"off\" for it"
                + ".";
    }

    /** The warning {@code stats} prints when the volumes' sizes add up to more than the pool's capacity. */
    static String overcommitWarning(PoolStats p) {
        return "WARNING: the volumes' sizes add up to " + ByteSize.format(p.provisionedBytes()) + ", more than the pool's"
                + " capacity of " + ByteSize.format(p.sizeBytes()) + " (for file-backed devices: the free space of"
                + " their file system plus what the pool already stores). Thin volumes may fill it: writes then fail"
                + " with a space allocation error. Add a device, free space, or watch USE% of (pool).";
    }

    private static void rateColumns(List<Object> row, Rates x) {
        if (x == null) {
            row.addAll(List.of("-", "-", "-", "-"));
            return;
        }
        row.add(ops(x.readOps()));
        row.add(ops(x.writeOps()));
        row.add(ByteSize.format((long) x.readBytes()) + "/s");
        row.add(ByteSize.format((long) x.writeBytes()) + "/s");
    }

    private static String ops(double perSecond) {
        return String.format(Locale.ROOT, perSecond < 10 ? "%.1f" : "%.0f", perSecond);
    }

    /** The refcount histogram of {@code stats --histogram}, like {@code zdb -DD}. */
    static void histogram(PrintWriter out, List<RefcountBucket> buckets) {
        out.println("Refcount histogram (chunks by reference count; a chunk is stored once, referenced by BLOCKS):");
        if (buckets.isEmpty()) {
            out.println("No chunks.");
            out.flush();
            return;
        }
        Table t = new Table("REFCNT", "CHUNKS", "UNIQUE", "STORED", "BLOCKS", "REFERENCED");
        long c = 0;
        long u = 0;
        long s = 0;
        long b = 0;
        long ref = 0;
        for (RefcountBucket x : buckets) {
            t.row(x.refcount(), x.chunks(), ByteSize.format(x.uniqueBytes()), ByteSize.format(x.storedBytes()),
                    x.blocks(), ByteSize.format(x.referencedBytes()));
            c += x.chunks();
            u += x.uniqueBytes();
            s += x.storedBytes();
            b += x.blocks();
            ref += x.referencedBytes();
        }
        t.row("Total", c, ByteSize.format(u), ByteSize.format(s), b, ByteSize.format(ref));
        t.print(out);
        out.println("dedup = " + ratio(u == 0 ? null : (double) ref / u) + ", compress = " + ratio(s == 0 ? null : (double) u / s)
                + ", dedup * compress = " + ratio(s == 0 ? null : (double) ref / s));
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
