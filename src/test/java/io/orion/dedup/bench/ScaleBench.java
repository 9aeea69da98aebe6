package io.orion.dedup.bench;

import io.orion.dedup.cache.CacheStats;
import io.orion.dedup.config.DedupSettings;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.dedup.BenchProbe;
import io.orion.dedup.dedup.DedupMode;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.PoolOptions;
import io.orion.dedup.dedup.PoolStats;
import io.orion.dedup.dedup.PostProcessResult;
import io.orion.dedup.dedup.WorkMonitor;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Ingest at scale through the engine API ({@code scripts/bench scale N}): writes {@code N} unique
 * but compressible 4 KiB blocks into one fresh volume of a fresh pool, with 2 writer threads (both
 * cores) issuing 128 KiB writes, and prints one line per tenth of {@code N}: the rate of that
 * tenth, LMDB bytes per unique chunk and per mapped block, store bytes, resident memory, and what
 * explains a change of rate (fingerprint-cache hit rate, GC time, dirty page cache, load).
 *
 * <p>Usage: {@code ScaleBench DIR N [threads]}. The pool uses the embedded configuration's
 * deduplication settings (as {@code orion-dedup serve} without a config file does).
 *
 * <p>Each block is unique: its first 256 bytes come from a 64-bit mix of its global index, the
 * other 3,840 bytes repeat one 64-byte pattern, so LZ4 stores it in about 300 bytes (the record
 * with its header ~ 13x smaller than the block) and 10^8 blocks take about 32 GB of store.
 *
 * <p>Metadata figures are LMDB pages (branch, leaf, overflow) of each database from
 * {@code Dbi.stat}, divided by its entries: chunk table and fingerprint index per unique chunk, block
 * map per mapped block; and the used part of {@code data.mdb} (last page number x page size,
 * including LMDB's free pages, not the file size) per block.
 */
public final class ScaleBench {
    static final int BLOCK = 4096;
    static final int IO = 128 * 1024;
    static final int PER_IO = IO / BLOCK;
    static final int RANDOM_BYTES = 256;

    private ScaleBench() {
    }

    /** SplitMix64 finaliser: a cheap, well-mixed 64-bit function of {@code x}. */
    static long mix(long x) {
        x += 0x9E3779B97F4A7C15L;
        x = (x ^ (x >>> 30)) * 0xBF58476D1CE4E5B9L;
        x = (x ^ (x >>> 27)) * 0x94D049BB133111EBL;
        return x ^ (x >>> 31);
    }

    /** Fills {@code b} with the 32 blocks of write {@code w}: block {@code g} unique, compressible. */
    public static void fill(ByteBuffer b, long w, long salt) {
        for (int j = 0; j < PER_IO; j++) {
            long g = w * PER_IO + j;
            int base = j * BLOCK;
            b.putLong(base, g);
            for (int k = 8; k < RANDOM_BYTES; k += 8) {
                b.putLong(base + k, mix(g * 31 + k + salt));
            }
        }
    }

    public static byte[] template() {
        byte[] t = new byte[IO];
        byte[] pattern = "Orion Dedup scale bench: unique but compressible 4 KiB blocks. ".getBytes();
        for (int j = 0; j < PER_IO; j++) {
            for (int k = RANDOM_BYTES; k < BLOCK; k++) {
                t[j * BLOCK + k] = pattern[k % pattern.length];
            }
        }
        return t;
    }

    static long vmRssKb() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** Dirty + Writeback of the page cache, MiB. */
    static long dirtyMib() throws IOException {
        long kb = 0;
        for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (l.startsWith("Dirty:") || l.startsWith("Writeback:")) {
                kb += Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return kb >> 10;
    }

    static String load() throws IOException {
        return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    }

    static long gcMillis() {
        long ms = 0;
        for (GarbageCollectorMXBean g : ManagementFactory.getGarbageCollectorMXBeans()) {
            ms += Math.max(0, g.getCollectionTime());
        }
        return ms;
    }

    /** CPU time of this process (all threads), in nanoseconds. */
    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long n = Long.parseLong(args[1]);
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        long writes = (n + PER_IO - 1) / PER_IO;
        long blocks = writes * PER_IO;
        Files.createDirectories(dir);
        DedupSettings d = OrionConfig.defaults().deduplication();
        PoolOptions o = PoolOptions.builder(dir.resolve("meta"))
                .device(dir.resolve("store/dev0.img"), 0)
                .hashCacheSize(d.hashCacheSize()).cacheSize(d.cacheSize())
                .compressionEnabled(d.compressionEnabled()).compressionThreshold(d.compressionThreshold())
                .compressionLevel(d.compressionLevel())
                .referenceMaxCount((int) Math.min(Integer.MAX_VALUE, d.referenceMaxCount()))
                .referenceCleanupIntervalSeconds(0).metadataMapSize(d.referenceMetadataSize()).build();
        long salt = System.nanoTime();
        byte[] template = template();
        System.out.printf("scale bench: %,d unique 4 KiB blocks (%,d writes of 128 KiB, %d threads), %d cores,"
                        + " heap %d MiB, fingerprint cache %d MiB, block cache %d MiB, %s%n",
                blocks, writes, threads, Runtime.getRuntime().availableProcessors(),
                Runtime.getRuntime().maxMemory() >> 20, d.hashCacheSize() >> 20, d.cacheSize() >> 20, dir);
        System.out.printf("%5s %12s %8s %9s %8s %8s %8s %8s %9s %7s %7s %6s %7s %6s %6s%n",
                "tenth", "blocks", "secs", "blocks/s", "B/chunk", "B/block", "mdb/blk", "mdb MiB", "store MiB",
                "RSS MiB", "fp hit%", "GC ms", "dirty", "load", "ratio");
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("scale", BLOCK, blocks * BLOCK, BLOCK);
            DedupMode mode = DedupMode.parse(System.getenv().getOrDefault("ORION_BENCH_DEDUP", "inline"));
            if (mode == null) {
                throw new IllegalArgumentException("ORION_BENCH_DEDUP must be inline, post or off");
            }
            BenchProbe.mode(v, mode);
            System.out.println("volume dedup mode: " + mode.label());
            AtomicLong next = new AtomicLong();
            AtomicLong done = new AtomicLong();
            long tenth = Math.max(1, writes / 10);
            // when the number of completed writes reached each tenth (set by the writer that completed it)
            AtomicLongArray crossed = new AtomicLongArray(11);
            Thread[] ts = new Thread[threads];
            Throwable[] failure = new Throwable[1];
            for (int t = 0; t < threads; t++) {
                ts[t] = new Thread(() -> {
                    byte[] buf = template.clone();
                    ByteBuffer b = ByteBuffer.wrap(buf);
                    ByteBuffer ro = b.asReadOnlyBuffer();
                    long w;
                    try {
                        while ((w = next.getAndIncrement()) < writes) {
                            fill(b, w, salt);
                            v.write(w * PER_IO, ro.clear(), false);
                            long c = done.incrementAndGet();
                        if (c % tenth == 0 && c / tenth <= 10 || c == writes) {
                            crossed.set((int) Math.min(10, (c + tenth - 1) / tenth), System.nanoTime());
                        }
                        }
                    } catch (Throwable e) {
                        synchronized (failure) {
                            failure[0] = e;
                        }
                        next.set(writes);
                    }
                }, "scale-writer-" + t);
            }
            long t0 = System.nanoTime();
            long writeCpu0 = processCpuNanos();
            for (Thread t : ts) {
                t.start();
            }
                long lastT = t0;
            long lastDone = 0;
            long lastGc = gcMillis();
            CacheStats lastFp = pool.fingerprintCacheStats();
            double firstRate = 0;
            long halfCpu = 0;
            long halfDone = 0;
            for (int k = 1; k <= 10; k++) {
                long target = k == 10 ? writes : k * tenth;
                while ((done.get() < target || crossed.get(k) == 0) && failure[0] == null) {
                    Thread.sleep(20);
                }
                if (failure[0] != null) {
                    throw new IllegalStateException("writer failed", failure[0]);
                }
                long now = crossed.get(k);
                long doneNow = k == 10 ? writes : k * tenth;
                double rate = (doneNow - lastDone) * PER_IO / ((now - lastT) / 1e9);
                if (k == 1) {
                    firstRate = rate;
                }
                long[] m = BenchProbe.metadata(pool);
                long[] entries = {m[0], m[1], m[2]};
                long[] pages = {m[3], m[4], m[5]};
                long mdbUsed = m[6];
                PoolStats s = pool.stats(false);
                CacheStats fp = pool.fingerprintCacheStats();
                long hits = fp.hits() - lastFp.hits();
                long misses = fp.misses() - lastFp.misses();
                long gc = gcMillis();
                System.out.printf("%5d %12d %8.1f %9.0f %8.1f %8.1f %8.1f %8d %9d %7d %7.1f %6d %7d %6s %6.2f%n",
                        k, doneNow * PER_IO, (now - t0) / 1e9, rate,
                        (double) (pages[1] + pages[2]) / Math.max(1, entries[1]),
                        (double) pages[0] / Math.max(1, entries[0]),
                        (double) mdbUsed / Math.max(1, entries[0]), mdbUsed >> 20, s.storedBytes() >> 20,
                        vmRssKb() >> 10, hits + misses == 0 ? 0 : 100.0 * hits / (hits + misses), gc - lastGc,
                        dirtyMib(), load(), rate / firstRate);
                if (k == 5) {
                    // the second half's CPU leaves out most of the JIT's compiling (a third of the
                    // CPU of a 200,000-block run went to C1/C2 threads), so builds compare on the work
                    halfCpu = processCpuNanos();
                    halfDone = doneNow;
                }
                lastT = now;
                lastDone = doneNow;
                lastGc = gc;
                lastFp = fp;
            }
            for (Thread t : ts) {
                t.join();
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            long endCpu = processCpuNanos();
            pool.flush();
            System.out.printf("writes: %.1f µs CPU per block (all threads of the process); second half %.1f µs;"
                    + " JIT compiling %,d ms in all%n", (processCpuNanos() - writeCpu0) / 1e3 / blocks,
                    (endCpu - halfCpu) / 1e3 / Math.max(1, (writes - halfDone) * PER_IO),
                    ManagementFactory.getCompilationMXBean().getTotalCompilationTime());
            if (mode == DedupMode.POST) {
                long p0 = System.nanoTime();
                long cpu0 = processCpuNanos();
                PostProcessResult r = pool.postProcess(WorkMonitor.NONE);
                pool.flush();
                double ps = (System.nanoTime() - p0) / 1e9;
                System.out.printf("post-process pass: %,d staged blocks in %.1f s = %.0f blocks/s, %.1f µs CPU per block;"
                                + " %s%n", r.blocksExamined(), ps, r.blocksExamined() / ps,
                        (processCpuNanos() - cpu0) / 1e3 / Math.max(1, r.blocksExamined()), r);
            }
            PoolStats s = pool.stats(false);
            System.out.printf("total: %,d blocks in %.1f s = %.0f blocks/s; unique chunks %,d, logical %d MiB,"
                            + " stored %d MiB (%.1fx), metadata (data.mdb used) %d MiB%n",
                    blocks, secs, blocks / secs, s.uniqueChunks(), s.logicalBytes() >> 20, s.storedBytes() >> 20,
                    (double) s.uniqueBytes() / Math.max(1, s.storedBytes()), s.metadataBytes() >> 20);
            if (s.uniqueChunks() != blocks) {
                throw new IllegalStateException("expected " + blocks + " unique chunks, the pool has " + s.uniqueChunks());
            }
        }
    }
}
