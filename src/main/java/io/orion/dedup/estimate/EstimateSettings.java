package io.orion.dedup.estimate;

import io.orion.dedup.config.DedupSettings;
import java.util.Arrays;

/**
 * How {@code estimate} models the pool: the dedup block sizes to try and the pool's compression
 * and reference settings (as in {@code [deduplication]}), plus the estimator's own memory budget
 * and worker count.
 *
 * @param blockSizes dedup block sizes to try, ascending, each a power of two in 4096..65536
 * @param compressionEnabled {@code compression_enabled}
 * @param compressionLevel {@code compression_level} (&lt;= 1: LZ4 fast, 2..12: LZ4 HC)
 * @param compressionThreshold {@code compression_threshold}
 * @param referenceMaxCount {@code reference_max_count}: references one chunk may carry
 * @param memoryBytes memory all fingerprint tables together may take
 * @param workers hashing threads (besides the reader)
 */
public record EstimateSettings(int[] blockSizes, boolean compressionEnabled, int compressionLevel,
        double compressionThreshold, long referenceMaxCount, long memoryBytes, int workers) {

    public static final int[] DEFAULT_BLOCK_SIZES = {4096, 8192, 16384, 32768, 65536};

    public EstimateSettings {
        if (blockSizes.length == 0) {
            throw new IllegalArgumentException("no block size given");
        }
        blockSizes = Arrays.stream(blockSizes).distinct().sorted().toArray();
        for (int b : blockSizes) {
            if (!DedupSettings.validBlockSize(b)) {
                throw new IllegalArgumentException(b + " is not a dedup block size (a power of two from 4K to 64K)");
            }
        }
        if (referenceMaxCount < 1) {
            throw new IllegalArgumentException("reference_max_count must be >= 1: " + referenceMaxCount);
        }
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be >= 1: " + workers);
        }
    }

    /** The pool's settings from {@code dedup}, with the given block sizes, memory and workers. */
    public static EstimateSettings of(DedupSettings dedup, int[] blockSizes, long memoryBytes, int workers) {
        return new EstimateSettings(blockSizes, dedup.compressionEnabled(), dedup.compressionLevel(),
                dedup.compressionThreshold(), dedup.referenceMaxCount(), memoryBytes, workers);
    }
}
