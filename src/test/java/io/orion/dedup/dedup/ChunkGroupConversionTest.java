package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.LegacyChunkTable;
import io.orion.dedup.meta.LmdbVerifier;
import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.meta.PoolCounters;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pool of format 4 (one {@code chunks} entry per chunk record, as the previous build wrote it) is
 * converted at open to chunk groups (format 5): every block reads back, the statistics are the
 * same, the tables agree, and new writes still share the chunks found through the index.
 */
class ChunkGroupConversionTest {
    @TempDir
    Path dir;

    @Test
    void aFormat4PoolIsConvertedAtOpenAndReadsAndDeduplicatesAsBefore() throws Exception {
        byte[] content;
        long[] figures;
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 4096, 4096L * 4096, 4096);
            PoolFixture.writeCycling(a, 1024, 700);
            a.unmap(100, 40); // chunks at refcount 0 go: groups with holes
            content = PoolFixture.read(a, 0, 1024).array();
            figures = figures(pool.stats(false));
        }
        long records = LegacyChunkTable.downgrade(dir.resolve("meta"), false);
        assertEquals(figures[2], records);
        assertTrue(LmdbVerifier.check(dir.resolve("meta/data.mdb"), -1).damage().isEmpty());
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertNotNull(pool.meta().chunkConversion(), "converted at this open");
            assertEquals(records, pool.meta().chunkConversion().entries());
            try (MetaTxn t = pool.meta().read()) {
                assertEquals(PoolCounters.FORMAT_VERSION, t.counters().formatVersion());
                MetaCrossCheck.Report x = MetaCrossCheck.run(t);
                assertTrue(x.problems().isEmpty(), x.problems().toString());
                assertEquals(records, x.chunks());
            }
            DedupVolume a = pool.openVolume("a").orElseThrow();
            assertArrayEquals(content, PoolFixture.read(a, 0, 1024).array());
            assertArrayEquals(figures, figures(pool.stats(false)));
            a.write(2000, ByteBuffer.wrap(PoolFixture.random(5, 4096)), false);
            assertEquals(figures[2], pool.stats(false).uniqueChunks(), "shared through the index");
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertEquals(null, pool.meta().chunkConversion(), "nothing left to convert");
            assertArrayEquals(content, PoolFixture.read(pool.openVolume("a").orElseThrow(), 0, 1024).array());
        }
    }

    private static long[] figures(PoolStats s) {
        return new long[] {s.logicalBytes(), s.zeroBlocks(), s.uniqueChunks(), s.uniqueBytes(), s.storedBytes(),
            s.reclaimableBytes(), s.containers()};
    }
}
