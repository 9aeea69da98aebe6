package io.orion.dedup.admin;

/**
 * Space accounting of the pool (all backing devices together).
 *
 * @param sizeBytes capacity of the backing devices (for growing files: current size plus free
 *     space of their file system)
 * @param usedBytes physical bytes in use (containers, including reclaimable space)
 * @param logicalBytes logical bytes mapped by all volumes
 */
public record PoolStats(long sizeBytes, long usedBytes, long logicalBytes) {

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
}
