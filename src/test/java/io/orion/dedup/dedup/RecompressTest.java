package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.containers.Container;
import io.orion.dedup.containers.RecordFormat;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code dedup-compression-optimize}: chunks written while compression was off are recompressed
 * online once it is on; data, stats, restart and scrub stay exact.
 */
class RecompressTest {
    static final int BLOCKS = 2048;

    @TempDir
    Path dir;

    /**
     * Content of block {@code lba}: every 4th block random (incompressible), every 8th+1 a copy of
     * the block before it (a duplicate), every 16th+2 zeros, the rest compressible and unique.
     */
    static byte[] content(long lba) {
        if (lba % 16 == 2) {
            return new byte[4096];
        }
        if (lba % 8 == 1) {
            return content(lba - 1);
        }
        if (lba % 4 == 0) {
            return PoolFixture.random(lba, 4096);
        }
        return PoolFixture.compressible(lba, 4096);
    }

    static long distinctRandom() {
        long n = 0;
        for (long lba = 0; lba < BLOCKS; lba++) {
            if (lba % 16 != 2 && lba % 8 != 1 && lba % 4 == 0) {
                n++;
            }
        }
        return n;
    }

    static long distinctCompressible() {
        long n = 0;
        for (long lba = 0; lba < BLOCKS; lba++) {
            if (lba % 16 != 2 && lba % 8 != 1 && lba % 4 != 0) {
                n++;
            }
        }
        return n;
    }

