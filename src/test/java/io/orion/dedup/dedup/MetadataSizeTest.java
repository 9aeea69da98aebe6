package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaTxn;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Metadata bytes per logical block and per unique chunk stay within what docs/on-disk-format.md
 * states: at most 16 B of block-map pages per mapped block (issue 13), written sequentially (and
 * cloned) or in random order, and at most 80 B of chunk records and fingerprint index per unique
 * chunk written in order (90 B in random order, one block per commit: see below).
 */
class MetadataSizeTest {
    @TempDir
    Path dir;

    private static final int UNIQUE = 16384;

    @Test
    void metadataPerBlockAndPerChunkMatchTheDocumentedBudget() throws Exception {
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, 1L << 30, 4096);
            for (int lba = 0; lba < UNIQUE; lba += 32) {
                ByteBuffer buf = ByteBuffer.allocate(32 * 4096);
                for (int i = 0; i < 32; i++) {
                    buf.put(PoolFixture.random(lba + i, 4096));
                }
                v.write(lba, buf.flip(), false);
            }
            for (int lba = 0; lba < UNIQUE; lba += 32) {
                v.copyFrom(v, lba, UNIQUE + lba, 32);
            }
            check(pool, 2L * UNIQUE, "sequential");
        }
    }

    @Test
    void blocksWrittenInRandomOrderStayWithinTheBudget() throws Exception {
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, 1L << 30, 4096);
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < UNIQUE; i++) {
                order.add(i);
            }
            java.util.Collections.shuffle(order, new Random(13));
            List<CompletableFuture<Void>> pending = new ArrayList<>();
            for (int lba : order) {
                pending.add(v.writeAsync(lba, ByteBuffer.wrap(PoolFixture.random(lba, 4096)), false));
                if (pending.size() == 256) {
                    CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
                    pending.clear();
                }
            }
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
            check(pool, UNIQUE, "random");
        }
    }

    private static void check(DedupPool pool, long mapped, String how) throws Exception {
        // the figures of the merged index: the change log holds at most orion.meta.fpLogEntries
        // fingerprints (about 60 B each, 2 MiB at the default) whatever the size of the pool
        pool.meta().mergeFingerprintLog();
        try (MetaTxn t = pool.meta().read()) {
            long[] entries = t.entryCounts();
            long[] bytes = t.pageBytes();
            assertEquals(mapped, t.mappedBlocks());
            assertEquals(UNIQUE, entries[1]);
            double perBlock = (double) bytes[0] / mapped;
            double perChunk = (double) (bytes[1] + bytes[2]) / entries[1];
            System.out.printf("metadata (%s): %.1f B per mapped block, %.1f B per unique chunk (chunk records %.1f, index %.1f)%n", how, perBlock,
                    perChunk, (double) bytes[1] / entries[1], (double) bytes[2] / entries[1]);
            assertTrue(perBlock <= 16, how + ": per block " + perBlock);
            // 174.5 B before the fingerprint index was keyed by a prefix (format 3), 102.8 B with one
            // LMDB entry per chunk record and per index entry (format 4). Written in order the
            // chunk ids run without gaps and each group of 38 fills; one 4 KiB write per commit
            // (the random case) leaves every other id to that commit's journal record, so the
            // groups hold half their records and cost more per chunk.
            assertTrue(perChunk <= (how.equals("random") ? 90 : 80), how + ": per chunk " + perChunk);
        }
    }
}
