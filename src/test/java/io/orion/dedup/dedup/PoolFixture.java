package io.orion.dedup.dedup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

/** Shared helpers for dedup tests: small containers, deterministic content. */
final class PoolFixture {
    private PoolFixture() {
    }

    static PoolOptions.Builder options(Path dir) {
        return PoolOptions.builder(dir.resolve("meta")).device(dir.resolve("data/dev0.img"), 0)
                .containerSize(1 << 20).metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0)
                .cacheSize(8 << 20).hashCacheSize(1 << 20);
    }

    static DedupPool open(Path dir) throws IOException {
        return DedupPool.open(options(dir).build());
    }

    /**
     * Writes blocks 0 .. {@code blocks - 1} of {@code v} in 128 KiB writes, block i holding
     * {@code random(i % distinct)}: {@code distinct} unique blocks, the rest duplicates.
     */
    static void writeCycling(DedupVolume v, int blocks, int distinct) throws IOException {
        for (int lba = 0; lba < blocks; lba += 32) {
            int n = Math.min(32, blocks - lba);
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(n * 4096);
            for (int i = 0; i < n; i++) {
                buf.put(random((lba + i) % distinct, 4096));
            }
            v.write(lba, buf.flip(), false);
        }
    }

    /** A block of pseudo-random (incompressible) bytes determined by {@code seed}. */
    static byte[] random(long seed, int len) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** A block that compresses well, determined by {@code seed}. */
    static byte[] compressible(long seed, int len) {
        byte[] b = new byte[len];
        String s = "orion block " + seed + " ";
        for (int i = 0; i < len; i++) {
            b[i] = (byte) s.charAt(i % s.length());
        }
        return b;
    }

    /**
     * {@code orion-dedup recover} in-process: deletes the pool's metadata directory and rebuilds every
     * table from the devices alone.
     */
    static io.orion.dedup.recovery.PoolRebuilder.Summary rebuildFromDevices(PoolOptions o) throws IOException {
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(o.metadataDir())) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(p);
            }
        }
        return new io.orion.dedup.recovery.PoolRebuilder(o.devices(), o.metadataDir(), o.containerSize(),
                o.metadataMapSize(), null).rebuild();
    }

    static ByteBuffer read(DedupVolume v, long lba, int blocks) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(blocks * v.blockSize());
        v.read(lba, b);
        return b.flip();
    }
}
