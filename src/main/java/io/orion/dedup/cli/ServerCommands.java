package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.AdminException;
import io.orion.dedup.admin.ManagementCommand;
import io.orion.dedup.admin.SaveResult;
import io.orion.dedup.admin.StatsReport;
import io.orion.dedup.admin.StatusReport;
import java.io.PrintWriter;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.orion.dedup.admin.RefcountBucket;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** {@code status}, {@code saveconfig}, {@code stats} and the product's {@code dedup-*} commands. */
final class ServerCommands {

    private ServerCommands() {}

    @Command(name = "status", description = "Show the server: version, uptime, portals, targets, sessions.")
    static final class Status extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            StatusReport s = api.status();
            java.util.List<io.orion.dedup.jobs.JobSummary> jobs;
            try {
                jobs = api.jobSummary();
            } catch (AdminException e) {
                jobs = null; // a server without background jobs
            }
            if (json()) {
                if (jobs == null) {
                    printJson(s);
                } else {
                    var node = jsonTree(s); // the output names and forms, as every --json prints
                    node.set("jobs", io.orion.dedup.admin.AdminJson.output(jobs));
                    printJson(node);
                }
            } else {
                Render.status(out, s);
                if (jobs != null) {
                    JobView.status(out, jobs);
                }
            }
        }
    }

    @Command(name = "saveconfig", description = "Write every target definition to targets/ again (atomically).")
    static final class SaveConfig extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            SaveResult r = api.saveConfig();
            if (json()) {
                printJson(r);
            } else {
                out.println("Saved " + r.files().size() + " target definition" + (r.files().size() == 1 ? "" : "s") + ":");
                r.files().forEach(f -> out.println("  " + f));
            }
        }
    }

    @Command(name = "stats", description = {
        "Show space and dedup savings per volume and for the pool.",
        "Size, used, available, use %%, saving %%, and the DEDUP (logical / unique) and COMPRESS",
        "(unique / stored) ratios like zpool list (2.31x).",
        "Saving %% = 1 - stored / written for a volume, 1 - used / written for the pool (deduplication",
        "and compression together).",
        "Warns when the volumes' sizes overcommit the pool's capacity."})
    static final class Stats extends AdminCommand {
        @Option(names = "--verbose", description = "Also show every engine counter.")
        boolean verbose;

        @Option(names = "--interval", arity = "1..2", paramLabel = "N [COUNT]", description = {
            "Repeat every N seconds, COUNT times (default: until interrupted), like zpool iostat,",
            "with read/write operations and bandwidth per LUN: the first report since the server",
            "started, each later one over the last interval. With --json: one JSON object a line."})
        List<Integer> interval;

        @Option(names = "--histogram", description = "Also show the refcount histogram of the chunks, like zdb -DD.")
        boolean histogram;

        @Override
        void validate() {
            if (interval != null) {
                if (interval.get(0) < 1) {
                    throw new ParameterException(spec.commandLine(),
                            "--interval: N must be a whole number of seconds >= 1, not " + interval.get(0));
                }
                if (interval.size() > 1 && interval.get(1) < 1) {
                    throw new ParameterException(spec.commandLine(), "--interval: COUNT must be >= 1, not " + interval.get(1));
                }
            }
        }

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            if (interval == null) {
                StatsReport r = api.stats(verbose);
                List<RefcountBucket> h = histogram ? api.refcountHistogram() : null;
                if (json()) {
                    ObjectNode j = jsonTree(r);
                    if (h != null) {
                        j.set("refcount_histogram", jsonTree(h));
                    }
                    printJson(j);
                } else {
                    Render.stats(out, r, verbose);
                    if (h != null) {
                        out.println();
                        Render.histogram(out, h);
                    }
                }
                return;
            }
            long seconds = interval.get(0);
            Integer count = interval.size() > 1 ? interval.get(1) : null;
            Map<String, Object> before = null;
            long beforeNanos = 0;
            for (int i = 0; count == null || i < count; i++) {
                if (i > 0) {
                    Thread.sleep(seconds * 1000);
                }
                StatsReport r = api.stats(verbose);
                Map<String, Object> now = api.performanceStats();
                long nowNanos = System.nanoTime();
                double elapsed = before == null ? ((Number) now.getOrDefault("uptime_seconds", 0)).doubleValue()
                        : (nowNanos - beforeNanos) / 1e9;
                Map<String, Render.Rates> rates = rates(now, before, elapsed);
                List<RefcountBucket> h = histogram ? api.refcountHistogram() : null;
                if (json()) {
                    ObjectNode j = jsonTree(r);
                    j.put("time", java.time.OffsetDateTime.now().withNano(0).toString());
                    j.put("rates_over", before == null ? "since_start" : "interval");
                    j.put("rates_seconds", elapsed);
                    ObjectNode rj = j.putObject("rates");
                    rates.forEach((k, v) -> {
                        ObjectNode x = rj.putObject(k.isEmpty() ? "pool" : k);
                        x.put("read_ops_per_second", v.readOps());
                        x.put("write_ops_per_second", v.writeOps());
                        x.put("read_bytes_per_second", v.readBytes());
                        x.put("write_bytes_per_second", v.writeBytes());
                    });
                    if (h != null) {
                        j.set("refcount_histogram", jsonTree(h));
                    }
                    printJsonLine(j);
                } else {
                    if (i > 0) {
                        out.println();
                    }
                    out.println(before == null ? "Since the server started (" + Render.uptime((long) elapsed) + "):"
                            : String.format(java.util.Locale.ROOT, "Last %.1f s:", elapsed));
                    Render.stats(out, r, verbose, rates);
                    if (h != null) {
                        out.println();
                        Render.histogram(out, h);
                    }
                }
                before = now;
                beforeNanos = nowNanos;
            }
        }

        /**
         * Per {@code "target/lun"} and for the pool ({@code ""}): read and write operations and bytes
         * per second from {@code dedup-performance-stats}' counters, over {@code seconds}: since start
         * when {@code before} is null, else the difference to {@code before}.
         */
        static Map<String, Render.Rates> rates(Map<String, Object> now, Map<String, Object> before, double seconds) {
            Map<String, Render.Rates> out = new java.util.TreeMap<>();
            Render.Rates pool = Render.Rates.ZERO;
            for (String key : now.keySet()) {
                if (!key.startsWith("lun.") || !key.endsWith(".read_commands") && !key.endsWith(".write_commands")) {
                    continue;
                }
                String lun = key.substring(4, key.lastIndexOf('.'));
                if (out.containsKey(lun)) {
                    continue;
                }
                String p = "lun." + lun + ".";
                double d = seconds <= 0 ? 0 : 1 / seconds;
                Render.Rates x = new Render.Rates(delta(now, before, p + "read_commands") * d,
                        delta(now, before, p + "write_commands") * d, delta(now, before, p + "read_bytes") * d,
                        delta(now, before, p + "write_bytes") * d);
                out.put(lun, x);
                pool = pool.plus(x);
            }
            out.put("", pool);
            return out;
        }

        private static double delta(Map<String, Object> now, Map<String, Object> before, String key) {
            double n = now.get(key) instanceof Number x ? x.doubleValue() : 0;
            double b = before != null && before.get(key) instanceof Number x ? x.doubleValue() : 0;
            return Math.max(0, n - b);
        }
    }

    @Command(name = "scrub", description = {
        "Check the pool's metadata and every stored chunk, and wait for the result.",
        "Checks the metadata file's integrity and the containers' slot headers, then reads every stored",
        "chunk back and checks its CRC32C and fingerprint, and every block map's chunks.",
        "With --repair, each damaged chunk is rewritten from a good copy of its content",
        "(the block cache, another record with its SHA-256); the rest are unrepairable.",
        "Exit 1 when anything is found damaged (with --repair: when any stays damaged).",
        "As a background job: scrub start|status|cancel."},
        subcommands = {ScrubCommands.Start.class, ScrubCommands.Status.class, ScrubCommands.Cancel.class})
    static final class Scrub extends AdminCommand {
        @Option(names = "--repair", description = "Rewrite each damaged chunk from a good copy whose SHA-256 matches"
                + " its fingerprint; report repaired and unrepairable counts.")
        boolean repair;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            Map<String, Object> figures = api.scrub(repair);
            if (json()) {
                printJson(figures);
            } else {
                Render.figures(out, figures);
                out.flush();
            }
            long crc = ((Number) figures.getOrDefault("crc_errors", 0)).longValue();
            long fp = ((Number) figures.getOrDefault("fingerprint_mismatches", 0)).longValue();
            long meta = ((Number) figures.getOrDefault("metadata_errors", 0)).longValue();
            long cont = ((Number) figures.getOrDefault("container_errors", 0)).longValue();
            long map = ((Number) figures.getOrDefault("map_errors", 0)).longValue();
            long unreadable = ((Number) figures.getOrDefault("read_errors", 0)).longValue();
            if (repair) {
                long repaired = ((Number) figures.getOrDefault("repaired", 0)).longValue();
                long left = ((Number) figures.getOrDefault("unrepairable", crc + fp + unreadable)).longValue();
                if (left != 0 || meta != 0 || cont != 0 || map != 0) {
                    throw new AdminException("scrub found " + crc + " CRC errors, " + fp + " fingerprint mismatches, "
                            + unreadable + " unreadable records, " + meta + " metadata errors, " + cont
                            + " damaged containers and " + map + " block-map errors; repaired " + repaired + " chunks, "
                            + left + " unrepairable");
                }
                return;
            }
            if (unreadable != 0) {
                throw new AdminException("scrub found " + crc + " CRC errors, " + fp + " fingerprint mismatches, "
                        + unreadable + " unreadable records, " + meta + " metadata errors, " + cont
                        + " damaged containers and " + map + " block-map errors");
            }
            if (crc != 0 || fp != 0 || meta != 0 || cont != 0 || map != 0) {
                throw new AdminException("scrub found " + crc + " CRC errors, " + fp + " fingerprint mismatches, "
                        + meta + " metadata errors, " + cont + " damaged containers and " + map + " block-map errors");
            }
        }
    }

    /** One of the product's management commands; built once per {@link ManagementCommand}. */
    @Command
    static final class Management extends AdminCommand {
        private final ManagementCommand command;

        Management(ManagementCommand command) {
            this.command = command;
        }

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            Map<String, Object> figures = api.management(command);
            if (json()) {
                printJson(figures);
            } else {
                Render.figures(out, figures);
            }
        }
    }
}
