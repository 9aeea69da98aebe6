package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.orion.dedup.cache.CacheStats;
import java.util.List;

/**
 * Exact space figures of the pool (maintained in the same LMDB transactions as the data they
 * describe) plus cache and hashing statistics.
 *
 * @param logicalBytes sum of the volumes' logical bytes
 * @param zeroBlocks sum of the volumes' zero blocks
 * @param uniqueChunks chunks with at least one reference
 * @param uniqueBytes their original bytes
 * @param storedBytes their record bytes in containers
 * @param reclaimableBytes committed container bytes no live chunk uses (garbage awaiting cleanup)
 */
public record PoolStats(@JsonProperty("logical_bytes") long logicalBytes,
                        @JsonProperty("zero_blocks") long zeroBlocks,
                        @JsonProperty("unique_chunks") long uniqueChunks,
                        @JsonProperty("unique_bytes") long uniqueBytes,
                        @JsonProperty("stored_bytes") long storedBytes,
                        @JsonProperty("reclaimable_bytes") long reclaimableBytes,
                        @JsonProperty("dedup_ratio") double dedupRatio,
                        @JsonProperty("compression_ratio") double compressionRatio,
                        @JsonProperty("saving_percent") double savingPercent,
                        @JsonProperty("containers") int containers,
                        @JsonProperty("metadata_bytes") long metadataBytes,
                        @JsonProperty("block_cache") CacheStats blockCache,
                        @JsonProperty("fingerprint_cache") CacheStats fingerprintCache,
                        @JsonProperty("hash_mb_per_s") double hashMegabytesPerSecond,
                        @JsonProperty("hashed_bytes") long hashedBytes,
                        @JsonProperty("checksum_errors") long checksumErrors,
                        @JsonProperty("read_only_reason") String readOnlyReason,
                        @JsonProperty("devices") List<DeviceStats> devices,
                        @JsonProperty("volumes") List<VolumeStats> volumes) {
}
