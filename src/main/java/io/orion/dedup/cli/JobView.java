package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.AdminException;
import io.orion.dedup.config.ByteSize;
import io.orion.dedup.jobs.JobInfo;
import io.orion.dedup.jobs.JobState;
import io.orion.dedup.jobs.JobSummary;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How the CLI shows jobs: the {@code job list} table, {@code job show} details, the {@code status}
 * lines, and following a running job — a progress bar redrawn in place on a terminal, a plain
 * line every few seconds otherwise (logs, pipes).
 */
final class JobView {

    private static final DateTimeFormatter MINUTE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm", Locale.ROOT)
            .withZone(ZoneOffset.UTC);
    private static final int BAR = 30;

    private JobView() {}

    /** True when stdout (and stdin) are a terminal: draw a progress bar. */
    static boolean terminal() {
        String forced = System.getenv("ORION_PROGRESS");
        if (forced != null && !forced.isEmpty()) {
            return forced.equals("bar");
        }
        return System.console() != null;
    }

    static void list(PrintWriter out, List<JobInfo> jobs) {
        Table t = new Table("ID", "KIND", "STATE", "STARTED", "DURATION", "PROGRESS", "RATE", "ETA", "RESULT");
        for (JobInfo j : jobs) {
            t.row(j.id(), j.kind().label(), j.state().label(), when(j.startedAt()), duration(j.durationSeconds()),
                    j.progress() == null ? "-" : percent(j.progress()),
                    j.rateBytesPerSecond() == null ? "-" : ByteSize.format(j.rateBytesPerSecond()) + "/s",
                    j.state() == JobState.RUNNING && j.etaSeconds() != null ? clock(j.etaSeconds()) : "-",
                    result(j));
        }
        if (t.isEmpty()) {
            out.println("No jobs have run yet.");
        } else {
            t.print(out);
        }
        out.flush();
    }

    static String result(JobInfo j) {
        if (j.error() != null) {
            return "failed: " + j.error();
        }
        if (j.summary() == null) {
            return "-";
        }
        return j.state() == JobState.CANCELLED ? "cancelled (" + j.summary() + " so far)" : j.summary();
    }

    static void show(PrintWriter out, JobInfo j) {
        out.println("Job:        " + j.id() + " (" + j.kind().label() + ", started by " + j.trigger() + ")");
        out.println("State:      " + j.state().label() + (j.outcome() == null ? "" : " (" + j.outcome() + ")"));
        out.println("Started:    " + (j.startedAt() == null ? "-" : j.startedAt()));
        out.println("Ended:      " + (j.endedAt() == null ? "-" : j.endedAt()));
        out.println("Duration:   " + duration(j.durationSeconds()));
        out.println("Progress:   " + progressText(j));
        out.println("Rate:       " + (j.rateBytesPerSecond() == null ? "-" : ByteSize.format(j.rateBytesPerSecond()) + "/s")
                + (j.throttleBytesPerSecond() == null ? " (unthrottled)"
                : " (limit " + ByteSize.format(j.throttleBytesPerSecond()) + "/s)"));
        out.println("ETA:        " + (j.state() == JobState.RUNNING && j.etaSeconds() != null ? clock(j.etaSeconds()) : "-"));
        out.println("Result:     " + result(j));
        Map<String, Object> r = j.result();
        if (r != null && !r.isEmpty()) {
            out.println();
            Render.figures(out, r);
        }
        out.flush();
    }

    static String progressText(JobInfo j) {
        String bytes = ByteSize.format(j.bytesDone()) + (j.bytesTotal() == null ? "" : " of " + ByteSize.format(j.bytesTotal()));
        return (j.progress() == null ? "" : percent(j.progress()) + ", ") + bytes;
    }

    /** The lines {@code status} adds: one per job kind. */
    static void status(PrintWriter out, List<JobSummary> kinds) {
        out.println("Jobs:");
        for (JobSummary k : kinds) {
            out.println("  " + statusLine(k));
        }
        out.flush();
    }

    /** E.g. {@code scrub: last run 2026-12-01 03:00 UTC, 0 errors, 41 min; next 2026-12-31 03:00 UTC}. */
    static String statusLine(JobSummary k) {
        StringBuilder b = new StringBuilder(k.kind().label()).append(": ");
        JobInfo a = k.active();
        JobInfo l = k.last();
        if (a != null) {
            b.append(a.state().label()).append(" (job ").append(a.id());
            if (a.progress() != null) {
                b.append(", ").append(percent(a.progress()));
            }
            if (a.etaSeconds() != null) {
                b.append(", ETA ").append(clock(a.etaSeconds()));
            }
            b.append(")");
            if (l != null) {
                b.append("; ");
            }
        }
        if (l != null) {
            b.append("last run ").append(when(l.startedAt() != null ? l.startedAt() : l.endedAt())).append(" UTC, ");
            if (l.state() == JobState.FAILED) {
                b.append("failed: ").append(l.error());
            } else {
                b.append(l.summary() == null ? "-" : l.summary());
                if (l.state() == JobState.CANCELLED) {
                    b.append(" (cancelled)");
                }
            }
            b.append(", ").append(duration(l.durationSeconds()));
        } else if (a == null) {
            b.append("never run");
        }
        if (k.nextAt() != null) {
            b.append("; next ").append(when(k.nextAt())).append(" UTC");
        }
        return b.toString();
    }

