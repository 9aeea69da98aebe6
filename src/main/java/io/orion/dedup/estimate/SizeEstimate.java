package io.orion.dedup.estimate;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * What a pool with one dedup block size would hold after the image is written to it (every block,
 * zero blocks too, as {@code qemu-img convert -S 0} or {@code dd} write them). The space figures
 * have the meaning of {@code stats} (docs/on-disk-format.md, "Space figures").
 *
 * @param sampling 1 when every distinct block was counted (exact figures); else 2^k: one distinct
 *     block in 2^k (chosen by fingerprint) was counted and the chunk figures scaled by 2^k
 * @param collisionBound expected number of distinct blocks merged because their 64-bit fingerprint
 *     prefixes are equal (n^2 / 2^65 for n distinct blocks)
 */
public record SizeEstimate(@JsonProperty("block_size") int blockSize,
                           @JsonProperty("logical_blocks") long logicalBlocks,
                           @JsonProperty("logical_bytes") long logicalBytes,
                           @JsonProperty("zero_blocks") long zeroBlocks,
                           @JsonProperty("unique_chunks") long uniqueChunks,
                           @JsonProperty("unique_bytes") long uniqueBytes,
                           @JsonProperty("stored_bytes") long storedBytes,
                           @JsonProperty("dedup_ratio") double dedupRatio,
                           @JsonProperty("data_dedup_ratio") double dataDedupRatio,
                           @JsonProperty("compression_ratio") double compressionRatio,
                           @JsonProperty("saving_percent") double savingPercent,
                           @JsonProperty("saved_bytes") long savedBytes,
                           @JsonProperty("metadata_disk_bytes") long metadataDiskBytes,
                           @JsonProperty("fingerprint_cache_bytes") long fingerprintCacheBytes,
                           @JsonProperty("exact") boolean exact,
                           @JsonProperty("sampling") long sampling,
                           @JsonProperty("collision_bound") double collisionBound,
                           @JsonProperty("histogram") List<HistogramRow> histogram) {

    /** Bytes saved per byte of LMDB metadata (0 when nothing is saved). */
    public double savingPerMetadataByte() {
        return metadataDiskBytes == 0 || savedBytes <= 0 ? 0 : (double) savedBytes / metadataDiskBytes;
    }
}
