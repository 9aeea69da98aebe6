package io.orion.dedup.config;

/**
 * The {@code [deduplication]} section: every key of the product description's "Driver
 * Configuration", with the meaning Orion Dedup gives it (docs/configuration.md has the full text).
 *
 * @param hashAlgorithm fingerprint algorithm; only {@code "sha256"} (SHA-256, FIPS 180-4)
 * @param hashBlockSize default dedup block (chunk) size in bytes of new volumes: 4096..65536, a
 *     power of two
 * @param hashCacheSize bytes of memory for the fingerprint cache in front of the LMDB index
 * @param hashOptimization detect all-zero blocks before hashing; they are stored as unmapped
 *     (take no space, read back as zeros) instead of as chunks; always on in this build
 * @param referenceMaxCount most references one stored chunk may carry; an identical write beyond
 *     that stores a new copy (limits the damage one bad chunk can do)
 * @param referenceCleanupIntervalSeconds seconds between background reference cleanups (the
 *     collector that reclaims unreferenced chunks); 0 = only on {@code dedup-reference-cleanup}
 * @param referenceOptimization an overwrite with identical content (same fingerprint already at
 *     that LBA) changes no reference count; always on in this build
 * @param referenceMetadataSize initial LMDB map size in bytes; the map grows when full
 * @param cacheSize bytes of memory for the chunk (data) cache
 * @param cachePolicy eviction policy name; {@code "lru"} selects Caffeine's W-TinyLFU (an LRU
 *     admission window in front of a frequency-filtered main region)
 * @param cacheOptimization coalesced cache fills: a read miss fetches the neighbouring chunks it
 *     needs from one container with one device read and caches each; always on in this build
 * @param cacheCompression the chunk cache would keep chunks compressed; this build caches
 *     decompressed chunks, so only false is accepted
 * @param compressionEnabled compress chunks with LZ4 before storing them
 * @param compressionAlgorithm only {@code "lz4"}
 * @param compressionLevel 1..12: 1 selects the fast LZ4 compressor, 2..12 LZ4 HC at that level
 * @param compressionThreshold store a chunk compressed only when compressed size &lt;= threshold ×
 *     original size; 0 &lt; threshold &lt;= 1.0
 * @param backgroundProcessing run the background worker (cleanup and optimization passes)
 * @param backgroundIntervalSeconds seconds between background flushes of all volumes, which bound
 *     the data at risk when initiators rarely send SYNCHRONIZE CACHE
 * @param performanceOptimization group commit: concurrent writes share one metadata transaction;
 *     always on in this build
 * @param realTimeDeduplication the dedup mode of new LUNs and of LUNs without their own {@code dedup}
 *     key: true = inline (every block looked up as it is written), false = post-process (writes
 *     are stored without index lookup and deduplicated later by the post-process pass)
 * @param verify before a block is shared with a stored chunk of the same fingerprint, read that
 *     chunk and compare the bytes; on a difference (a fingerprint collision, or damaged stored
 *     data) the block gets a chunk of its own. Off by default (SHA-256 collisions are not expected;
 *     verify costs a chunk read per duplicate block not in the block cache)
 */
