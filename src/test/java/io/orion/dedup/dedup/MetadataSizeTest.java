package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaTxn;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Metadata bytes per logical block and per unique chunk stay within what docs/on-disk-format.md states. */
class MetadataSizeTest {
    @TempDir
    Path dir;

    @Test
    void metadataPerBlockAndPerChunkMatchTheDocumentedBudget() throws Exception {
        int unique = 16384;
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, 1L << 30, 4096);
            for (int lba = 0; lba < unique; lba += 32) {
                ByteBuffer buf = ByteBuffer.allocate(32 * 4096);
                for (int i = 0; i < 32; i++) {
                    buf.put(PoolFixture.random(lba + i, 4096));
                }
                v.write(lba, buf.flip(), false);
            }
            for (int lba = 0; lba < unique; lba += 32) {
                v.copyFrom(v, lba, unique + lba, 32);
            }
            try (MetaTxn t = pool.meta().read()) {
                long[] entries = t.entryCounts();
                long[] bytes = t.pageBytes();
                assertEquals(2L * unique, entries[0]);
                assertEquals(unique, entries[1]);
                double perBlock = (double) bytes[0] / entries[0];
                double perChunk = (double) (bytes[1] + bytes[2]) / entries[1];
                System.out.printf("metadata: %.1f B per mapped block, %.1f B per unique chunk%n", perBlock, perChunk);
                assertTrue(perBlock <= 50, "per block " + perBlock);
                assertTrue(perChunk <= 200, "per chunk " + perChunk);
            }
        }
    }
}
