package io.orion.dedup.dedup;

import java.util.Locale;

/**
 * How a volume (LUN) deduplicates its writes.
 *
 * <ul>
 *   <li>{@link #INLINE}: every block is looked up in the fingerprint index as it is written and
 *       shares a stored chunk at once (the default).</li>
 *   <li>{@link #POST}: post-process. A write stores each block as a chunk of its own without
 *       hashing, index lookup or index update (the record is marked unhashed); the block is
 *       remembered as staged. The post-process pass ({@code background_interval}, or
 *       {@code orion-dedup dedup run}) later reads back and hashes only the blocks staged since the
 *       last pass and resolves them against the index, so the final accounting equals inline
 *       mode's.</li>
 *   <li>{@link #OFF}: no deduplication; blocks are stored (and compressed) as they come and are never
 *       shared, for data that does not dedup (encrypted pages).</li>
 * </ul>
 */
public enum DedupMode {
    INLINE, POST, OFF;

    /** The name used in target files, the CLI and JSON: {@code inline}, {@code post}, {@code off}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The mode named {@code s} (case-insensitive), or null when it is none of them. */
    public static DedupMode parse(String s) {
        if (s == null) {
            return null;
        }
        for (DedupMode m : values()) {
            if (m.label().equalsIgnoreCase(s.trim())) {
                return m;
            }
        }
        return null;
    }
}
