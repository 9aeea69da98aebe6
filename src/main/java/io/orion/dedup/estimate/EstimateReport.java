package io.orion.dedup.estimate;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * The result of {@code estimate}: the source, the pool settings modelled, one {@link SizeEstimate}
 * per block size, and the recommendation.
 *
 * @param recommendedBlockSize the block size with the best saving per metadata byte, or null when
 *     dedup will not pay
 */
public record EstimateReport(@JsonProperty("source") String source,
                             @JsonProperty("size_bytes") long sizeBytes,
                             @JsonProperty("compression_enabled") boolean compressionEnabled,
                             @JsonProperty("compression_level") int compressionLevel,
                             @JsonProperty("compression_threshold") double compressionThreshold,
                             @JsonProperty("reference_max_count") long referenceMaxCount,
                             @JsonProperty("seconds") double seconds,
                             @JsonProperty("block_sizes") List<SizeEstimate> blockSizes,
                             @JsonProperty("recommended_block_size") Integer recommendedBlockSize,
                             @JsonProperty("recommendation") String recommendation) {
}
