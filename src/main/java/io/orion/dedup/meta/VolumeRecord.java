package io.orion.dedup.meta;

import io.orion.dedup.dedup.DedupMode;
import java.util.UUID;

/**
 * One volume (LUN) as the {@code volumes} database records it, including its exact block counters
 * (updated in the same transaction as the block map, so they survive restarts unchanged).
 *
 * @param dataBlocks dedup blocks mapped to a stored chunk
 * @param zeroBlocks dedup blocks written as all zeros (mapped, but no chunk)
 * @param readOnly a snapshot: writes are refused (DATA PROTECT)
 * @param origin the volume this one was cloned or snapshotted from, or null for a volume created empty
 * @param originMillis when it was cloned (epoch milliseconds), 0 without an origin
 * @param dedupMode how its writes are deduplicated (never null; {@link DedupMode#INLINE} by default)
 */
public record VolumeRecord(String name, int id, UUID uuid, int logicalBlockSize, int dedupBlockSize,
                           long capacityBytes, long dataBlocks, long zeroBlocks, boolean readOnly, String origin,
                           long originMillis, DedupMode dedupMode) {

    public VolumeRecord {
        if (dedupMode == null) {
            dedupMode = DedupMode.INLINE;
        }
    }

    /** A volume that deduplicates inline. */
    public VolumeRecord(String name, int id, UUID uuid, int logicalBlockSize, int dedupBlockSize, long capacityBytes,
                        long dataBlocks, long zeroBlocks, boolean readOnly, String origin, long originMillis) {
        this(name, id, uuid, logicalBlockSize, dedupBlockSize, capacityBytes, dataBlocks, zeroBlocks, readOnly, origin,
                originMillis, DedupMode.INLINE);
    }

    /** A writable volume created empty (no origin). */
    public VolumeRecord(String name, int id, UUID uuid, int logicalBlockSize, int dedupBlockSize, long capacityBytes,
                        long dataBlocks, long zeroBlocks) {
        this(name, id, uuid, logicalBlockSize, dedupBlockSize, capacityBytes, dataBlocks, zeroBlocks, false, null, 0);
    }

    public VolumeRecord withCounters(long data, long zero) {
        return new VolumeRecord(name, id, uuid, logicalBlockSize, dedupBlockSize, capacityBytes, data, zero, readOnly,
                origin, originMillis, dedupMode);
    }

    public VolumeRecord withCapacity(long bytes) {
        return new VolumeRecord(name, id, uuid, logicalBlockSize, dedupBlockSize, bytes, dataBlocks, zeroBlocks,
                readOnly, origin, originMillis, dedupMode);
    }

    public VolumeRecord withDedupMode(DedupMode mode) {
        return new VolumeRecord(name, id, uuid, logicalBlockSize, dedupBlockSize, capacityBytes, dataBlocks, zeroBlocks,
                readOnly, origin, originMillis, mode);
    }

    /**
     * True when the record needs the version 2 layout (read-only flag, origin, or a dedup mode other
     * than inline; see on-disk-format.md).
     */
    public boolean extended() {
        return readOnly || origin != null || dedupMode != DedupMode.INLINE;
    }
}
