package io.orion.dedup.estimate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.PoolOptions;
import io.orion.dedup.dedup.PoolStats;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The estimate of an image equals what the engine stores when the image is written into a pool:
 * unique chunks, zero blocks, logical, unique and stored bytes and the ratios, exactly, at the
 * pool's dedup block size — for the fast compressor, for LZ4 HC with another threshold, and with a
 * reference_max_count that splits a popular block into several chunks.
 */
class EstimateMatchesPoolTest {
    @TempDir
    Path dir;

    /**
     * 6 MiB + 6 KiB of mixed content: unique random, repeated random (a few patterns, so refcounts
     * vary), zeros, compressible text (unique per block and repeated), half-compressible, and a
     * partial last block. Patterns are 4 KiB apart so every block size sees duplicates and zeros.
     */
    static byte[] image(long seed) {
        Random rnd = new Random(seed);
        int len = (6 << 20) + 6 * 1024;
        byte[] img = new byte[len];
        byte[][] repeated = new byte[12][4096];
        for (byte[] r : repeated) {
            rnd.nextBytes(r);
        }
        byte[] words = "orion dedup estimates what a pool stores; ".getBytes();
        for (int off = 0; off < len; off += 4096) {
            int n = Math.min(4096, len - off);
            int kind = rnd.nextInt(100);
            if (kind < 25) {
                byte[] u = new byte[n];
                rnd.nextBytes(u);
                System.arraycopy(u, 0, img, off, n);
            } else if (kind < 55) {
                System.arraycopy(repeated[Math.min(11, (int) Math.abs(rnd.nextGaussian() * 4))], 0, img, off, n);
            } else if (kind < 70) {
                continue; // zeros
            } else if (kind < 85) {
                for (int i = 0; i < n; i++) {
                    img[off + i] = words[i % words.length];
                }
                if (rnd.nextBoolean()) {
                    ByteBuffer.wrap(img, off, 8).putLong(off); // unique compressible
                }
            } else {
                byte[] u = new byte[n / 2];
                rnd.nextBytes(u);
                System.arraycopy(u, 0, img, off, u.length); // half random, half zeros
            }
        }
        // one stretch of 64 KiB repeated (dedups at every block size)
        System.arraycopy(img, 0, img, 1 << 20, 64 * 1024);
        System.arraycopy(img, 0, img, 2 << 20, 64 * 1024);
        return img;
    }

    private PoolStats store(byte[] img, int blockSize, int level, double threshold, int refMax) throws Exception {
        Path p = dir.resolve("pool-" + blockSize + "-" + level + "-" + refMax);
        PoolOptions o = PoolOptions.builder(p.resolve("meta")).device(p.resolve("dev0.img"), 0)
                .containerSize(1 << 20).metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0)
                .cacheSize(8 << 20).hashCacheSize(1 << 20).compressionLevel(level).compressionThreshold(threshold)
                .referenceMaxCount(refMax).build();
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", 512, 64L << 20, blockSize);
            for (int off = 0; off < img.length; off += 256 * 1024) {
                int n = Math.min(256 * 1024, img.length - off);
                v.write(off / 512, ByteBuffer.wrap(img, off, n), false);
            }
            pool.flush();
            return pool.stats();
        }
    }

    private SizeEstimate estimate(Path file, int blockSize, int level, double threshold, int refMax) throws Exception {
        EstimateSettings s = new EstimateSettings(EstimateSettings.DEFAULT_BLOCK_SIZES, true, level, threshold, refMax,
                64L << 20, 2);
        try (FileImageSource src = FileImageSource.open(file)) {
            EstimateReport r = new Estimator(src, s).run(done -> { }, 50);
            assertEquals(5, r.blockSizes().size());
            return r.blockSizes().stream().filter(e -> e.blockSize() == blockSize).findFirst().orElseThrow();
        }
    }

    private void assertSame(PoolStats pool, SizeEstimate e) {
        String both = pool + "\n" + e;
        assertTrue(e.exact(), both);
        assertEquals(pool.logicalBytes(), e.logicalBytes(), "logical bytes\n" + both);
        assertEquals(pool.zeroBlocks(), e.zeroBlocks(), "zero blocks\n" + both);
        assertEquals(pool.uniqueChunks(), e.uniqueChunks(), "unique chunks\n" + both);
        assertEquals(pool.uniqueBytes(), e.uniqueBytes(), "unique bytes\n" + both);
        assertEquals(pool.storedBytes(), e.storedBytes(), "stored bytes\n" + both);
        assertEquals(pool.dedupRatio(), e.dedupRatio(), 1e-12, "dedup ratio\n" + both);
        assertEquals(pool.compressionRatio(), e.compressionRatio(), 1e-12, "compression ratio\n" + both);
        assertEquals(pool.savingPercent(), e.savingPercent(), 1e-9, "saving\n" + both);
        long refs = e.histogram().stream().mapToLong(HistogramRow::references).sum();
        assertEquals(e.logicalBlocks() - e.zeroBlocks(), refs, "every non-zero block is one reference\n" + both);
        long chunks = e.histogram().stream().mapToLong(HistogramRow::chunks).sum();
        assertEquals(e.uniqueChunks(), chunks, "histogram chunks\n" + both);
    }

    @Test
    void fourKiBFastCompressorEqualsThePool() throws Exception {
        byte[] img = image(1);
        Path file = Files.write(dir.resolve("a.img"), img);
        PoolStats pool = store(img, 4096, 1, 0.8, 65536);
        assertTrue(pool.zeroBlocks() > 0 && pool.storedBytes() < pool.uniqueBytes() && pool.dedupRatio() > 1.2,
                "the image exercises zeros, compression and dedup: " + pool);
        assertSame(pool, estimate(file, 4096, 1, 0.8, 65536));
    }

    @Test
    void sixteenKiBHighCompressionEqualsThePool() throws Exception {
        byte[] img = image(2);
        Path file = Files.write(dir.resolve("b.img"), img);
        PoolStats pool = store(img, 16384, 6, 0.6, 65536);
        assertSame(pool, estimate(file, 16384, 6, 0.6, 65536));
    }

    @Test
    void referenceMaxCountSplitsPopularBlocksAsThePoolDoes() throws Exception {
        byte[] img = image(3);
        Path file = Files.write(dir.resolve("c.img"), img);
        PoolStats pool = store(img, 8192, 1, 0.8, 7);
        SizeEstimate e = estimate(file, 8192, 1, 0.8, 7);
        assertSame(pool, e);
        assertTrue(e.histogram().stream().allMatch(h -> h.minRefcount() <= 7), "no chunk above 7 references: " + e);
    }
}
