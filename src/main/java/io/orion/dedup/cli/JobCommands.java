package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.jobs.JobInfo;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code job list|show|cancel}: the server's background jobs (scrub, cleanup, compression-optimize, post-process). */
@Command(name = "job", description = "Watch and cancel the server's background jobs (scrub, cleanup, compression-optimize, post-process).",
        subcommands = {JobCommands.List.class, JobCommands.Show.class, JobCommands.Cancel.class})
final class JobCommands extends GroupCommand {

    @Command(name = "list", description = "List the jobs of this run of the server and the last job of each kind.")
    static final class List extends AdminCommand {
        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            java.util.List<JobInfo> jobs = api.listJobs();
            if (json()) {
                printJson(jobs);
            } else {
                JobView.list(out, jobs);
            }
        }
    }

    @Command(name = "show", description = {"Show one job: state, bytes done and total, rate, ETA, result.",
        "With --follow, watch it until it ends (a progress bar on a terminal, plain lines otherwise)."})
    static final class Show extends AdminCommand {
        @Parameters(index = "0", paramLabel = "ID", description = "Job id (see job list).")
        long id;

        @Option(names = "--follow", description = "Watch the job until it ends; exit 1 if it failed, was cancelled or found problems.")
        boolean follow;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            if (follow) {
                JobInfo j = JobView.follow(api, out, id, !json() && JobView.terminal());
                if (json()) {
                    printJson(j);
                }
                JobView.check(j);
                return;
            }
            JobInfo j = api.showJob(id);
            if (json()) {
                printJson(j);
            } else {
                JobView.show(out, j);
            }
        }
    }

    @Command(name = "cancel", description = {"Cancel a job at its next consistent point.",
        "What it committed stays, nothing is left half done. Waits up to 30 s for it to stop."})
    static final class Cancel extends AdminCommand {
        @Parameters(index = "0", paramLabel = "ID", description = "Job id (see job list).")
        long id;

        @Override
        void run(AdminApi api, PrintWriter out) throws Exception {
            JobInfo j = cancelAndWait(api, id);
            if (json()) {
                printJson(j);
            } else {
                out.println(j.state().finished() ? JobView.doneLine(j)
                        : "job " + j.id() + " " + j.kind().label() + ": cancel requested, still " + j.state().label());
                out.flush();
            }
        }
    }

    /** Asks the server to cancel job {@code id}, then waits up to 30 s for it to stop; its last state. */
    static JobInfo cancelAndWait(AdminApi api, long id) throws Exception {
        JobInfo j = api.cancelJob(id);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!j.state().finished() && System.nanoTime() < deadline) {
            Thread.sleep(100);
            j = api.showJob(id);
        }
        return j;
    }
}
