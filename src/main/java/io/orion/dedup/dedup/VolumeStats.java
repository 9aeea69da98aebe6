package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Exact space figures of one volume, computed from a single snapshot of its block map.
 *
 * @param logicalBytes bytes of dedup blocks that hold written data, zero-written blocks included
 * @param zeroBlocks dedup blocks written as all zeros (stored as a marker, no chunk)
 * @param dataBlocks dedup blocks mapped to a chunk
 * @param uniqueChunks distinct chunks this volume references
 * @param uniqueBytes their original bytes
 * @param storedBytes their record bytes in containers (header + compressed payload)
 * @param reclaimableBytes always 0 for a volume: garbage belongs to the pool
 * @param exclusiveBytes stored bytes of the chunks only this volume references: what deleting it
 *     (and cleanup) would free
 */
public record VolumeStats(@JsonProperty("name") String name,
                          @JsonProperty("logical_bytes") long logicalBytes,
                          @JsonProperty("zero_blocks") long zeroBlocks,
                          @JsonProperty("data_blocks") long dataBlocks,
                          @JsonProperty("unique_chunks") long uniqueChunks,
                          @JsonProperty("unique_bytes") long uniqueBytes,
                          @JsonProperty("stored_bytes") long storedBytes,
                          @JsonProperty("reclaimable_bytes") long reclaimableBytes,
                          @JsonProperty("dedup_ratio") double dedupRatio,
                          @JsonProperty("compression_ratio") double compressionRatio,
                          @JsonProperty("saving_percent") double savingPercent,
                          @JsonProperty("capacity_bytes") long capacityBytes,
                          @JsonProperty("dedup_block_size") int dedupBlockSize,
                          @JsonProperty("exclusive_bytes") long exclusiveBytes) {
}