public record DedupSettings(
        String hashAlgorithm,
        int hashBlockSize,
        long hashCacheSize,
        boolean hashOptimization,
        long referenceMaxCount,
        long referenceCleanupIntervalSeconds,
        boolean referenceOptimization,
        long referenceMetadataSize,
        long cacheSize,
        String cachePolicy,
        boolean cacheOptimization,
        boolean cacheCompression,
        boolean compressionEnabled,
        String compressionAlgorithm,
        int compressionLevel,
        double compressionThreshold,
        boolean backgroundProcessing,
        long backgroundIntervalSeconds,
        boolean performanceOptimization,
        boolean realTimeDeduplication,
        boolean verify) {

    /** Smallest and largest dedup block sizes. */
    public static final int MIN_BLOCK = 4096;
    public static final int MAX_BLOCK = 65536;
    /** Highest LZ4 HC level; lz4 clamps anything above it, so higher values are refused. */
    public static final int MAX_LEVEL = 12;

    /** The built-in defaults (identical to the shipped conf/dedup.toml). */
    public static DedupSettings defaults() {
        return new DedupSettings("sha256", 4096, 256L << 20, true, 65536, 3600, true, 128L << 20,
                1L << 30, "lru", true, false, true, "lz4", 1, 0.8, true, 300, true, true, false);
    }

    /** True if {@code size} is a valid dedup block size (power of two in 4096..65536). */
    public static boolean validBlockSize(long size) {
        return size >= MIN_BLOCK && size <= MAX_BLOCK && Long.bitCount(size) == 1;
    }

    /** The dedup mode of a LUN without its own {@code dedup} key. */
    public io.orion.dedup.dedup.DedupMode defaultDedupMode() {
        return realTimeDeduplication ? io.orion.dedup.dedup.DedupMode.INLINE : io.orion.dedup.dedup.DedupMode.POST;
    }

    /** True when the fast LZ4 compressor is selected, false for LZ4 HC. */
    public boolean fastCompressor() {
        return compressionLevel <= 1;
    }

    private static void notHonoured(TomlSection s, String key, boolean refused, String why) throws ConfigException {
        if (refused) {
            throw s.error(key, "cannot be honoured by this build: " + why);
        }
    }

    static DedupSettings read(TomlSection s) throws ConfigException {
        DedupSettings d = defaults();
        String hash = s.choice("hash_algorithm", d.hashAlgorithm, "sha256", "sha-256");
        long block = s.size("hash_block_size", d.hashBlockSize, MIN_BLOCK, MAX_BLOCK);
        if (!validBlockSize(block)) {
            throw s.error("hash_block_size", "must be a power of two: 4096, 8192, 16384, 32768 or 65536");
        }
        long hashCache = s.size("hash_cache_size", d.hashCacheSize, 0, Long.MAX_VALUE);
        boolean hashOpt = s.bool("hash_optimization", d.hashOptimization);
        long maxRefs = s.integer("reference_max_count", d.referenceMaxCount, 1, 0xFFFF_FFFFL);
        long cleanup = s.seconds("reference_cleanup_interval", d.referenceCleanupIntervalSeconds, 0, 366L * 86400);
        boolean refOpt = s.bool("reference_optimization", d.referenceOptimization);
        long metaSize = s.size("reference_metadata_size", d.referenceMetadataSize, 1L << 20, 1L << 50);
        long cache = s.size("cache_size", d.cacheSize, 0, Long.MAX_VALUE);
        String policy = s.choice("cache_policy", d.cachePolicy, "lru", "w-tinylfu");
        boolean cacheOpt = s.bool("cache_optimization", d.cacheOptimization);
        boolean cacheComp = s.bool("cache_compression", d.cacheCompression);
        boolean compEnabled = s.bool("compression_enabled", d.compressionEnabled);
        String comp = s.choice("compression_algorithm", d.compressionAlgorithm, "lz4");
        long level = s.integer("compression_level", d.compressionLevel, 1, MAX_LEVEL);
        double threshold = s.number("compression_threshold", d.compressionThreshold);
        if (!(threshold > 0.0 && threshold <= 1.0)) {
            throw s.error("compression_threshold", "must be > 0 and <= 1.0 (fraction of the original size)");
        }
        boolean bg = s.bool("background_processing", d.backgroundProcessing);
        long bgInterval = s.seconds("background_interval", d.backgroundIntervalSeconds, 1, 366L * 86400);
        boolean perf = s.bool("performance_optimization", d.performanceOptimization);
        boolean realTime = s.bool("real_time_deduplication", d.realTimeDeduplication);
        boolean verify = s.bool("verify", d.verify);
        notHonoured(s, "hash_optimization", !hashOpt, "zero-block detection is always on");
        notHonoured(s, "reference_optimization", !refOpt, "identical overwrites never change reference counts");
        notHonoured(s, "cache_optimization", !cacheOpt, "cache fills are always coalesced per container");
        notHonoured(s, "cache_compression", cacheComp, "the chunk cache holds decompressed chunks; set false");
        notHonoured(s, "performance_optimization", !perf, "group commit is always on");
        s.finish();
        return new DedupSettings(hash.equals("sha-256") ? "sha256" : hash, (int) block, hashCache, hashOpt,
                maxRefs, cleanup, refOpt, metaSize, cache, policy.equals("w-tinylfu") ? "lru" : policy,
                cacheOpt, cacheComp, compEnabled, comp, (int) level, threshold, bg, bgInterval, perf, realTime, verify);
    }
}
