package io.orion.dedup.meta;

import java.util.UUID;

/**
 * One volume (LUN) as the {@code volumes} database records it, including its exact block counters
 * (updated in the same transaction as the block map, so they survive restarts unchanged).
 *
 * @param dataBlocks dedup blocks mapped to a stored chunk
 * @param zeroBlocks dedup blocks written as all zeros (mapped, but no chunk)
 */
public record VolumeRecord(String name, int id, UUID uuid, int logicalBlockSize, int dedupBlockSize,
                           long capacityBytes, long dataBlocks, long zeroBlocks) {

    public VolumeRecord withCounters(long data, long zero) {
        return new VolumeRecord(name, id, uuid, logicalBlockSize, dedupBlockSize, capacityBytes, data, zero);
    }

    public VolumeRecord withCapacity(long bytes) {
        return new VolumeRecord(name, id, uuid, logicalBlockSize, dedupBlockSize, bytes, dataBlocks, zeroBlocks);
    }
}
