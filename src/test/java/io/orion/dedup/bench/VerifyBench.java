package io.orion.dedup.bench;

import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.PoolOptions;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * The cost of {@code verify}: in-process duplicate-write throughput of the volume engine with
 * verify off and on, the duplicates' chunks either still in the block cache (warm: just written)
 * or not (cold: caches flushed, so verify reads every chunk from the device). Each configuration
 * gets a fresh pool; SIZE MiB of unique incompressible data is written in 128 KiB writes, then the
 * same data again at another offset (every block a duplicate), timed. Prints one line per case.
 * Usage: {@code VerifyBench DIR [SIZE_MiB] [threads]} (scripts/bench verify).
 */
public final class VerifyBench {
    private VerifyBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int mib = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int io = 128 * 1024;
        long count = (long) mib * (1 << 20) / io;
        byte[][] data = new byte[64][];
        Random r = new Random(7);
        for (int i = 0; i < data.length; i++) {
            data[i] = new byte[io];
            r.nextBytes(data[i]);
        }
        System.out.printf("duplicate 128 KiB writes of %d MiB, %d threads, 4 KiB dedup blocks, CPU cores %d%n", mib, threads,
                Runtime.getRuntime().availableProcessors());
        for (int round = 0; round < 2; round++) {
            if (round == 0) {
                System.out.println("-- warm-up round (JIT compiling), not a result");
            } else {
                System.out.println("-- measured round");
            }
            for (boolean cold : new boolean[] {false, true}) {
                for (boolean verify : new boolean[] {false, true}) {
                    Path d = dir.resolve("r" + round + (cold ? "c" : "w") + (verify ? "v" : "n"));
                    Files.createDirectories(d);
                    PoolOptions o = PoolOptions.builder(d.resolve("meta")).device(d.resolve("data/dev0.img"), 0)
                            .referenceCleanupIntervalSeconds(0).compressionEnabled(false).verify(verify)
                            .cacheSize(Math.max(64L << 20, 2L * mib << 20)).build();
                    try (DedupPool pool = DedupPool.open(o)) {
                        DedupVolume v = pool.createVolume("b", 512, 2L * mib << 20, 4096);
                        int spb = io / 512;
                        EngineBench.timed("  unique (setup)", count, threads, io, i -> v.write(i * spb, block(data, i, io), false));
                        pool.flush();
                        if (cold) {
                            pool.flushCaches();
                        }
                        EngineBench.timed(String.format("  duplicate %s verify=%s", cold ? "cold" : "warm", verify), count, threads,
                                io, i -> v.write(((long) mib << 20) / 512 + i * spb, block(data, i, io), false));
                        pool.flush();
                        if (pool.stats().uniqueBytes() != (long) mib << 20 || pool.verifyMismatches() != 0) {
                            throw new IllegalStateException("duplicates were not all shared: " + pool.stats().uniqueBytes());
                        }
                    }
                }
            }
        }
    }

    private static ByteBuffer block(byte[][] data, long i, int io) {
        byte[] b = data[(int) (i % 64)].clone();
        for (int k = 0; k < io; k += 4096) {
            ByteBuffer.wrap(b).putLong(k, i * 1000 + k);
        }
        return ByteBuffer.wrap(b).asReadOnlyBuffer();
    }
}
