package io.orion.dedup.admin;

import java.util.Optional;

/**
 * The product's management commands ("Management Commands" of the product description), each a
 * CLI subcommand and a script of the same name.
 */
public enum ManagementCommand {
    HASH_INFO("dedup-hash-info", "Show the fingerprint algorithm, block size and fingerprint cache settings"),
    HASH_OPTIMIZE("dedup-hash-optimize", "Warm the fingerprint cache from the most referenced index entries"),
    HASH_STATS("dedup-hash-stats", "Show hashing throughput, lookups, hits and duplicates found"),
    REFERENCE_INFO("dedup-reference-info", "Show reference counting settings and metadata size"),
    REFERENCE_CLEANUP("dedup-reference-cleanup", "Run the reference collector now and report what it reclaimed"),
    REFERENCE_STATS("dedup-reference-stats", "Show reference counts: chunks, references, sharing histogram"),
    CACHE_INFO("dedup-cache-info", "Show cache sizes, policy and compression setting"),
    CACHE_FLUSH("dedup-cache-flush", "Empty the fingerprint and chunk caches"),
    CACHE_STATS("dedup-cache-stats", "Show cache hit rates, evictions and memory in use"),
    COMPRESSION_INFO("dedup-compression-info", "Show compression algorithm, level, threshold and ratio"),
    COMPRESSION_OPTIMIZE("dedup-compression-optimize", "Recompress chunks stored raw when the current setting now saves space"),
    PERFORMANCE_STATS("dedup-performance-stats", "Show I/O rates, latencies and dedup overhead"),
    OPTIMIZATION_STATS("dedup-optimization-stats", "Show what each optimization setting saved");

    private final String command;
    private final String description;

    ManagementCommand(String command, String description) {
        this.command = command;
        this.description = description;
    }

    /** The command name, e.g. {@code dedup-hash-info}. */
    public String command() {
        return command;
    }

    /** One line for {@code --help}. */
    public String description() {
        return description;
    }

    /** The control protocol method name, e.g. {@code dedup.hash-info}. */
    public String method() {
        return "dedup." + command.substring("dedup-".length());
    }

    /** Looks up a command by its name. */
    public static Optional<ManagementCommand> byCommand(String name) {
        for (ManagementCommand c : values()) {
            if (c.command.equals(name)) {
                return Optional.of(c);
            }
        }
        return Optional.empty();
    }
}
