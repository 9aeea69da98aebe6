package io.orion.dedup.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orion.dedup.config.JobSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job manager on its own, with works the test steers: progress, rate and ETA while a job
 * runs; cancel (running and queued); one job of a kind at a time; failures; the last result of
 * each kind and the job ids kept across a restart; metrics; the scrub schedule.
 */
class JobManagerTest {
    @TempDir
    Path dir;

    private static final JobSettings UNTHROTTLED = new JobSettings(0, 0, 0, 0);

    /** A work that announces {@code total} bytes and does them in steps the test releases. */
    static final class Steps implements JobWork {
        final long total;
        final java.util.concurrent.Semaphore go = new java.util.concurrent.Semaphore(0);
        final CountDownLatch begun = new CountDownLatch(1);

        Steps(long total) {
            this.total = total;
        }

        @Override
        public JobOutcome run(JobContext ctx) throws Exception {
            ctx.begin(total);
            begun.countDown();
            long done = 0;
            while (done < total) {
                if (ctx.cancelled()) {
                    return new JobOutcome(Map.of("done_bytes", done), done + " bytes", true);
                }
                if (!go.tryAcquire(20, TimeUnit.MILLISECONDS)) {
                    continue;
                }
                ctx.advance(total / 4);
                done += total / 4;
            }
            return new JobOutcome(Map.of("done_bytes", done), "0 errors", true);
        }
    }

    private JobManager manager(JobSettings s, SimpleMeterRegistry r, AtomicLong clock) {
        return new JobManager(dir.resolve("jobs.json"), s, r, clock::get);
    }

    private static JobInfo waitFor(JobManager m, long id, java.util.function.Predicate<JobInfo> p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        JobInfo j = m.get(id).orElseThrow();
        while (!p.test(j)) {
            assertTrue(System.nanoTime() < deadline, "timed out; job is " + j);
            Thread.sleep(10);
            j = m.get(id).orElseThrow();
        }
        return j;
    }

    @Test
    void progressRateAndEtaWhileRunningThenDone() throws Exception {
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        try (JobManager m = manager(UNTHROTTLED, reg, new AtomicLong(1_000_000))) {
            Steps w = new Steps(4L << 20);
            m.register(JobKind.SCRUB, w);
            JobInfo j = m.start(JobKind.SCRUB, "admin");
            assertEquals(1, j.id());
            assertTrue(w.begun.await(5, TimeUnit.SECONDS));
            JobInfo r = waitFor(m, 1, x -> x.state() == JobState.RUNNING && x.bytesTotal() != null);
            assertEquals(0, r.bytesDone());
            assertEquals(4L << 20, r.bytesTotal());
            assertEquals(0.0, r.progress());
            assertNull(r.outcome());

            w.go.release();
            Thread.sleep(300); // the rate is an average since the start: give it time to be defined
            JobInfo half = waitFor(m, 1, x -> x.bytesDone() == 1L << 20 && x.rateBytesPerSecond() != null);
            assertEquals(0.25, half.progress());
            assertNotNull(half.etaSeconds());
            assertEquals((long) Math.ceil((3L << 20) / (double) half.rateBytesPerSecond()), half.etaSeconds(), 1);
            assertEquals(0.25, reg.get("orion.job.progress").tag("kind", "scrub").gauge().value());
            assertEquals(1.0, reg.get("orion.job.running").tag("kind", "scrub").gauge().value());

            w.go.release(3);
            JobInfo done = waitFor(m, 1, x -> x.state().finished());
            assertEquals(JobState.DONE, done.state());
            assertEquals(JobInfo.SUCCESS, done.outcome());
            assertEquals(1.0, done.progress());
            assertEquals("0 errors", done.summary());
            assertEquals(4L << 20, ((Number) done.result().get("done_bytes")).longValue());
            assertEquals(1.0, reg.get("orion.job.runs").tag("kind", "scrub").tag("result", "success").counter().count());
            assertEquals(1000.0, reg.get("orion.job.last.success.timestamp").tag("kind", "scrub").gauge().value());
            assertEquals(0.0, reg.get("orion.job.running").tag("kind", "scrub").gauge().value());
        }
    }

