package io.orion.dedup.jobs;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One job inside the manager. Its thread updates the progress; any thread reads a snapshot
 * ({@link #info()}) or asks it to stop ({@link #cancel()}).
 */
final class Job {
    private final long id;
    private final JobKind kind;
    private final String trigger;
    private final long throttle;
    private final java.util.function.LongSupplier clock;
    private final long submittedMillis;
    private final AtomicLong done = new AtomicLong();
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile long total = -1;
    private volatile boolean cancelRequested;
    private volatile JobState state = JobState.QUEUED;
    private volatile long startedMillis;
    private volatile long startedNanos;
    /** When the work announced its total: the rate counts from there (not the set-up before it). */
    private volatile long begunNanos;
    private volatile long endedMillis;
    private volatile double seconds;
    private volatile String outcome;
    private volatile String summary;
    private volatile String error;
    private volatile Map<String, Object> result;
    /** What the job was started with (e.g. {@code repair} for a scrub); empty by default. */
    private Map<String, Object> options = Map.of();

    Job(long id, JobKind kind, String trigger, long throttle, java.util.function.LongSupplier clock,
        Map<String, Object> options) {
        this(id, kind, trigger, throttle, clock);
        this.options = Map.copyOf(options);
    }

    Job(long id, JobKind kind, String trigger, long throttle, java.util.function.LongSupplier clock) {
        this.id = id;
        this.kind = kind;
        this.trigger = trigger;
        this.throttle = throttle;
        this.clock = clock;
        this.submittedMillis = clock.getAsLong();
    }

    long id() {
        return id;
    }

    JobKind kind() {
        return kind;
    }

    JobState state() {
        return state;
    }

    long throttle() {
        return throttle;
    }

    Map<String, Object> options() {
        return options;
    }

    void total(long bytes) {
        total = Math.max(0, bytes);
        begunNanos = System.nanoTime();
    }

    void advance(long bytes) {
        done.addAndGet(bytes);
    }

    boolean cancelRequested() {
        return cancelRequested;
    }

    /** Asks the job to stop; returns false when it had already finished. A queued job does not start. */
    synchronized boolean cancel() {
        if (state.finished()) {
            return false;
        }
        cancelRequested = true;
        return true;
    }

    /** Moves a queued job to running; false when it was cancelled meanwhile. */
    synchronized boolean start() {
        if (state != JobState.QUEUED || cancelRequested) {
            return false;
        }
        startedMillis = clock.getAsLong();
        startedNanos = System.nanoTime();
        state = JobState.RUNNING;
        return true;
    }

    /**
     * Ends the job: {@code before} gets its final snapshot (to record it) before anyone else sees
     * it finished, so whoever sees the end also finds it in the history and metrics.
     */
    synchronized void finish(JobState end, String outcome, String summary, String error, Map<String, Object> result,
                             java.util.function.Consumer<JobInfo> before) {
        if (state.finished()) {
            return;
        }
        endedMillis = clock.getAsLong();
        seconds = startedNanos == 0 ? 0 : (System.nanoTime() - startedNanos) / 1e9;
        this.outcome = outcome;
        this.summary = summary;
        this.error = error;
        this.result = result;
        before.accept(snapshot(end));
        this.state = end;
        finished.countDown();
    }

    boolean await(long millis) throws InterruptedException {
        return finished.await(millis, TimeUnit.MILLISECONDS);
    }

    /** Progress done/total (0..1), or -1 when unknown. */
    double progress() {
        return progress(state);
    }

    private double progress(JobState state) {
        long t = total;
        if (state == JobState.DONE) {
            return 1;
        }
        return t < 0 ? -1 : t == 0 ? (state == JobState.RUNNING ? 0 : 1) : Math.min(1.0, (double) done.get() / t);
    }

    JobInfo info() {
        return snapshot(state);
    }

    private JobInfo snapshot(JobState s) {
        long d = done.get();
        long t = total;
        Double dur = null;
        Long rate = null;
        Long eta = null;
        if (s == JobState.RUNNING) {
            long now = System.nanoTime();
            double secs = (now - startedNanos) / 1e9;
            dur = secs;
            double working = (now - (begunNanos != 0 ? begunNanos : startedNanos)) / 1e9;
            if (working >= 0.2 && d > 0) {
                rate = (long) (d / working);
                if (t >= 0 && rate > 0) {
                    eta = Math.max(0, (long) Math.ceil((t - Math.min(d, t)) / (double) rate));
                }
            }
        } else if (s.finished() && startedNanos != 0) {
            dur = seconds;
            if (seconds > 0 && d > 0) {
                rate = (long) (d / seconds);
            }
            eta = s == JobState.DONE ? 0L : null;
        }
        double p = progress(s);
        return new JobInfo(id, kind, s, trigger, iso(submittedMillis), startedMillis == 0 ? null : iso(startedMillis),
                endedMillis == 0 ? null : iso(endedMillis), dur, d, t < 0 ? null : t, p < 0 ? null : p, rate, eta,
                throttle > 0 ? throttle : null, outcome, summary, error, result);
    }

    static String iso(long millis) {
        return Instant.ofEpochMilli(millis).toString();
    }
}
