package io.orion.dedup.jobs;

/** A job request the manager refuses (one of that kind is running, no such job, ...), with a one-line reason. */
public final class JobException extends Exception {
    private static final long serialVersionUID = 1L;

    public JobException(String message) {
        super(message);
    }
}
