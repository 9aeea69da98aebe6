package io.orion.dedup.meta;

import java.util.UUID;

/**
 * The pool-wide singleton in the {@code counters} database: identity, layout and exact counters,
 * written in every commit.
 */
public record PoolCounters(int formatVersion, UUID poolUuid, long slotSize, long nextChunkId, int nextContainerId,
                           int nextVolumeId, long uniqueChunks, long uniqueBytes, long storedBytes) {
    /**
     * 6: the fingerprint index is kept in runs of entries per LMDB value ({@code fpruns});
     * 5: chunk records are kept {@value MetaCodec#GROUP} to an LMDB value ({@code chunkgroups});
     * 4: recent fingerprint index changes are held in {@code fplog} and merged into {@code fpindex};
     * 3: the fingerprint index is keyed by a fingerprint prefix and the chunk id ({@code fpindex});
     * 2: the block map is kept in pages ({@code blockpages}); 1: one {@code blocks} entry per block
     * (converted at open; an older build cannot open a converted pool).
     */
    public static final int FORMAT_VERSION = 6;
}
