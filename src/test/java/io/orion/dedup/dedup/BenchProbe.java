package io.orion.dedup.dedup;

import io.orion.dedup.meta.MetaTxn;
import java.io.IOException;

/** Metadata figures of a pool for the benches in {@code io.orion.dedup.bench} (the store is package-private). */
public final class BenchProbe {
    private BenchProbe() {
    }

    /**
     * Mapped blocks, entries of the chunk table and index, LMDB page bytes of the block map, chunk
     * table and index, and the used part of {@code data.mdb}: {@code {mappedBlocks, chunkEntries,
     * indexEntries, blockPages, chunkPages, indexPages, usedFileBytes}}.
     */
    /** Sets a volume's dedup mode in memory (the bench's fresh volume; not persisted). */
    public static void mode(DedupVolume v, DedupMode mode) {
        v.state().dedupMode = mode;
    }

    public static long[] metadata(DedupPool pool) throws IOException {
        try (MetaTxn t = pool.meta().read()) {
            long[] e = t.entryCounts();
            long[] p = t.pageBytes();
            return new long[] {t.mappedBlocks(), e[1], e[2], p[0], p[1], p[2], pool.meta().fileSize()};
        }
    }
}
