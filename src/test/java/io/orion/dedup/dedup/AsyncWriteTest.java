package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.IoBatch;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes whose metadata commit is left to the group committer ({@link DedupVolume#writeAsync}), and
 * bursts of them run as one batch with one deferred commit ({@link IoBatch}).
 */
class AsyncWriteTest {
    @TempDir
    Path dir;

    /** Submits {@code writes} as one burst to a single I/O thread, as the iSCSI transport does. */
    private static List<CompletableFuture<Void>> burst(ExecutorService io, DedupVolume v, long[] lbas, byte[][] data) {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        IoBatch batch = new IoBatch();
        for (int i = 0; i < lbas.length; i++) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            done.add(f);
            long lba = lbas[i];
            ByteBuffer src = ByteBuffer.wrap(data[i]);
            batch.submit(io, scope -> v.writeAsync(lba, src, false, scope).whenComplete((x, e) -> {
                if (e == null) {
                    f.complete(null);
                } else {
                    f.completeExceptionally(e);
                }
            }));
        }
        batch.dispatch();
        return done;
    }

    private static void awaitAll(List<CompletableFuture<Void>> fs) throws Exception {
        CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    }

    @Test
    void overlappingWritesOfOneBurstApplyInOrderWithoutWaitingForThemselves() throws Exception {
        ExecutorService io = Executors.newSingleThreadExecutor();
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 26, 4096);
            // block 7 three times and a sector-sized neighbour: the second write of block 7 needs the
            // stripe the first holds until its (deferred) commit, on the same thread
            long[] lbas = {7, 8, 7, 100, 7};
            byte[][] data = new byte[lbas.length][];
            for (int i = 0; i < lbas.length; i++) {
                data[i] = PoolFixture.random(40 + i, 4096);
            }
            awaitAll(burst(io, v, lbas, data));
            assertArrayEquals(data[4], PoolFixture.read(v, 7, 1).array(), "the last write of block 7 wins");
            assertArrayEquals(data[1], PoolFixture.read(v, 8, 1).array());
            assertArrayEquals(data[3], PoolFixture.read(v, 100, 1).array());
            assertEquals(3L * 4096, v.stats().logicalBytes(), "three blocks mapped");
        } finally {
            io.shutdownNow();
        }
    }

    @Test
    void concurrentBurstsFromManyThreadsAllCommitAndSurviveAReopen() throws Exception {
        int threads = 4;
        int bursts = 40;
        int perBurst = 8;
        ExecutorService io = Executors.newFixedThreadPool(threads);
        ExecutorService transports = Executors.newFixedThreadPool(threads);
        byte[][][] last = new byte[threads][16][];
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 26, 4096);
            List<java.util.concurrent.Future<?>> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int me = t;
                ts.add(transports.submit(() -> {
                    java.util.Random rnd = new java.util.Random(me);
                    for (int b = 0; b < bursts; b++) {
                        long[] lbas = new long[perBurst];
                        byte[][] data = new byte[perBurst][];
                        for (int i = 0; i < perBurst; i++) {
                            int slot = rnd.nextInt(16);
                            lbas[i] = me * 16L + slot;
                            // every fourth block repeats earlier content: dedup inside the burst too
                            data[i] = PoolFixture.random(i % 4 == 0 ? 7 : me * 100_000 + b * 100 + i, 4096);
                            last[me][slot] = data[i];
                        }
                        awaitAll(burst(io, v, lbas, data));
                    }
                    return null;
                }));
            }
            for (var f : ts) {
                f.get(120, TimeUnit.SECONDS);
            }
            v.flush();
        } finally {
            io.shutdownNow();
            transports.shutdownNow();
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int t = 0; t < threads; t++) {
                for (int slot = 0; slot < 16; slot++) {
                    if (last[t][slot] != null) {
                        assertArrayEquals(last[t][slot], PoolFixture.read(v, t * 16L + slot, 1).array(),
                                "thread " + t + " slot " + slot);
                    }
                }
            }
            assertTrue(pool.verify().clean(), "every chunk checks out after the reopen");
        }
    }

    /**
     * A write on a transport thread (an inline scope) whose block lock another thread's write holds
     * does not wait for it there: the transport serves other connections. It goes to the I/O
     * executor, waits there, and lands after the holder's write.
     */
    @Test
    void inlineWriteGoesToTheIoThreadWhenAnotherThreadHoldsItsBlockLock() throws Exception {
        ExecutorService io = Executors.newSingleThreadExecutor();
        ExecutorService transport = Executors.newSingleThreadExecutor();
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 26, 4096);
            byte[] first = PoolFixture.random(1, 4096);
            byte[] second = PoolFixture.random(2, 4096);
            assertTrue(v.quickWrite(5, 4096), "a whole-block write is light");
            // an I/O thread's write of block 5 holds its lock until its scope's deferred commit
            IoBatch.Scope holder = new IoBatch.Scope(io, false);
            CompletableFuture<Void> held = v.writeAsync(5, ByteBuffer.wrap(first), false, holder);
            CompletableFuture<Void> light = new CompletableFuture<>();
            transport.submit(() -> {
                IoBatch batch = new IoBatch();
                batch.submit(io, scope -> v.writeAsync(5, ByteBuffer.wrap(second), false, scope).whenComplete((x, e) -> {
                    if (e == null) {
                        light.complete(null);
                    } else {
                        light.completeExceptionally(e);
                    }
                }), 4096);
                batch.dispatch();
            }).get(10, TimeUnit.SECONDS); // the transport thread came back without the lock
            assertFalse(held.isDone());
            assertFalse(light.isDone(), "the light write waits for the lock on the I/O thread");
            holder.runDeferred(); // the holder commits and lets go of block 5
            held.get(10, TimeUnit.SECONDS);
            light.get(10, TimeUnit.SECONDS);
            assertArrayEquals(second, PoolFixture.read(v, 5, 1).array(), "the handed-off write landed last");
        } finally {
            io.shutdownNow();
            transport.shutdownNow();
        }
    }

    /** Only a write that cannot wait is light: whole dedup blocks, verify off. */
    @Test
    void onlyWholeDedupBlockWritesWithVerifyOffAreLight() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 512, 1 << 26, 4096);
            assertTrue(v.quickWrite(8, 4096));
            assertTrue(v.quickWrite(16, 64 * 1024));
            assertFalse(v.quickWrite(1, 4096), "a write that starts inside a dedup block reads it first");
            assertFalse(v.quickWrite(8, 512), "a write that ends inside a dedup block reads it first");
        }
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir.resolve("verify")).verify(true).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 26, 4096);
            assertFalse(v.quickWrite(0, 4096), "verify compares stored bytes before it shares a chunk");
        }
    }
}
