package io.orion.dedup.jobs;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.orion.dedup.config.JobSettings;
import java.io.Closeable;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the server's background jobs (scrub, cleanup, compression-optimize): each gets an id, a
 * thread of its own ({@code job-<kind>-<id>}), progress, a pace ({@code [jobs]} rates) and can be
 * cancelled; at most one job of a kind is queued or running at a time. The last finished job of
 * each kind and its last success are kept in {@code <data>/jobs.json} across restarts. With
 * {@code scrub_interval} a scheduler thread starts a scrub when the last one ended that long ago
 * (or, when none ever ran, that long after the history was made).
 *
 * <p>Metrics (when a registry is given): {@code orion_job_progress{kind}} (0..1 of the running
 * job, 0 when none), {@code orion_job_running{kind}}, {@code orion_job_last_success_timestamp_seconds{kind}}
 * and {@code orion_job_runs_total{kind,result}} (result: success, errors, failed, cancelled).
 *
 * <p>Threads: any thread may call; job state is per-job volatile fields, the registry of jobs is
 * guarded by this object.
 */
public final class JobManager implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(JobManager.class);
    /** Finished jobs kept in memory for {@code job list}/{@code job show}. */
    private static final int KEEP = 100;
    /** Name of the history file in the data directory. */
    public static final String HISTORY_FILE = "jobs.json";

    private final JobSettings settings;
    private final JobHistory history;
    private final LongSupplier clock;
    private final Map<JobKind, JobWork> works = new EnumMap<>(JobKind.class);
    private final Map<Long, Job> jobs = new LinkedHashMap<>();
    private final Map<JobKind, Job> active = new EnumMap<>(JobKind.class);
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "job");
        t.setDaemon(true);
        return t;
    });
    private final MeterRegistry registry;
    private volatile ScheduledExecutorService scheduler;
    private volatile BooleanSupplier scrubPossible = () -> true;
    private volatile boolean closed;

    /**
     * @param historyFile where the history is kept ({@code <data>/jobs.json}), or null for none
     * @param registry where the job metrics go, or null
     * @param clock wall-clock milliseconds (tests give their own)
     */
    public JobManager(Path historyFile, JobSettings settings, MeterRegistry registry, LongSupplier clock) {
        this.settings = settings;
        this.clock = clock;
        this.history = JobHistory.load(historyFile, clock.getAsLong());
        this.registry = registry;
        if (registry != null) {
            for (JobKind k : JobKind.values()) {
                Gauge.builder("orion.job.progress", this, m -> m.progress(k)).tag("kind", k.label())
                        .description("Progress (0-1) of the running job of this kind; 0 when none runs")
                        .register(registry);
                Gauge.builder("orion.job.running", this, m -> m.activeJob(k).isPresent() ? 1 : 0).tag("kind", k.label())
                        .description("1 while a job of this kind is queued or running").register(registry);
                Gauge.builder("orion.job.last.success.timestamp", this, m -> {
                    Long t = m.history.lastSuccessMillis(k);
                    return t == null ? 0 : t / 1000.0;
                }).tag("kind", k.label()).baseUnit("seconds")
                        .description("Unix time a job of this kind last ended with success; 0 when never")
                        .register(registry);
                for (String result : List.of(JobInfo.SUCCESS, JobInfo.ERRORS, JobInfo.FAILED, JobInfo.CANCELLED)) {
                    runs(k, result);
                }
            }
        }
    }

    /** The manager of a server: history in {@code <dataDir>/jobs.json}, the system clock. */
    public static JobManager open(Path dataDir, JobSettings settings, MeterRegistry registry) {
        return new JobManager(dataDir.resolve(HISTORY_FILE), settings, registry, System::currentTimeMillis);
    }

    private Counter runs(JobKind k, String result) {
        return Counter.builder("orion.job.runs").tag("kind", k.label()).tag("result", result)
                .description("Jobs finished, by kind and result").register(registry);
    }

    /** Sets the work of a kind (before jobs of it can start). */
    public synchronized void register(JobKind kind, JobWork work) {
        works.put(kind, work);
    }

    /** The {@code [jobs]} rate of a kind in bytes per second, 0 for unthrottled. */
    public long rate(JobKind kind) {
        return switch (kind) {
            case SCRUB -> settings.scrubRate();
            case CLEANUP -> settings.cleanupRate();
            case COMPRESSION_OPTIMIZE -> settings.compressionOptimizeRate();
            case POST_PROCESS -> settings.postProcessRate(); // the pass reads the staged blocks back to hash them
        };
    }

    /**
     * Starts a job of {@code kind}.
     *
     * @param trigger {@code admin} or {@code schedule}
     * @throws JobException when one of that kind is queued or running (the message names it), the
     *     kind has no work, or the manager is closed
     */
    public JobInfo start(JobKind kind, String trigger) throws JobException {
        return start(kind, trigger, Map.of());
    }

    /**
     * Starts a job of {@code kind} with {@code options} for its work ({@link JobContext#flag}), e.g.
     * {@code repair: true} for a scrub.
     *
     * @throws JobException as {@link #start(JobKind, String)}
     */
    public JobInfo start(JobKind kind, String trigger, Map<String, Object> options) throws JobException {
        Job job;
        JobWork work;
        synchronized (this) {
            if (closed) {
                throw new JobException("the server is shutting down");
            }
            work = works.get(kind);
            if (work == null) {
                throw new JobException("this server cannot run " + kind.label() + " jobs");
            }
            Job running = active.get(kind);
            if (running != null) {
                throw new JobException("a " + kind.label() + " job is already " + running.state().label() + " (job "
                        + running.id() + "); watch it with: orion-dedup job show " + running.id() + " --follow");
            }
            job = new Job(history.takeId(), kind, trigger, rate(kind), clock, options);
            jobs.put(job.id(), job);
            active.put(kind, job);
            trim();
        }
        try {
            threads.execute(() -> run(job, work));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            finished(job, JobState.FAILED, JobInfo.FAILED, null, "the server is shutting down", null);
            throw new JobException("the server is shutting down");
        }
        LOG.info("job {} ({}) started by {}", job.id(), kind.label(), trigger);
        return job.info();
    }

    private void trim() {
        if (jobs.size() <= KEEP) {
            return;
        }
        var it = jobs.values().iterator();
        while (jobs.size() > KEEP && it.hasNext()) {
            if (it.next().state().finished()) {
                it.remove();
            }
        }
    }

    private void run(Job job, JobWork work) {
        Thread.currentThread().setName("job-" + job.kind().label() + "-" + job.id());
        try {
            if (!job.start()) {
                finished(job, JobState.CANCELLED, JobInfo.CANCELLED, "cancelled before it started", null, null);
                return;
            }
            JobOutcome o;
            try {
                o = work.run(new JobContext(job, job.throttle()));
            } catch (Exception | Error e) {
                String why = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
                if (!(e instanceof Exception)) {
                    LOG.error("job {} ({}) failed", job.id(), job.kind().label(), e);
                }
                finished(job, JobState.FAILED, JobInfo.FAILED, "failed: " + why, why, null);
                return;
            }
            if (job.cancelRequested()) {
                finished(job, JobState.CANCELLED, JobInfo.CANCELLED, o.summary(), null, o.result());
            } else {
                finished(job, JobState.DONE, o.clean() ? JobInfo.SUCCESS : JobInfo.ERRORS, o.summary(), null, o.result());
            }
        } finally {
            Thread.currentThread().setName("job");
        }
    }

    private void finished(Job job, JobState state, String outcome, String summary, String error,
                          Map<String, Object> result) {
        JobInfo[] end = new JobInfo[1];
        job.finish(state, outcome, summary, error, result, info -> {
            end[0] = info;
            history.record(info, clock.getAsLong());
            if (registry != null) {
                runs(job.kind(), info.outcome()).increment();
            }
            synchronized (this) {
                if (active.get(job.kind()) == job) {
                    active.remove(job.kind());
                }
            }
        });
        JobInfo info = end[0];
        if (info == null) {
            return;
        }
        LOG.info("job {} ({}) {}: {}{}", job.id(), job.kind().label(), info.state().label(),
                info.summary() == null ? "" : info.summary(), info.error() == null ? "" : " (" + info.error() + ")");
    }

    /** Jobs of this run of the server (the last 100 finished and all active ones), then older last results, by id. */
    public List<JobInfo> list() {
        List<JobInfo> out = new ArrayList<>();
        synchronized (this) {
            jobs.values().forEach(j -> out.add(j.info()));
        }
        for (JobKind k : JobKind.values()) {
            JobInfo l = history.last(k);
            if (l != null && out.stream().noneMatch(i -> i.id() == l.id())) {
                out.add(l);
            }
        }
        out.sort(Comparator.comparingLong(JobInfo::id));
        return out;
    }

    /** One job by id (also a last result kept from before a restart). */
    public Optional<JobInfo> get(long id) {
        synchronized (this) {
            Job j = jobs.get(id);
            if (j != null) {
                return Optional.of(j.info());
            }
        }
        return list().stream().filter(i -> i.id() == id).findFirst();
    }

    /** The queued or running job of a kind. */
    public Optional<JobInfo> activeJob(JobKind kind) {
        Job j;
        synchronized (this) {
            j = active.get(kind);
        }
        return Optional.ofNullable(j).map(Job::info);
    }

    private double progress(JobKind kind) {
        Job j;
        synchronized (this) {
            j = active.get(kind);
        }
        if (j == null) {
            return 0;
        }
        double p = j.progress();
        return p < 0 ? 0 : p;
    }

    /**
     * Asks a job to stop: a queued one is cancelled at once, a running one stops at its next
     * consistent point (then its state is {@code cancelled}).
     *
     * @throws JobException when there is no such job or it has already finished
     */
    public JobInfo cancel(long id) throws JobException {
        Job j;
        synchronized (this) {
            j = jobs.get(id);
        }
        if (j == null) {
            if (get(id).isPresent()) {
                throw new JobException("job " + id + " has already finished (" + get(id).get().state().label() + ")");
            }
            throw new JobException("no job " + id + "; see orion-dedup job list");
        }
        if (!j.cancel()) {
            throw new JobException("job " + id + " has already finished (" + j.state().label() + ")");
        }
        LOG.info("job {} ({}) cancel requested", id, j.kind().label());
        return j.info();
    }

    /** Waits up to {@code millis} for a job to finish; returns its snapshot. */
    public Optional<JobInfo> await(long id, long millis) throws InterruptedException {
        Job j;
        synchronized (this) {
            j = jobs.get(id);
        }
        if (j == null) {
            return get(id);
        }
        j.await(millis);
        return Optional.of(j.info());
    }

    /** Per kind: the active job, the last finished one, the last success and the next scheduled start. */
    public List<JobSummary> summary() {
        List<JobSummary> out = new ArrayList<>();
        for (JobKind k : JobKind.values()) {
            Long ok = history.lastSuccessMillis(k);
            Long next = k == JobKind.SCRUB ? nextScrubMillis() : null;
            out.add(new JobSummary(k, activeJob(k).orElse(null), history.last(k), ok == null ? null : Job.iso(ok),
                    next == null ? null : Job.iso(next)));
        }
        return out;
    }

    /** When the schedule starts the next scrub (epoch ms), or null without {@code scrub_interval}. */
    public Long nextScrubMillis() {
        long every = settings.scrubIntervalSeconds();
        if (every <= 0) {
            return null;
        }
        JobInfo last = history.last(JobKind.SCRUB);
        long base = history.createdMillis();
        if (last != null && last.endedAt() != null) {
            base = Instant.parse(last.endedAt()).toEpochMilli();
        }
        return base + every * 1000;
    }

    /**
     * Starts the scrub schedule ({@code scrub_interval}; nothing when it is 0): every
     * {@code checkMillis} a scrub starts if it is due, none is active and {@code possible} says the
     * server has a pool to scrub.
     */
    public void startSchedule(BooleanSupplier possible, long checkMillis) {
        if (settings.scrubIntervalSeconds() <= 0) {
            return;
        }
        scrubPossible = possible;
        ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "job-schedule");
            t.setDaemon(true);
            return t;
        });
        scheduler = s;
        s.scheduleWithFixedDelay(this::scheduleTick, checkMillis, checkMillis, TimeUnit.MILLISECONDS);
    }

    /** Starts a scrub if one is due (public for tests: one tick of the schedule). */
    void scheduleTick() {
        try {
            Long next = nextScrubMillis();
            if (next == null || closed || clock.getAsLong() < next || activeJob(JobKind.SCRUB).isPresent()
                    || !scrubPossible.getAsBoolean()) {
                return;
            }
            start(JobKind.SCRUB, "schedule");
        } catch (JobException | RuntimeException e) {
            LOG.warn("scheduled scrub not started: {}", e.getMessage());
        }
    }

    /** Cancels active jobs and waits up to 10 s for them to stop; stops the schedule. */
    @Override
    public void close() {
        List<Job> running;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            running = new ArrayList<>(active.values());
        }
        ScheduledExecutorService s = scheduler;
        if (s != null) {
            s.shutdownNow();
        }
        for (Job j : running) {
            j.cancel();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (Job j : running) {
            try {
                j.await(Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        threads.shutdown();
    }
}