    @Test
    void prometheusNamesOfTheJobMetrics() throws Exception {
        var prom = new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(
                io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
        try (JobManager m = new JobManager(dir.resolve("jobs.json"), UNTHROTTLED, prom, () -> 1_796_000_000_000L)) {
            Steps w = new Steps(4);
            w.go.release(4);
            m.register(JobKind.SCRUB, w);
            long id = m.start(JobKind.SCRUB, "admin").id();
            waitFor(m, id, x -> x.state().finished());
            String text = prom.scrape();
            assertTrue(text.contains("orion_job_runs_total{kind=\"scrub\",result=\"success\"} 1.0"), text);
            assertTrue(text.contains("orion_job_runs_total{kind=\"cleanup\",result=\"failed\"} 0.0"), text);
            assertTrue(text.contains("orion_job_last_success_timestamp_seconds{kind=\"scrub\"} 1.796E9"), text);
            assertTrue(text.contains("orion_job_progress{kind=\"compression-optimize\"} 0.0"), text);
            assertTrue(text.contains("# HELP orion_job_running "), text);
        }
    }

    @Test
    void oneJobOfAKindAtATimeAndCancelStopsIt() throws Exception {
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        try (JobManager m = manager(UNTHROTTLED, reg, new AtomicLong(5000))) {
            Steps scrub = new Steps(1L << 20);
            Steps cleanup = new Steps(1L << 20);
            m.register(JobKind.SCRUB, scrub);
            m.register(JobKind.CLEANUP, cleanup);
            JobInfo a = m.start(JobKind.SCRUB, "admin");
            JobException e = assertThrows(JobException.class, () -> m.start(JobKind.SCRUB, "admin"));
            assertTrue(e.getMessage().contains("already") && e.getMessage().contains("job " + a.id()), e.getMessage());
            JobInfo c = m.start(JobKind.CLEANUP, "admin"); // another kind may run beside it
            assertTrue(scrub.begun.await(5, TimeUnit.SECONDS));
            scrub.go.release();
            waitFor(m, a.id(), x -> x.bytesDone() > 0);

            m.cancel(a.id());
            JobInfo end = waitFor(m, a.id(), x -> x.state().finished());
            assertEquals(JobState.CANCELLED, end.state());
            assertEquals(JobInfo.CANCELLED, end.outcome());
            assertEquals(0.25, end.progress(), "progress stays where it stopped");
            assertEquals(1.0, reg.get("orion.job.runs").tag("kind", "scrub").tag("result", "cancelled").counter().count());
            JobException again = assertThrows(JobException.class, () -> m.cancel(a.id()));
            assertTrue(again.getMessage().contains("already finished"), again.getMessage());
            assertThrows(JobException.class, () -> m.cancel(99));

            JobInfo b = m.start(JobKind.SCRUB, "admin"); // the kind is free again
            assertEquals(c.id() + 1, b.id());
            m.cancel(b.id());
            m.cancel(c.id());
            assertEquals(JobState.CANCELLED, waitFor(m, c.id(), x -> x.state().finished()).state());
            assertEquals(JobState.CANCELLED, waitFor(m, b.id(), x -> x.state().finished()).state());
        }
    }

    @Test
    void aFailingWorkFailsTheJobWithItsMessage() throws Exception {
        try (JobManager m = manager(UNTHROTTLED, null, new AtomicLong(1))) {
            m.register(JobKind.COMPRESSION_OPTIMIZE, ctx -> {
                throw new java.io.IOException("pool is read-only");
            });
            JobInfo j = m.start(JobKind.COMPRESSION_OPTIMIZE, "admin");
            JobInfo end = waitFor(m, j.id(), x -> x.state().finished());
            assertEquals(JobState.FAILED, end.state());
            assertEquals("pool is read-only", end.error());
            JobException e = assertThrows(JobException.class, () -> m.start(JobKind.CLEANUP, "admin"));
            assertTrue(e.getMessage().contains("cannot run cleanup"), e.getMessage());
        }
    }

    @Test
    void lastResultsAndIdsSurviveARestart() throws Exception {
        AtomicLong clock = new AtomicLong(1_796_000_000_000L);
        long scrubId;
        try (JobManager m = manager(UNTHROTTLED, null, clock)) {
            Steps w = new Steps(4);
            m.register(JobKind.SCRUB, w);
            w.go.release(4);
            scrubId = m.start(JobKind.SCRUB, "admin").id();
            waitFor(m, scrubId, x -> x.state().finished());
            m.register(JobKind.CLEANUP, ctx -> {
                throw new IllegalStateException("no pool");
            });
            long c = m.start(JobKind.CLEANUP, "admin").id();
            waitFor(m, c, x -> x.state().finished());
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("jobs.json"))));
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        try (JobManager m = manager(UNTHROTTLED, reg, clock)) {
            Map<JobKind, JobSummary> s = new java.util.EnumMap<>(JobKind.class);
            m.summary().forEach(x -> s.put(x.kind(), x));
            JobInfo scrub = s.get(JobKind.SCRUB).last();
            assertEquals(scrubId, scrub.id());
            assertEquals(JobState.DONE, scrub.state());
            assertEquals("0 errors", scrub.summary());
            assertEquals(4L, ((Number) scrub.result().get("done_bytes")).longValue());
            assertNotNull(s.get(JobKind.SCRUB).lastSuccessAt());
            assertEquals(JobState.FAILED, s.get(JobKind.CLEANUP).last().state());
            assertEquals("no pool", s.get(JobKind.CLEANUP).last().error());
            assertNull(s.get(JobKind.CLEANUP).lastSuccessAt());
            assertNull(s.get(JobKind.COMPRESSION_OPTIMIZE).last());
            assertEquals(2, m.list().size(), "the last job of each kind is listed after a restart");
            assertEquals(scrubId, m.get(scrubId).orElseThrow().id());
            assertEquals(clock.get() / 1000.0,
                    reg.get("orion.job.last.success.timestamp").tag("kind", "scrub").gauge().value());
            m.register(JobKind.SCRUB, new Steps(0));
            assertEquals(3, m.start(JobKind.SCRUB, "admin").id(), "ids go on after a restart");
        }
    }

    @Test
    void theScheduleStartsAScrubWhenTheLastEndedAnIntervalAgo() throws Exception {
        AtomicLong clock = new AtomicLong(1_000_000);
        try (JobManager m = manager(new JobSettings(0, 0, 0, 3600), null, clock)) {
            Steps w = new Steps(0);
            m.register(JobKind.SCRUB, w);
            assertEquals(1_000_000 + 3_600_000, m.nextScrubMillis(), "a fresh history: due one interval after it was made");
            m.scheduleTick();
            assertTrue(m.list().isEmpty(), "not due yet");
            clock.addAndGet(3_600_000);
            m.scheduleTick();
            JobInfo j = m.list().get(0);
            assertEquals("schedule", j.trigger());
            JobInfo end = waitFor(m, j.id(), x -> x.state().finished());
            assertEquals(clock.get() + 3_600_000, m.nextScrubMillis(), "next: an interval after this one ended");
            m.scheduleTick();
            assertEquals(1, m.list().size(), "not due again");
            assertEquals(JobState.DONE, end.state());
        }
        try (JobManager m = manager(UNTHROTTLED, null, clock)) {
            assertNull(m.nextScrubMillis(), "scrub_interval = 0: no schedule");
        }
    }
}
