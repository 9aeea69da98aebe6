package io.orion.dedup.jobs;

import io.orion.dedup.dedup.WorkMonitor;

/** A running job as its work sees it: where to report progress, whether to stop, at what pace. */
public final class JobContext implements WorkMonitor {
    private final Job job;
    private final long rate;

    JobContext(Job job, long rate) {
        this.job = job;
        this.rate = rate;
    }

    @Override
    public void begin(long totalBytes) {
        job.total(totalBytes);
    }

    @Override
    public void advance(long bytes) {
        job.advance(bytes);
    }

    @Override
    public boolean cancelled() {
        return job.cancelRequested();
    }

    /** The {@code [jobs]} rate of this job's kind (0: unthrottled), whatever the engine's default. */
    @Override
    public long rate(long engineDefault) {
        return rate;
    }

    /** A boolean option the job was started with ({@code repair} for a scrub), false when not given. */
    public boolean flag(String name) {
        return Boolean.TRUE.equals(job.options().get(name));
    }

    /** The job's id. */
    public long id() {
        return job.id();
    }
}
