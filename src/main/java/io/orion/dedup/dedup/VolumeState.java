package io.orion.dedup.dedup;

import io.orion.dedup.meta.VolumeRecord;
import java.util.UUID;

/**
 * The committed state of one volume in memory. Counters and capacity change only on the committer
 * thread, after the LMDB commit that persisted them; other threads read them.
 */
final class VolumeState {
    final String name;
    final int id;
    final UUID uuid;
    final int logicalBlockSize;
    final int dedupBlockSize;
    volatile long capacityBytes;
    volatile long dataBlocks;
    volatile long zeroBlocks;
    volatile boolean deleted;
    /** A snapshot: writes are refused. */
    final boolean readOnly;
    /** The volume it was cloned from, or null. */
    final String origin;
    /** When it was cloned (epoch ms), 0 without an origin. */
    final long originMillis;
    /** How its writes are deduplicated (changed only through the committer, like the catalogue). */
    volatile DedupMode dedupMode = DedupMode.INLINE;
    /**
     * A mode set by a committer task of the batch being built, not yet committed ({@link
     * DedupPool#setDedupMode}): {@link #record} writes it, so a batch that also changes this
     * volume's counters keeps it. Touched on the committer thread only; null otherwise.
     */
    volatile DedupMode pendingMode;

    VolumeState(VolumeRecord r) {
        this.name = r.name();
        this.id = r.id();
        this.uuid = r.uuid();
        this.logicalBlockSize = r.logicalBlockSize();
        this.dedupBlockSize = r.dedupBlockSize();
        this.capacityBytes = r.capacityBytes();
        this.dataBlocks = r.dataBlocks();
        this.zeroBlocks = r.zeroBlocks();
        this.readOnly = r.readOnly();
        this.origin = r.origin();
        this.originMillis = r.originMillis();
        this.dedupMode = r.dedupMode();
    }

    VolumeRecord record(long dataDelta, long zeroDelta, long capacity) {
        return new VolumeRecord(name, id, uuid, logicalBlockSize, dedupBlockSize, capacity, dataBlocks + dataDelta,
                zeroBlocks + zeroDelta, readOnly, origin, originMillis, pendingMode != null ? pendingMode : dedupMode);
    }

    /** Number of dedup blocks covering the capacity (the last may be partial). */
    long dedupBlocks() {
        return (capacityBytes + dedupBlockSize - 1) / dedupBlockSize;
    }
}
