package io.orion.dedup.admin;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Space accounting of the pool (all backing devices together).
 *
 * @param sizeBytes capacity of the backing devices (for growing files: current size plus free
 *     space of their file system)
 * @param usedBytes physical bytes in use (containers, including reclaimable space)
 * @param logicalBytes logical bytes mapped by all volumes
 * @param uniqueBytes original bytes of the unique chunks; -1 when unknown
 * @param storedBytes record bytes of the unique chunks in containers (after compression); -1 when
 *     unknown
 * @param provisionedBytes sum of the sizes of the pool's volumes (attached or detached); -1 when
 *     unknown
 */
public record PoolStats(long sizeBytes, long usedBytes, long logicalBytes, long uniqueBytes, long storedBytes,
        long provisionedBytes) {

    /** Figures without the chunk bytes and the provisioned size (unknown). */
    public PoolStats(long sizeBytes, long usedBytes, long logicalBytes) {
        this(sizeBytes, usedBytes, logicalBytes, -1, -1, -1);
    }

    /** Physical space left. */
    public long availableBytes() {
        return Math.max(0, sizeBytes - usedBytes);
    }

    /** Physical use, 0..100. */
    public double usePercent() {
        return StatsReport.percent(usedBytes, sizeBytes);
    }

    /** Space saved over all volumes, 0..100: 1 - used / logical. */
    public double savingPercent() {
        return logicalBytes == 0 ? 0 : Math.max(0, 100.0 - StatsReport.percent(usedBytes, logicalBytes));
    }

    /** Logical bytes / unique bytes (like {@code zpool list}'s DEDUP); null when unknown or nothing written. */
    @JsonProperty("dedupRatio")
    public Double dedupRatio() {
        return StatsReport.ratio(logicalBytes, uniqueBytes);
    }

    /** Unique bytes / stored bytes (like {@code zfs get compressratio}); null when unknown or nothing stored. */
    @JsonProperty("compressRatio")
    public Double compressRatio() {
        return StatsReport.ratio(uniqueBytes, storedBytes);
    }

    /** Whether the volumes' sizes add up to more than the pool's capacity. */
    @JsonProperty("overcommitted")
    public boolean overcommitted() {
        return provisionedBytes > sizeBytes && sizeBytes >= 0;
    }
}
