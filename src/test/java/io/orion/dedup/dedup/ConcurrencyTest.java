package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Parallel writers of identical content, sub-block read-modify-write races, compare-and-write atomicity. */
class ConcurrencyTest {
    @TempDir
    Path dir;

    private static void runAll(int threads, Callable<Void> task) throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Void>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                fs.add(ex.submit(task));
            }
            for (Future<Void> f : fs) {
                f.get();
            }
        } finally {
            ex.shutdownNow();
        }
    }

    @Test
    void parallelWritersOfTheSameContentStoreOneChunk() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 26, 4096);
            byte[] content = PoolFixture.random(11, 16 * 4096);
            java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
            runAll(8, () -> {
                int me = next.getAndIncrement();
                for (int round = 0; round < 20; round++) {
                    v.write((me * 20L + round) * 16, ByteBuffer.wrap(content), false);
                }
                return null;
            });
            PoolStats s = pool.stats();
            assertEquals(16, s.uniqueChunks());
            assertEquals(16L * (4096 + 60), s.storedBytes());
            assertEquals(0, s.reclaimableBytes(), "no duplicate record was stored and discarded");
            for (int i = 0; i < 160; i++) {
                assertArrayEquals(content, PoolFixture.read(v, i * 16L, 16).array());
            }
        }
    }

    @Test
    void concurrentSectorWritesIntoOneDedupBlockAllSurvive() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 512, 1 << 20, 16384);
            int sectors = 32;
            for (int round = 0; round < 10; round++) {
                int r = round;
                java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
                runAll(8, () -> {
                    int s;
                    while ((s = next.getAndIncrement()) < sectors) {
                        v.write(s, ByteBuffer.wrap(PoolFixture.random(r * 1000 + s, 512)), false);
                    }
                    return null;
                });
                ByteBuffer got = PoolFixture.read(v, 0, sectors);
                for (int s = 0; s < sectors; s++) {
                    byte[] sector = new byte[512];
                    got.get(sector);
                    assertArrayEquals(PoolFixture.random(r * 1000 + s, 512), sector, "round " + r + " sector " + s);
                }
            }
        }
    }

    @Test
    void compareAndWriteIsAtomic() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 512, 1 << 20, 4096);
            v.write(0, ByteBuffer.allocate(512), false);
            int threads = 6;
            int perThread = 40;
            runAll(threads, () -> {
                int done = 0;
                while (done < perThread) {
                    ByteBuffer cur = PoolFixture.read(v, 0, 1);
                    long n = cur.getLong(0);
                    ByteBuffer next = ByteBuffer.allocate(512).putLong(0, n + 1);
                    if (v.compareAndWrite(0, cur, next, false) < 0) {
                        done++;
                    }
                }
                return null;
            });
            assertEquals(threads * perThread, PoolFixture.read(v, 0, 1).getLong(0));
        }
    }
}
