package io.orion.dedup.jobs;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;
import java.util.Optional;

/** The kinds of background job the server runs; at most one job of a kind runs at a time. */
public enum JobKind {
    /** Verifies metadata, every chunk record and every block map ({@code scrub}). */
    SCRUB("scrub"),
    /** Reference cleanup: compacts containers, returns space ({@code dedup-reference-cleanup}). */
    CLEANUP("cleanup"),
    /** Recompresses chunks where the current settings now pay ({@code dedup-compression-optimize}). */
    COMPRESSION_OPTIMIZE("compression-optimize"),
    /** Deduplicates the blocks post-process volumes wrote since the last pass ({@code dedup run}). */
    POST_PROCESS("post-process");

    private final String label;

    JobKind(String label) {
        this.label = label;
    }

    /** The name in commands, JSON and metrics, e.g. {@code compression-optimize}. */
    @JsonValue
    public String label() {
        return label;
    }

    /** Looks a kind up by its label (or enum name), case-insensitively. */
    public static Optional<JobKind> of(String name) {
        if (name == null) {
            return Optional.empty();
        }
        String n = name.toLowerCase(Locale.ROOT).replace('_', '-');
        for (JobKind k : values()) {
            if (k.label.equals(n)) {
                return Optional.of(k);
            }
        }
        return Optional.empty();
    }

    @com.fasterxml.jackson.annotation.JsonCreator
    static JobKind fromJson(String name) {
        return of(name).orElseThrow(() -> new IllegalArgumentException("unknown job kind: " + name));
    }
}