    /** Writes the test content with compression disabled (every chunk stored raw), then closes. */
    static void writeRaw(Path dir) throws Exception {
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, BLOCKS * 4096L, 4096);
            for (int lba = 0; lba < BLOCKS; lba += 64) {
                ByteBuffer buf = ByteBuffer.allocate(64 * 4096);
                for (int i = 0; i < 64; i++) {
                    buf.put(content(lba + i));
                }
                v.write(lba, buf.flip(), false);
            }
            pool.flush();
            PoolStats s = pool.stats();
            assertEquals(distinctRandom() + distinctCompressible(), s.uniqueChunks());
            assertEquals(s.uniqueChunks() * (4096 + RecordFormat.HEADER), s.storedBytes(), "everything is stored raw");
        }
    }

    static void assertContent(DedupPool pool) throws Exception {
        pool.flushCaches();
        DedupVolume v = pool.openVolume("lun").orElseThrow();
        for (int lba = 0; lba < BLOCKS; lba++) {
            assertArrayEquals(content(lba), PoolFixture.read(v, lba, 1).array(), "lba " + lba);
        }
    }

    /**
     * The counters agree with the chunk records: per container, live bytes and count equal what the
     * chunk database places there; the pool's stored and unique figures equal the chunks' sums.
     */
    static void assertAccountingExact(DedupPool pool) throws Exception {
        Map<Integer, long[]> live = new HashMap<>();
        long[] sums = new long[3];
        try (MetaTxn t = pool.meta().read()) {
            t.scanChunks(1, r -> {
                long[] c = live.computeIfAbsent(r.containerId(), k -> new long[2]);
                c[0] += r.length();
                c[1]++;
                sums[0]++;
                sums[1] += r.originalLength();
                sums[2] += r.length();
                return true;
            });
        }
        PoolStats s = pool.stats();
        assertEquals(sums[0], s.uniqueChunks());
        assertEquals(sums[1], s.uniqueBytes());
        assertEquals(sums[2], s.storedBytes());
        long reclaimable = 0;
        for (Container c : pool.store().containers()) {
            long[] want = live.getOrDefault(c.id(), new long[2]);
            assertEquals(want[0], c.liveBytes(), "live bytes of container " + c.id());
            assertEquals(want[1], c.liveCount(), "live chunks of container " + c.id());
            reclaimable += c.deadBytes();
        }
        assertEquals(reclaimable, s.reclaimableBytes());
        assertEquals(s.storedBytes(), pool.openVolume("lun").orElseThrow().stats().storedBytes());
    }

    @Test
    void recompressesRawChunksOnceCompressionIsOn() throws Exception {
        writeRaw(dir);
        PoolOptions on = PoolFixture.options(dir).compressionEnabled(true).compressionThreshold(0.8).build();
        PoolStats before;
        PoolStats after;
        RecompressResult r;
        try (DedupPool pool = DedupPool.open(on)) {
            before = pool.stats();
            r = pool.recompress();
            after = pool.stats();
            assertTrue(r.compressionEnabled());
            assertEquals("lz4-fast", r.compressor());
            assertEquals(before.uniqueChunks(), r.chunksScanned());
            assertEquals(before.uniqueChunks(), r.chunksExamined());
            assertEquals(distinctCompressible(), r.rawChunksCompressed(), r.toString());
            assertEquals(distinctCompressible(), r.chunksRecompressed());
            assertEquals(0, r.lz4ChunksRecompressed());
            assertEquals(distinctRandom(), r.chunksLeftRaw(), "incompressible chunks stay raw: " + r);
            assertEquals(0, r.chunksFailedCheck());
            assertEquals(0, r.chunksChangedMeanwhile());
            assertFalse(r.limitReached());
            assertEquals(distinctCompressible() * (4096 + RecordFormat.HEADER), r.bytesBefore());
            assertEquals(r.bytesBefore() - r.bytesAfter(), r.bytesSaved());
            assertTrue(r.bytesAfter() < r.bytesBefore() / 4, r.toString());

            assertEquals(before.storedBytes() - r.bytesSaved(), after.storedBytes(), "stored bytes drop by the saving");
            assertEquals(before.uniqueBytes(), after.uniqueBytes());
            assertEquals(before.uniqueChunks(), after.uniqueChunks());
            assertEquals(before.logicalBytes(), after.logicalBytes());
            assertEquals(before.reclaimableBytes() + r.reclaimableAddedBytes(), after.reclaimableBytes());
            assertEquals(r.bytesBefore(), r.reclaimableAddedBytes(), "the old records are garbage now");
            assertEquals((double) after.uniqueBytes() / after.storedBytes(), after.compressionRatio(), 1e-12);
            assertEquals(storedWhenAllCompressed(0.8), after.storedBytes(), "exactly the LZ4 sizes of the content");
            assertTrue(after.compressionRatio() > 1.5, after.toString());
            assertContent(pool);
            assertAccountingExact(pool);
            ScrubResult scrub = pool.verify();
            assertTrue(scrub.clean(), scrub.toString());
            assertEquals(after.uniqueChunks(), scrub.chunksChecked());

            RecompressResult again = pool.recompress();
            assertEquals(0, again.chunksRecompressed(), "a second pass finds nothing that pays: " + again);
            assertEquals(distinctRandom(), again.chunksLeftRaw());
            assertEquals(distinctRandom(), again.chunksExamined(), "only the raw chunks are candidates");
            assertEquals(0, again.bytesSaved());
            assertEquals(after.storedBytes(), pool.stats().storedBytes());
        }
        try (DedupPool pool = DedupPool.open(on)) {
            PoolStats reopened = pool.stats();
            assertEquals(after.storedBytes(), reopened.storedBytes());
            assertEquals(after.uniqueBytes(), reopened.uniqueBytes());
            assertEquals(after.uniqueChunks(), reopened.uniqueChunks());
            assertEquals(after.reclaimableBytes(), reopened.reclaimableBytes());
            assertEquals(after.logicalBytes(), reopened.logicalBytes());
            assertContent(pool);
            assertAccountingExact(pool);
            assertTrue(pool.verify().clean());

            // cleanup compacts the old raw records away; the data stays
            CleanupResult c = pool.cleanup();
            assertTrue(c.bytesReclaimed() > 0, c.toString());
            PoolStats cleaned = pool.stats();
            assertEquals(after.storedBytes(), cleaned.storedBytes());
            assertTrue(cleaned.reclaimableBytes() < after.reclaimableBytes() / 2, cleaned.toString());
            assertContent(pool);
            assertAccountingExact(pool);
            assertTrue(pool.verify().clean());
        }
        // the data also reads back with compression switched off again (records say how they are stored)
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build())) {
            assertContent(pool);
            RecompressResult off = pool.recompress();
            assertFalse(off.compressionEnabled());
            assertEquals(0, off.chunksExamined());
        }
    }

    /** Stored bytes once every compressible chunk is an LZ4 record and every other one is raw. */
    static long storedWhenAllCompressed(double threshold) {
        io.orion.dedup.containers.Compression lz4 = new io.orion.dedup.containers.Compression(true, threshold, 1);
        java.util.Set<ByteBuffer> seen = new java.util.HashSet<>();
        long stored = 0;
        for (long lba = 0; lba < BLOCKS; lba++) {
            byte[] b = content(lba);
            if (lba % 16 == 2 || !seen.add(ByteBuffer.wrap(b))) {
                continue;
            }
            byte[] packed = lz4.tryCompress(ByteBuffer.wrap(b));
            stored += RecordFormat.HEADER + (packed == null ? b.length : packed.length);
        }
        return stored;
    }

    @Test
    void killNineDuringThePassLeavesEveryChunkReadable() throws Exception {
        int finished = 0;
        for (int round = 0; round < 5; round++) {
            Path d = dir.resolve("round" + round);
            writeRaw(d);
            String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            java.util.List<String> cmd = java.util.List.of(javaBin, "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                    "-cp", System.getProperty("java.class.path"), RecompressCrashChild.class.getName(), d.toString());
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            AtomicLong passes = new AtomicLong();
            AtomicBoolean started = new AtomicBoolean();
            AtomicBoolean done = new AtomicBoolean();
            Thread reader = new Thread(() -> {
                try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(
                        p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        if (line.equals("START")) {
                            started.set(true);
                        } else if (line.startsWith("PASS ")) {
                            passes.incrementAndGet();
                        } else if (line.equals("DONE")) {
                            done.set(true);
                        }
                    }
                } catch (java.io.IOException e) {
                    // the child died
                }
            });
            reader.start();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!started.get() && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(started.get(), "child opened the pool");
            // somewhere in the middle of the passes (a few passes take a few ms each)
            Thread.sleep(ThreadLocalRandom.current().nextInt(5, 400));
            p.destroyForcibly();
            p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            reader.join(10_000);
            if (done.get()) {
                finished++;
            }
            try (DedupPool pool = DedupPool.open(PoolFixture.options(d).compressionEnabled(true).build())) {
                assertNull(pool.readOnlyReason());
                assertContent(pool);
                assertAccountingExact(pool);
                ScrubResult s = pool.verify();
                assertTrue(s.clean(), "round " + round + " after " + passes.get() + " passes: " + s);
                RecompressResult rest = pool.recompress();
                assertEquals(0, rest.chunksFailedCheck());
                assertEquals(storedWhenAllCompressed(0.9), pool.stats().storedBytes(),
                        "round " + round + ": every compressible chunk compressed exactly once");
                assertContent(pool);
                assertAccountingExact(pool);
                assertTrue(pool.verify().clean());
            }
        }
        assertTrue(finished < 5, "at least one child was killed before it finished");
    }

    @Test
    void aDamagedRecordIsCountedAndLeftAsItIs() throws Exception {
        writeRaw(dir);
        PoolOptions on = PoolFixture.options(dir).compressionEnabled(true).build();
        io.orion.dedup.meta.ChunkRecord victim;
        long deviceOffset;
        try (DedupPool pool = DedupPool.open(on)) {
            long id;
            try (MetaTxn t = pool.meta().read()) {
                // the chunk of block 5 (compressible, unique)
                id = t.block(pool.openVolume("lun").orElseThrow().state().id, 5);
                victim = t.chunk(id);
            }
            Container c = pool.store().container(victim.containerId());
            deviceOffset = c.device().slotBase(c.slot()) + victim.offset() + RecordFormat.HEADER + 100;
        }
        try (java.nio.channels.FileChannel f = java.nio.channels.FileChannel.open(dir.resolve("data/dev0.img"),
                java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            f.read(b, deviceOffset);
            b.put(0, (byte) (b.get(0) ^ 0x40)).rewind();
            f.write(b, deviceOffset);
        }
        try (DedupPool pool = DedupPool.open(on)) {
            PoolStats before = pool.stats();
            RecompressResult r = pool.recompress();
            assertEquals(1, r.chunksFailedCheck(), r.toString());
            assertEquals(distinctCompressible() - 1, r.rawChunksCompressed(), r.toString());
            assertEquals(before.checksumErrors() + 1, pool.stats().checksumErrors());
            assertEquals(before.storedBytes() - r.bytesSaved(), pool.stats().storedBytes());
            try (MetaTxn t = pool.meta().read()) {
                assertEquals(victim.location(), t.chunk(victim.id()).location(), "the damaged chunk was not moved");
            }
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            org.junit.jupiter.api.Assertions.assertThrows(io.orion.dedup.blockdev.ChecksumMismatchException.class,
                    () -> PoolFixture.read(v, 5, 1), "the damage is still reported, never laundered");
            for (int lba = 0; lba < BLOCKS; lba++) {
                if (lba != 5) {
                    assertArrayEquals(content(lba), PoolFixture.read(v, lba, 1).array(), "lba " + lba);
                }
            }
            assertAccountingExact(pool);
            assertEquals(1, pool.verify().crcErrors());
        }
    }

    @Test
    void withCompressionDisabledThePassDoesNothingAndSaysSo() throws Exception {
        writeRaw(dir);
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build())) {
            PoolStats before = pool.stats();
            RecompressResult r = pool.recompress();
            assertFalse(r.compressionEnabled());
            assertEquals("none", r.compressor());
            assertEquals(0, r.chunksScanned());
            assertEquals(0, r.chunksRecompressed());
            assertEquals(0, r.bytesSaved());
            PoolStats after = pool.stats();
            assertEquals(before.storedBytes(), after.storedBytes());
            assertEquals(before.reclaimableBytes(), after.reclaimableBytes());
        }
    }

    @Test
    void boundsStopThePassAndTheNextPassContinues() throws Exception {
        writeRaw(dir);
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(true).build())) {
            long stored0 = pool.stats().storedBytes();
            RecompressResult first = pool.recompress(1, 100, 0);
            assertTrue(first.limitReached());
            assertTrue(first.nextChunkId() > 1);
            assertEquals(100, first.chunksExamined());
            assertEquals(100, first.chunksRecompressed() + first.chunksLeftRaw());
            assertTrue(first.chunksRecompressed() > 0);
            assertEquals(stored0 - first.bytesSaved(), pool.stats().storedBytes());
            RecompressResult bytes = pool.recompress(first.nextChunkId(), 0, 40 * 4096);
            assertTrue(bytes.limitReached());
            assertEquals(40, bytes.chunksExamined());
            assertEquals(40, bytes.chunksRecompressed() + bytes.chunksLeftRaw(), "no chunk examined twice");
            RecompressResult rest = pool.recompress(bytes.nextChunkId(), 0, 0);
            assertFalse(rest.limitReached());
            assertEquals(0, rest.nextChunkId());
            assertEquals(distinctCompressible(),
                    first.chunksRecompressed() + bytes.chunksRecompressed() + rest.chunksRecompressed());
            assertEquals(distinctRandom(), first.chunksLeftRaw() + bytes.chunksLeftRaw() + rest.chunksLeftRaw());
            assertEquals(stored0 - first.bytesSaved() - bytes.bytesSaved() - rest.bytesSaved(),
                    pool.stats().storedBytes());
            assertContent(pool);
            assertAccountingExact(pool);
        }
    }

    @Test
    void lz4HcRecodesFastRecordsOnlyWhenSmaller() throws Exception {
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(true).compressionLevel(1)
                .build())) {
            DedupVolume v = pool.createVolume("lun", 4096, BLOCKS * 4096L, 4096);
            for (int lba = 0; lba < BLOCKS; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba)), false);
            }
        }
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(true).compressionLevel(9)
                .build())) {
            PoolStats before = pool.stats();
            RecompressResult r = pool.recompress();
            assertEquals("lz4-hc-9", r.compressor());
            assertEquals(before.uniqueChunks(), r.chunksExamined(), "raw and LZ4 chunks are both candidates with HC");
            assertEquals(0, r.rawChunksCompressed());
            assertEquals(r.chunksRecompressed(), r.lz4ChunksRecompressed());
            assertEquals(distinctCompressible(), r.lz4ChunksRecompressed() + r.chunksKept(), r.toString());
            assertEquals(before.storedBytes() - r.bytesSaved(), pool.stats().storedBytes());
            assertTrue(r.bytesSaved() >= 0);
            assertContent(pool);
            assertAccountingExact(pool);
            RecompressResult again = pool.recompress();
            assertEquals(0, again.chunksRecompressed(), again.toString());
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void readersAndWritersStayCorrectDuringThePass() throws Exception {
        writeRaw(dir);
        PoolOptions on = PoolFixture.options(dir).compressionEnabled(true).gcBytesPerSecond(4L << 20).build();
        byte[][] now = new byte[BLOCKS][];
        for (int lba = 0; lba < BLOCKS; lba++) {
            now[lba] = content(lba);
        }
        try (DedupPool pool = DedupPool.open(on)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicLong ops = new AtomicLong();
            Object[] guard = new Object[BLOCKS];
            for (int i = 0; i < BLOCKS; i++) {
                guard[i] = new Object();
            }
            Thread[] threads = new Thread[3];
            for (int t = 0; t < threads.length; t++) {
                boolean writer = t == 0;
                threads[t] = new Thread(() -> {
                    try {
                        ThreadLocalRandom rnd = ThreadLocalRandom.current();
                        while (!stop.get()) {
                            int lba = rnd.nextInt(BLOCKS);
                            synchronized (guard[lba]) {
                                if (writer) {
                                    // overwrite with another block's content: frees or shares chunks under the pass
                                    byte[] data = content(rnd.nextInt(BLOCKS));
                                    v.write(lba, ByteBuffer.wrap(data), false);
                                    now[lba] = data;
                                } else {
                                    assertArrayEquals(now[lba], PoolFixture.read(v, lba, 1).array(), "lba " + lba);
                                }
                            }
                            if (ops.incrementAndGet() % 128 == 0) {
                                pool.flushCaches();
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
                threads[t].start();
            }
            RecompressResult r = pool.recompress();
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("foreground I/O failed during recompression", failure.get());
            }
            assertTrue(ops.get() > 100, "foreground I/O ran: " + ops.get());
            assertTrue(r.chunksRecompressed() > 0, r.toString());
            assertEquals(0, r.chunksFailedCheck());
            pool.flushCaches();
            for (int lba = 0; lba < BLOCKS; lba++) {
                assertArrayEquals(now[lba], PoolFixture.read(v, lba, 1).array(), "lba " + lba);
            }
            assertAccountingExact(pool);
            assertTrue(pool.verify().clean());
        }
        try (DedupPool pool = DedupPool.open(on)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 0; lba < BLOCKS; lba++) {
                assertArrayEquals(now[lba], PoolFixture.read(v, lba, 1).array(), "lba " + lba);
            }
            assertAccountingExact(pool);
            assertNull(pool.readOnlyReason());
        }
    }
}
