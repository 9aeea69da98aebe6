package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Identity and geometry of one volume. */
public record VolumeInfo(@JsonProperty("name") String name, @JsonProperty("uuid") String uuid,
                         @JsonProperty("logical_block_size") int logicalBlockSize,
                         @JsonProperty("dedup_block_size") int dedupBlockSize,
                         @JsonProperty("capacity_bytes") long capacityBytes) {
}
