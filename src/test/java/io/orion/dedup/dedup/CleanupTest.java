package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.containers.SlotHeader;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Garbage collection while a reader verifies live data; space is reclaimed and reused. */
class CleanupTest {
    @TempDir
    Path dir;

    private static byte[] content(int lba, int gen) {
        return PoolFixture.random(lba * 31L + gen * 1_000_003L, 4096);
    }

    @Test
    void compactsAfterOverwritingThreeQuartersWhileAReaderVerifies() throws Exception {
        int blocks = 4096;
        int[] gen = new int[blocks];
        PoolOptions o = PoolFixture.options(dir).gcBytesPerSecond(1L << 30).build();
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", 4096, blocks * 4096L, 4096);
            for (int lba = 0; lba < blocks; lba += 32) {
                ByteBuffer buf = ByteBuffer.allocate(32 * 4096);
                for (int i = 0; i < 32; i++) {
                    buf.put(content(lba + i, 0));
                }
                v.write(lba, buf.flip(), false);
            }
            for (int lba = 0; lba < blocks; lba++) {
                if (lba % 4 != 0) {
                    gen[lba] = 1;
                    v.write(lba, ByteBuffer.wrap(content(lba, 1)), false);
                }
            }
            pool.flush();
            PoolStats before = pool.stats();
            assertTrue(before.reclaimableBytes() > 0.7 * blocks * 4096, before.toString());

            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> readerFailure = new AtomicReference<>();
            AtomicLong reads = new AtomicLong();
            Thread reader = new Thread(() -> {
                try {
                    while (!stop.get()) {
                        int lba = ThreadLocalRandom.current().nextInt(blocks);
                        assertArrayEquals(content(lba, gen[lba]), PoolFixture.read(v, lba, 1).array(), "lba " + lba);
                        reads.incrementAndGet();
                        if (reads.get() % 64 == 0) {
                            pool.flushCaches();
                        }
                    }
                } catch (Throwable t) {
                    readerFailure.set(t);
                }
            });
            reader.start();
            CleanupResult r = pool.cleanup();
            Thread.sleep(100);
            stop.set(true);
            reader.join();
            if (readerFailure.get() != null) {
                throw new AssertionError("reader saw bad data during cleanup", readerFailure.get());
            }
            assertTrue(reads.get() > 0);
            assertTrue(r.containersCompacted() > 0, r.toString());
            assertTrue(r.bytesReclaimed() > 0.7 * blocks * 4096, r.toString());
            // no more chunks than were dead (3/4 of the blocks), most of them: the containers compacted
            // also held some live chunks, copied out and not counted
            assertTrue(r.chunksReclaimed() <= blocks * 3 / 4 && r.chunksReclaimed() >= blocks * 3 / 4 * 9 / 10,
                    r.toString());

            PoolStats after = pool.stats();
            long used = 0;
            for (DeviceStats d : after.devices()) {
                used += d.usedBytes() - (long) d.containers() * SlotHeader.SIZE;
            }
            assertEquals(before.storedBytes(), after.storedBytes());
            assertTrue(used <= after.storedBytes() * 1.05, "used " + used + " live " + after.storedBytes());
            assertTrue(after.reclaimableBytes() <= after.storedBytes() * 0.05, after.toString());

            for (int lba = 0; lba < blocks; lba++) {
                assertArrayEquals(content(lba, gen[lba]), PoolFixture.read(v, lba, 1).array());
            }
            assertTrue(pool.verify().clean());
            long fileBefore = Files.size(dir.resolve("data/dev0.img"));
            // freed space is reused: writing as much again does not grow the device file
            for (int lba = 0; lba < blocks; lba += 4) {
                gen[lba] = 2;
                v.write(lba, ByteBuffer.wrap(content(lba, 2)), false);
            }
            pool.flush();
            assertTrue(Files.size(dir.resolve("data/dev0.img")) <= fileBefore + (1 << 20),
                    "device file did not grow: " + Files.size(dir.resolve("data/dev0.img")) + " <= " + fileBefore);
        }
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 0; lba < blocks; lba++) {
                assertArrayEquals(content(lba, gen[lba]), PoolFixture.read(v, lba, 1).array());
            }
        }
    }

    @Test
    void deletingAVolumeFreesItsSpaceAndTheFileShrinks() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 26, 4096);
            for (int lba = 0; lba < 2048; lba += 16) {
                ByteBuffer buf = ByteBuffer.allocate(16 * 4096);
                for (int i = 0; i < 16; i++) {
                    buf.put(content(lba + i, 0));
                }
                v.write(lba, buf.flip(), false);
            }
            pool.flush();
            long big = Files.size(dir.resolve("data/dev0.img"));
            assertTrue(pool.deleteVolume("lun"));
            CleanupResult r = pool.cleanup();
            assertTrue(r.containersCompacted() > 0);
            assertEquals(0, pool.stats().uniqueChunks());
            assertEquals(0, pool.stats().reclaimableBytes());
            assertTrue(Files.size(dir.resolve("data/dev0.img")) < big / 4, "file shrank");
        }
    }

    @Test
    void theTimerCleansUpByItself() throws Exception {
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).referenceCleanupIntervalSeconds(1).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 26, 4096);
            for (int lba = 0; lba < 512; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 0)), false);
            }
            v.unmap(0, 512);
            assertTrue(pool.stats().reclaimableBytes() > 0);
            long deadline = System.nanoTime() + 20_000_000_000L;
            // a run frees the chunks' containers (reclaimable is 0 from its commit on), then a second
            // pass moves the run's own journal records down out of the slot above them
            while ((pool.stats().reclaimableBytes() > 0 || pool.stats().containers() > 1)
                    && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertEquals(0, pool.stats().reclaimableBytes());
            // what is left is the journal (the volume catalogue and the unmapped blocks): no chunk
            assertEquals(1, pool.stats().containers());
            assertEquals(0, pool.store().containers().iterator().next().liveCount());
        }
    }

    @Test
    void cleanupRacesWithOverwritesAndReadsWithoutWrongData() throws Exception {
        int blocks = 2048;
        java.util.concurrent.atomic.AtomicIntegerArray gen = new java.util.concurrent.atomic.AtomicIntegerArray(blocks);
        PoolOptions o = PoolFixture.options(dir).gcBytesPerSecond(1L << 30).gcLiveThreshold(0.9).build();
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", 4096, blocks * 4096L, 4096);
            for (int lba = 0; lba < blocks; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 0)), false);
            }
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            java.util.concurrent.locks.ReentrantLock[] locks = new java.util.concurrent.locks.ReentrantLock[blocks];
            for (int i = 0; i < blocks; i++) {
                locks[i] = new java.util.concurrent.locks.ReentrantLock();
            }
            Runnable writer = () -> {
                try {
                    while (!stop.get()) {
                        int lba = ThreadLocalRandom.current().nextInt(blocks);
                        locks[lba].lock();
                        try {
                            int g = gen.get(lba) + 1;
                            v.write(lba, ByteBuffer.wrap(content(lba, g)), false);
                            gen.set(lba, g);
                        } finally {
                            locks[lba].unlock();
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            };
            Runnable reader = () -> {
                try {
                    while (!stop.get()) {
                        int lba = ThreadLocalRandom.current().nextInt(blocks);
                        int before = gen.get(lba);
                        byte[] got = PoolFixture.read(v, lba, 1).array();
                        int after = gen.get(lba);
                        boolean ok = false;
                        for (int g = before; g <= after + 1 && !ok; g++) {
                            ok = java.util.Arrays.equals(content(lba, g), got);
                        }
                        if (!ok) {
                            throw new AssertionError("lba " + lba + " read data of no generation in " + before + ".." + after);
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            };
            Thread[] ts = {new Thread(writer), new Thread(writer), new Thread(reader), new Thread(reader)};
            for (Thread t : ts) {
                t.start();
            }
            int compacted = 0;
            for (int round = 0; round < 6; round++) {
                Thread.sleep(300);
                compacted += pool.cleanup().containersCompacted();
            }
            stop.set(true);
            for (Thread t : ts) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("concurrent I/O failed during cleanup", failure.get());
            }
            assertTrue(compacted > 0, "cleanup compacted containers while I/O ran");
            for (int lba = 0; lba < blocks; lba++) {
                assertArrayEquals(content(lba, gen.get(lba)), PoolFixture.read(v, lba, 1).array(), "lba " + lba);
            }
            ScrubResult s = pool.verify();
            assertTrue(s.clean(), s.toString());
            assertEquals(0, pool.stats().checksumErrors());
        }
    }

    /**
     * chunks_reclaimed counts chunk records, not the journal records a freed container held too
     * (each of these 40 writes and 40 overwrites committed a journal record beside its chunks).
     */
    @Test
    void chunksReclaimedCountsChunksOnly() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            for (int lba = 0; lba < 40; lba++) {
                v.write(lba, ByteBuffer.wrap(PoolFixture.random(9000 + lba, 4096)), false);
            }
            for (int lba = 0; lba < 40; lba++) {
                v.write(lba, ByteBuffer.wrap(new byte[4096]), false);
            }
            pool.flush();
            CleanupResult r = pool.cleanup();
            assertTrue(r.containersCompacted() > 0, r.toString());
            assertEquals(40, r.chunksReclaimed(), r.toString());
        }
    }

    /**
     * Cleanup finds the live chunks of its victims from the victims themselves (a walk of each and a
     * lookup of the ids found), not from a scan of the whole chunk table: with one container's worth
     * of chunks dead among 16, it looks up about that container's records, not all 4096.
     */
    @Test
    void cleanupLooksUpTheVictimsRecordsNotTheWholeChunkTable() throws Exception {
        int blocks = 4096;
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 26, 4096);
            for (int lba = 0; lba < blocks; lba += 32) {
                ByteBuffer buf = ByteBuffer.allocate(32 * 4096);
                for (int i = 0; i < 32; i++) {
                    buf.put(PoolFixture.random(70_000 + lba + i, 4096));
                }
                v.write(lba, buf.flip(), false);
            }
            // the first 200 blocks' chunks (most of the first container) die
            for (int lba = 0; lba < 200; lba++) {
                v.write(lba, ByteBuffer.wrap(new byte[4096]), false);
            }
            pool.flush();
            assertEquals(blocks - 200, pool.stats().uniqueChunks());
            CleanupResult r = pool.cleanup();
            assertTrue(r.containersCompacted() >= 1, r.toString());
            assertEquals(200, r.chunksReclaimed(), r.toString());
            long looked = pool.gc().lastLookedUp;
            assertTrue(looked > 0 && looked < blocks / 4, "chunk records looked up: " + looked);
            for (int lba = 0; lba < blocks; lba += 97) {
                byte[] want = lba < 200 ? new byte[4096] : PoolFixture.random(70_000 + lba, 4096);
                assertArrayEquals(want, PoolFixture.read(v, lba, 1).array(), "block " + lba);
            }
            assertTrue(pool.verify().clean());
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 200; lba < blocks; lba++) {
                assertArrayEquals(PoolFixture.random(70_000 + lba, 4096), PoolFixture.read(v, lba, 1).array(),
                        "block " + lba + " after a reopen");
            }
        }
    }
}
