package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.AdminException;
import io.orion.dedup.admin.ManagementCommand;
import io.orion.dedup.admin.SaveResult;
import io.orion.dedup.admin.StatsReport;
import io.orion.dedup.admin.StatusReport;
import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
                    var node = io.orion.dedup.admin.AdminJson.mapper().valueToTree(s);
                    ((com.fasterxml.jackson.databind.node.ObjectNode) node).set("jobs",
                            io.orion.dedup.admin.AdminJson.mapper().valueToTree(jobs));
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
        "Show space per volume and for the pool: size, used, available, use %%, saving %%.",
        "Saving %% = 1 - stored / written (deduplication and compression together)."})
    static final class Stats extends AdminCommand {
        @Option(names = "--verbose", description = "Also show every engine counter.")
        boolean verbose;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            StatsReport r = api.stats(verbose);
            if (json()) {
                printJson(r);
            } else {
                Render.stats(out, r, verbose);
            }
        }
    }

    @Command(name = "scrub", description = {
        "Check the metadata file's integrity and the containers' slot headers, then read every stored",
        "chunk back and check its CRC32C and fingerprint, and every block map's chunks; waits for it.",
        "Exit 1 when anything is found damaged. As a background job: scrub start|status|cancel."},
        subcommands = {ScrubCommands.Start.class, ScrubCommands.Status.class, ScrubCommands.Cancel.class})
    static final class Scrub extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            Map<String, Object> figures = api.scrub();
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
