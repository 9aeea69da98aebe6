package io.orion.dedup.config;

import java.util.Locale;

/** What stores a LUN's blocks. */
public enum LunBacking {
    /** A deduplicated, compressed, thin volume in the pool (the default). */
    DEDUP,
    /** A plain sparse file, no deduplication ({@code path} or {@code <data>/luns/<volume>.img}). */
    FILE,
    /** Memory only; contents are lost on restart (for tests). */
    RAM;

    /** The name used in target files: {@code dedup}, {@code file}, {@code ram}. */
    public String tomlName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a {@link #tomlName()}; null when unknown. */
    public static LunBacking fromToml(String s) {
        for (LunBacking b : values()) {
            if (b.tomlName().equalsIgnoreCase(s)) {
                return b;
            }
        }
        return null;
    }
}
