package io.orion.dedup.meta;

import java.util.UUID;

/**
 * The pool-wide singleton in the {@code counters} database: identity, layout and exact counters,
 * written in every commit.
 */
public record PoolCounters(int formatVersion, UUID poolUuid, long slotSize, long nextChunkId, int nextContainerId,
                           int nextVolumeId, long uniqueChunks, long uniqueBytes, long storedBytes) {
    public static final int FORMAT_VERSION = 1;
}
