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

/**
 * {@code dedup run|status|cancel}: the post-process pass as a background job of the server (it
 * also starts every {@code background_interval} while post-process volumes have staged blocks).
 */
@Command(name = "dedup", description = {"Run, watch and cancel the post-process dedup pass.",
    "The pass deduplicates the blocks post-process LUNs (dedup = \"post\") wrote since the last pass. The server also starts it",
    "every background_interval while such blocks wait."},
        subcommands = {DedupCommands.Run.class, DedupCommands.Status.class, DedupCommands.Cancel.class})
final class DedupCommands extends GroupCommand {

    @Command(name = "run", description = {"Run a post-process pass now and watch it until it ends.",
        "A progress bar with rate and ETA on a terminal, plain lines otherwise; exit 1 if it failed or was cancelled.",
        "With --background, start it and return (job show ID --follow watches it)."})
    static final class Run extends AdminCommand {
        @Option(names = "--background", description = "Start the pass and return at once.")
        boolean background;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            JobInfo j = api.startJob(JobKind.POST_PROCESS.label());
            if (background) {
                if (json()) {
                    printJson(j);
                } else {
                    out.println("Started post-process pass: job " + j.id() + " (watch: orion-dedup job show " + j.id()
                            + " --follow; stop: orion-dedup dedup cancel)");
                    out.flush();
                }
                return;
            }
            if (!json()) {
                out.println("Started post-process pass: job " + j.id());
                out.flush();
            }
            // with --json only the finished job is printed: the progress lines go nowhere
            JobInfo end = JobView.follow(api, json() ? new PrintWriter(java.io.Writer.nullWriter()) : out, j.id(),
                    !json() && JobView.terminal());
            if (json()) {
                printJson(end);
            }
            JobView.check(end);
        }
    }

    @Command(name = "status", description = "Show the running post-process pass, or the last one.")
    static final class Status extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            JobSummary s = summary(api);
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

    @Command(name = "cancel", description = {"Cancel the running post-process pass.",
        "It stops between slices; blocks it has not reached stay staged for the next pass."})
    static final class Cancel extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            JobInfo active = Optional.ofNullable(summary(api).active())
                    .orElseThrow(() -> new AdminException("no post-process pass is running"));
            JobInfo j = JobCommands.cancelAndWait(api, active.id());
            if (json()) {
                printJson(j);
            } else {
                out.println(j.state().finished() ? JobView.doneLine(j)
                        : "job " + j.id() + " post-process: cancel requested, still " + j.state().label());
                out.flush();
            }
        }
    }

    static JobSummary summary(AdminApi api) throws Exception {
        return api.jobSummary().stream().filter(s -> s.kind() == JobKind.POST_PROCESS).findFirst()
                .orElseThrow(() -> new AdminException("the server reports no post-process pass"));
    }
}
