package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Identity and geometry of one volume, and where it came from.
 *
 * @param readOnly a snapshot (writes refused)
 * @param origin the volume it was cloned or snapshotted from, or null
 * @param originMillis when (epoch milliseconds), 0 without an origin
 */
public record VolumeInfo(@JsonProperty("name") String name, @JsonProperty("uuid") String uuid,
                         @JsonProperty("logical_block_size") int logicalBlockSize,
                         @JsonProperty("dedup_block_size") int dedupBlockSize,
                         @JsonProperty("capacity_bytes") long capacityBytes,
                         @JsonProperty("read_only") boolean readOnly,
                         @JsonProperty("origin") String origin,
                         @JsonProperty("origin_millis") long originMillis) {
}
