package io.orion.dedup.jobs;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Where a job is in its life: queued, running, then done, failed or cancelled for good. */
public enum JobState {
    QUEUED, RUNNING, DONE, FAILED, CANCELLED;

    /** True for done, failed and cancelled. */
    public boolean finished() {
        return this == DONE || this == FAILED || this == CANCELLED;
    }

    @JsonValue
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    static JobState fromJson(String s) {
        return valueOf(s.toUpperCase(Locale.ROOT));
    }
}
