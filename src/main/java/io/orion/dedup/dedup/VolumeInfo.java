package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Identity and geometry of one volume, and where it came from.
 *
 * @param readOnly a snapshot (writes refused)
 * @param origin the volume it was cloned or snapshotted from, or null
 * @param originMillis when (epoch milliseconds), 0 without an origin
 * @param dedupMode how its writes are deduplicated
 */
public record VolumeInfo(@JsonProperty("name") String name, @JsonProperty("uuid") String uuid,
                         @JsonProperty("logical_block_size") int logicalBlockSize,
                         @JsonProperty("dedup_block_size") int dedupBlockSize,
                         @JsonProperty("capacity_bytes") long capacityBytes,
                         @JsonProperty("read_only") boolean readOnly,
                         @JsonProperty("origin") String origin,
                         @JsonProperty("origin_millis") long originMillis,
                         @com.fasterxml.jackson.annotation.JsonIgnore DedupMode dedupMode) {

    /** A volume that deduplicates inline. */
    public VolumeInfo(String name, String uuid, int logicalBlockSize, int dedupBlockSize, long capacityBytes,
                      boolean readOnly, String origin, long originMillis) {
        this(name, uuid, logicalBlockSize, dedupBlockSize, capacityBytes, readOnly, origin, originMillis,
                DedupMode.INLINE);
    }

    /** The mode as JSON shows it: {@code inline}, {@code post} or {@code off}. */
    @JsonProperty("dedup_mode")
    public String dedupModeLabel() {
        return (dedupMode == null ? DedupMode.INLINE : dedupMode).label();
    }
}
