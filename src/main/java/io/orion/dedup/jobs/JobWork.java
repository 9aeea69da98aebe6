package io.orion.dedup.jobs;

/** The work of one job kind; runs on the job's own thread. */
@FunctionalInterface
public interface JobWork {
    /**
     * Does the work, reporting progress to {@code context} and checking
     * {@link JobContext#cancelled()} between units of work; a cancelled job returns what it did
     * (the manager marks it cancelled). An exception fails the job with its message.
     */
    JobOutcome run(JobContext context) throws Exception;
}