    /**
     * Follows a job until it finishes: a progress bar redrawn every 0.25 s on a terminal, else a
     * plain line every 2 s; then one line with the outcome. Returns the finished job.
     */
    static JobInfo follow(AdminApi api, PrintWriter out, long id, boolean bar) throws Exception {
        JobInfo j = api.showJob(id);
        long lastLine = 0;
        JobState printed = null;
        while (!j.state().finished()) {
            if (bar) {
                out.print("\r" + barLine(j) + "\u001b[K");
                out.flush();
            } else if (System.nanoTime() - lastLine >= 2_000_000_000L || j.state() != printed) {
                out.println(plainLine(j));
                out.flush();
                lastLine = System.nanoTime();
                printed = j.state();
            }
            Thread.sleep(bar ? 250 : 500);
            j = api.showJob(id);
        }
        if (bar) {
            out.print("\r" + barLine(j) + "\u001b[K\n");
        }
        out.println(doneLine(j));
        out.flush();
        return j;
    }

    /** {@code scrub [#########.........]  45.2%  912 MiB / 2.0 GiB  152 MiB/s  ETA 0:07}. */
    static String barLine(JobInfo j) {
        double p = j.progress() == null ? 0 : j.progress();
        int full = (int) Math.round(p * BAR);
        String bar = "#".repeat(full) + ".".repeat(BAR - full);
        return String.format(Locale.ROOT, "%s [%s] %6s  %s / %s  %s  ETA %s", j.kind().label(), bar,
                j.progress() == null ? "-" : percent(p), ByteSize.format(j.bytesDone()),
                j.bytesTotal() == null ? "?" : ByteSize.format(j.bytesTotal()),
                j.rateBytesPerSecond() == null ? "-/s" : ByteSize.format(j.rateBytesPerSecond()) + "/s",
                j.etaSeconds() == null ? "--:--" : clock(j.etaSeconds()));
    }

    /** {@code job 5 scrub running: 45.2%, 912 MiB of 2.0 GiB, 152 MiB/s, ETA 0:07}. */
    static String plainLine(JobInfo j) {
        return "job " + j.id() + " " + j.kind().label() + " " + j.state().label() + ": " + progressText(j)
                + (j.rateBytesPerSecond() == null ? "" : ", " + ByteSize.format(j.rateBytesPerSecond()) + "/s")
                + (j.etaSeconds() == null || j.state() != JobState.RUNNING ? "" : ", ETA " + clock(j.etaSeconds()));
    }

    static String doneLine(JobInfo j) {
        return "job " + j.id() + " " + j.kind().label() + " " + j.state().label() + " after "
                + duration(j.durationSeconds()) + ": " + result(j);
    }

    /** Exit status of a finished job: success 0; found problems, failed or cancelled: an error (exit 1). */
    static void check(JobInfo j) throws AdminException {
        if (j.state() == JobState.FAILED) {
            throw new AdminException(j.kind().label() + " job " + j.id() + " failed: " + j.error());
        }
        if (j.state() == JobState.CANCELLED) {
            throw new AdminException(j.kind().label() + " job " + j.id() + " was cancelled");
        }
        if (JobInfo.ERRORS.equals(j.outcome())) {
            throw new AdminException(j.kind().label() + " job " + j.id() + " found problems: " + j.summary());
        }
    }

    static String percent(double p) {
        return String.format(Locale.ROOT, "%.1f%%", p * 100);
    }

    static String when(String iso) {
        return iso == null ? "-" : MINUTE.format(Instant.parse(iso));
    }

    /** {@code 0:07}, {@code 12:05}, {@code 1:02:03}. */
    static String clock(long seconds) {
        long h = seconds / 3600;
        long m = (seconds % 3600) / 60;
        long s = seconds % 60;
        return h > 0 ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, s) : String.format(Locale.ROOT, "%d:%02d", m, s);
    }

    /** {@code 3.2 s}, {@code 41 min}, {@code 2 h 5 min}. */
    static String duration(Double seconds) {
        if (seconds == null) {
            return "-";
        }
        double s = seconds;
        if (s < 60) {
            return String.format(Locale.ROOT, "%.1f s", s);
        }
        long min = Math.round(s / 60);
        return min < 60 ? min + " min" : min / 60 + " h " + min % 60 + " min";
    }
}
