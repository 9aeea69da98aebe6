package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.AdminException;
import io.orion.dedup.jobs.JobInfo;
import io.orion.dedup.jobs.JobKind;
import io.orion.dedup.jobs.JobSummary;
import java.io.PrintWriter;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code scrub start|status|cancel}: the scrub as a background job ({@code scrub} alone runs one and waits). */
final class ScrubCommands {

    private ScrubCommands() {}

    @Command(name = "start", description = {"Start a scrub in the background and return (job show ID --follow watches it).",
        "With --wait, watch it until it ends: a progress bar with rate and ETA on a terminal, plain lines",
        "otherwise; exit 1 if it found damage (with --repair: left damage), failed or was cancelled."})
    static final class Start extends AdminCommand {
        @Option(names = "--wait", description = "Watch the scrub until it ends.")
        boolean wait;

        @Option(names = "--repair", description = "Rewrite each damaged chunk from a good copy whose SHA-256 matches"
                + " its fingerprint (the job's result counts repaired and unrepairable).")
        boolean repair;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            JobInfo j = api.startJob(JobKind.SCRUB.label(), repair);
            if (!wait) {
                if (json()) {
                    printJson(j);
                } else {
                    out.println("Started " + (repair ? "scrub --repair" : "scrub") + ": job " + j.id() + " (watch: orion-dedup job show " + j.id()
                            + " --follow; stop: orion-dedup scrub cancel)");
                    out.flush();
                }
                return;
            }
            if (!json()) {
                out.println("Started " + (repair ? "scrub --repair" : "scrub") + ": job " + j.id());
                out.flush();
            }
            JobInfo end = JobView.follow(api, out, j.id(), !json() && JobView.terminal());
            if (json()) {
                printJson(end);
            } else if (end.result() != null && end.result().get("problems") instanceof java.util.List<?> p && !p.isEmpty()) {
                p.forEach(x -> out.println("  " + x));
                out.flush();
            }
            JobView.check(end);
        }
    }

    @Command(name = "status", description = "Show the running scrub, or the last one, and when the next is scheduled.")
    static final class Status extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            JobSummary s = scrub(api);
            JobInfo j = s.active() != null ? s.active() : s.last();
            if (json()) {
                printJson(s);
                return;
            }
            out.println(JobView.statusLine(s));
            if (j != null) {
                out.println();
                JobView.show(out, j);
            }
            out.flush();
        }
    }

    @Command(name = "cancel", description = "Cancel the running scrub (it stops between chunks; a scrub changes nothing).")
    static final class Cancel extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            JobInfo active = Optional.ofNullable(scrub(api).active())
                    .orElseThrow(() -> new AdminException("no scrub is running"));
            JobInfo j = JobCommands.cancelAndWait(api, active.id());
            if (json()) {
                printJson(j);
            } else {
                out.println(j.state().finished() ? JobView.doneLine(j)
                        : "job " + j.id() + " scrub: cancel requested, still " + j.state().label());
                out.flush();
            }
        }
    }

    static JobSummary scrub(AdminApi api) throws Exception {
        return api.jobSummary().stream().filter(s -> s.kind() == JobKind.SCRUB).findFirst()
                .orElseThrow(() -> new AdminException("the server reports no scrub"));
    }
}
