package io.orion.dedup.bench;

import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.PoolOptions;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * In-process throughput of the volume engine (no iSCSI): 128 KiB sequential unique write, the
 * same data again (duplicate), 128 KiB sequential read, 4 KiB random write and read, with
 * {@code threads} concurrent callers (a stand-in for queue depth). Usage:
 * {@code EngineBench DIR [MiB] [threads]}.
 */
public final class EngineBench {
    private EngineBench() {
    }

    interface Op {
        void run(long i) throws Exception;
    }

    static double timed(String name, long count, int threads, long bytesPerOp, Op op) throws Exception {
        AtomicLong next = new AtomicLong();
        Thread[] ts = new Thread[threads];
        com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            ts[t] = new Thread(() -> {
                long i;
                try {
                    while ((i = next.getAndIncrement()) < count) {
                        op.run(i);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) {
            t.join();
        }
        double s = (System.nanoTime() - t0) / 1e9;
        double cpu = (os.getProcessCpuTime() - cpu0) / 1e9;
        double mbs = count * bytesPerOp / s / (1 << 20);
        System.out.printf("%-28s %9.1f MiB/s %10.0f IOPS   %8.1f MiB per CPU-second %8.1f us CPU per op%n", name, mbs,
                count / s, count * bytesPerOp / cpu / (1 << 20), cpu * 1e6 / count);
        return mbs;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int mib = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        Files.createDirectories(dir);
        PoolOptions o = PoolOptions.builder(dir.resolve("meta")).device(dir.resolve("data/dev0.img"), 0)
                .referenceCleanupIntervalSeconds(0).build();
        int io = 128 * 1024;
        long count = (long) mib * (1 << 20) / io;
        byte[][] data = new byte[64][];
        Random r = new Random(1);
        for (int i = 0; i < data.length; i++) {
            data[i] = new byte[io];
            r.nextBytes(data[i]);
        }
        try (DedupPool pool = DedupPool.open(o)) {
            for (int round = 0; round < 2; round++) {
                System.out.println(round == 0 ? "-- warm-up round (JIT compiling)" : "-- measured round");
                run(pool, "bench" + round, mib, threads, io, count, data);
            }
            pool.flush();
            System.out.println(pool.stats(false).hashMegabytesPerSecond() + " MB/s hashing per thread");
        }
    }

    private static void run(DedupPool pool, String name, int mib, int threads, int io, long count, byte[][] data)
            throws Exception {
        {
            DedupVolume v = pool.createVolume(name, 512, 2L * mib << 20, 4096);
            long salt = name.hashCode() * 1_000_000_007L;
            int spb = io / 512;
            timed("seq write 128K unique", count, threads, io, i -> {
                byte[] b = data[(int) (i % 64)].clone();
                for (int k = 0; k < io; k += 4096) {
                    ByteBuffer.wrap(b).putLong(k, i * 1000 + k + salt);
                }
                v.write(i * spb, ByteBuffer.wrap(b).asReadOnlyBuffer(), false);
            });
            pool.flush();
            timed("seq write 128K duplicate", count, threads, io, i -> {
                byte[] b = data[(int) (i % 64)].clone();
                for (int k = 0; k < io; k += 4096) {
                    ByteBuffer.wrap(b).putLong(k, i * 1000 + k + salt);
                }
                v.write(((long) mib << 20) / 512 + i * spb, ByteBuffer.wrap(b).asReadOnlyBuffer(), false);
            });
            pool.flush();
            pool.flushCaches();
            timed("seq read 128K", count, threads, io, i -> v.read(i * spb, ByteBuffer.allocate(io)));
            long blocks4k = ((long) mib << 20) / 4096;
            timed("rand write 4K", Math.min(200_000, blocks4k), threads, 4096, i -> {
                byte[] b = new byte[4096];
                ThreadLocalRandom.current().nextBytes(b);
                v.write(ThreadLocalRandom.current().nextLong(blocks4k) * 8, ByteBuffer.wrap(b).asReadOnlyBuffer(), false);
            });
            timed("rand read 4K", Math.min(200_000, blocks4k), threads, 4096,
                    i -> v.read(ThreadLocalRandom.current().nextLong(blocks4k) * 8, ByteBuffer.allocate(4096)));
            timed("QD1 write 4K", 20_000, 1, 4096, i -> {
                byte[] b = new byte[4096];
                ThreadLocalRandom.current().nextBytes(b);
                v.write(ThreadLocalRandom.current().nextLong(blocks4k) * 8, ByteBuffer.wrap(b).asReadOnlyBuffer(), false);
            });
            pool.flush();
        }
    }
}
