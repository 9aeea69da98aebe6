package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.blockdev.ReadOnlyVolumeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whole-volume clones, snapshots and rollback: exact refcounts and stored bytes, isolation of the
 * copies, read-only snapshots, restart, and exclusive bytes in a small worked example.
 */
class VolumeCloneTest {
    private static final int BS = 4096;
    private static final int BLOCKS = 64;

    @TempDir
    Path dir;

    /** Volume "a": blocks 0..9 distinct random data, block 10 = block 0, block 11 written as zeros. */
    private static DedupVolume fill(DedupPool pool) throws IOException {
        DedupVolume a = pool.createVolume("a", BS, BLOCKS * (long) BS, BS);
        for (int i = 0; i < 10; i++) {
            a.write(i, ByteBuffer.wrap(PoolFixture.random(i, BS)), false);
        }
        a.write(10, ByteBuffer.wrap(PoolFixture.random(0, BS)), false);
        a.write(11, ByteBuffer.allocate(BS), false);
        return a;
    }

    private static byte[] contents(DedupVolume v) throws IOException {
        return PoolFixture.read(v, 0, BLOCKS).array();
    }

    /** Chunk id -> refcount of every chunk in the pool. */
    private static Map<Long, Integer> refcounts(DedupPool pool) throws IOException {
        Map<Long, Integer> out = new HashMap<>();
        try (MetaTxn t = pool.meta().read()) {
            t.scanChunks(0, c -> {
                out.put(c.id(), c.refCount());
                return true;
            });
        }
        return out;
    }

    private static ChunkRecord chunkAt(DedupPool pool, DedupVolume v, long block) throws IOException {
        try (MetaTxn t = pool.meta().read()) {
            long id = t.block(v.state().id, block);
            return id > 0 ? t.chunk(id) : null;
        }
    }

    private static VolumeStats statsOf(DedupPool pool, String name) throws IOException {
        return pool.stats().volumes().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void cloneReferencesEveryChunkOnceMoreAndStoresNothing() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = fill(pool);
            pool.flush();
            Map<Long, Integer> before = refcounts(pool);
            PoolStats pb = pool.stats();
            long hashed = pb.hashedBytes();
            long deviceUsed = pb.devices().get(0).usedBytes();
            long journalBefore = journalBytes(pool);

            DedupVolume b = pool.cloneVolume("a", "b", false);

            Map<Long, Integer> after = refcounts(pool);
            assertEquals(before.keySet(), after.keySet(), "no chunk created or freed");
            for (Map.Entry<Long, Integer> e : before.entrySet()) {
                assertEquals(2 * e.getValue(), after.get(e.getKey()), "chunk " + e.getKey());
            }
            assertEquals(2, before.get(chunkAt(pool, a, 0).id()), "block 0 and block 10 share a chunk");
            PoolStats pa = pool.stats();
            assertEquals(pb.storedBytes(), pa.storedBytes());
            assertEquals(pb.uniqueChunks(), pa.uniqueChunks());
            assertEquals(hashed, pa.hashedBytes(), "no byte hashed");
            long journaled = journalBytes(pool) - journalBefore;
            assertTrue(journaled > 0, "the clone is journaled");
            assertEquals(deviceUsed + journaled, pa.devices().get(0).usedBytes(),
                    "no chunk byte written to the device: only the clone's journal records");
            assertArrayEquals(contents(a), contents(b));
            VolumeStats bs = statsOf(pool, "b");
            assertEquals(11, bs.dataBlocks());
            assertEquals(1, bs.zeroBlocks());
            assertEquals(0, bs.exclusiveBytes());
            assertEquals(0, statsOf(pool, "a").exclusiveBytes());
            assertEquals("a", b.origin());
            assertFalse(b.readOnly());
            assertTrue(b.originMillis() > 0);
            assertNull(a.origin());
            assertTrue(pool.verify().clean(), pool.verify().problems().toString());
        }
    }

    @Test
    void writesToTheCloneLeaveTheSourceAndExclusiveBytesAreExact() throws Exception {
        // compact any container with dead bytes, so cleanup's figure is exactly what the delete freed
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).gcLiveThreshold(1.0).build())) {
            DedupVolume a = fill(pool);
            byte[] original = contents(a);
            DedupVolume b = pool.cloneVolume("a", "b", false);
            long chunk3 = chunkAt(pool, a, 3).length();
            b.write(3, ByteBuffer.wrap(PoolFixture.random(100, BS)), false);
            b.unmap(4, 1);
            long chunk4 = chunkAt(pool, a, 4).length();
            long fresh = chunkAt(pool, b, 3).length();
            assertArrayEquals(original, contents(a), "the source is unchanged");
            assertArrayEquals(PoolFixture.random(100, BS), PoolFixture.read(b, 3, 1).array());
            assertArrayEquals(new byte[BS], PoolFixture.read(b, 4, 1).array());
            // worked example: a alone holds the chunks of its blocks 3 and 4, b alone its new block 3
            assertEquals(chunk3 + chunk4, statsOf(pool, "a").exclusiveBytes());
            assertEquals(fresh, statsOf(pool, "b").exclusiveBytes());

            // deleting b frees exactly its exclusive bytes; cleanup then reclaims them on the device
            long stored = pool.stats().storedBytes();
            long exclusive = statsOf(pool, "b").exclusiveBytes();
            assertTrue(pool.deleteVolume("b"));
            assertEquals(stored - exclusive, pool.stats().storedBytes());
            assertEquals(exclusive, pool.stats().reclaimableBytes());
            pool.cleanup();
            assertEquals(0, pool.stats().reclaimableBytes());
            assertArrayEquals(original, contents(a));
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void snapshotIsReadOnlyAndRollbackRestoresItAcrossARestart() throws Exception {
        byte[] original;
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = fill(pool);
            original = contents(a);
            DedupVolume s = pool.cloneVolume("a", "a@1", true);
            assertTrue(s.readOnly());
            assertThrows(ReadOnlyVolumeException.class, () -> s.write(0, ByteBuffer.allocate(BS), false));
            assertThrows(ReadOnlyVolumeException.class, () -> s.unmap(0, 1));
            assertThrows(ReadOnlyVolumeException.class, () -> s.resize(2 * BLOCKS));
            a.write(5, ByteBuffer.wrap(PoolFixture.random(500, BS)), false);
            a.write(20, ByteBuffer.wrap(PoolFixture.random(2000, BS)), false);
            a.unmap(6, 1);
            a.write(11, ByteBuffer.wrap(PoolFixture.random(1100, BS)), false);
            long stored = pool.stats().storedBytes();
            long gone = chunkAt(pool, a, 5).length() + chunkAt(pool, a, 20).length() + chunkAt(pool, a, 11).length();
            assertEquals(gone, statsOf(pool, "a").exclusiveBytes());
            pool.flush();
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume s = pool.openVolume("a@1").orElseThrow();
            assertTrue(s.readOnly(), "read-only survives a restart");
            assertEquals("a", s.origin());
            assertThrows(ReadOnlyVolumeException.class, () -> s.write(0, ByteBuffer.allocate(BS), false));
            assertArrayEquals(original, contents(s));
            long stored = pool.stats().storedBytes();
            long exclusive = statsOf(pool, "a").exclusiveBytes();
            DedupVolume a = pool.rollbackVolume("a", "a@1");
            assertArrayEquals(original, contents(a));
            assertEquals(stored - exclusive, pool.stats().storedBytes(), "the replaced blocks' chunks are freed");
            VolumeStats as = statsOf(pool, "a");
            assertEquals(11, as.dataBlocks());
            assertEquals(1, as.zeroBlocks());
            assertEquals(0, as.exclusiveBytes());
            // the LUN is writable again and its writes leave the snapshot alone
            a.write(0, ByteBuffer.wrap(PoolFixture.random(7, BS)), false);
            assertArrayEquals(original, contents(s));
            assertThrows(IllegalArgumentException.class, () -> pool.rollbackVolume("a@1", "a@1"));
            pool.createVolume("c", BS, BLOCKS * (long) BS, BS);
            assertThrows(IllegalArgumentException.class, () -> pool.rollbackVolume("c", "a@1"));
            assertThrows(IllegalArgumentException.class, () -> pool.cloneVolume("a", "c", false));
            assertThrows(IllegalArgumentException.class, () -> pool.cloneVolume("nope", "d", false));
            assertTrue(pool.verify().clean(), pool.verify().problems().toString());
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            // a snapshot is deleted like any volume, and frees exactly its exclusive bytes
            DedupVolume a = pool.openVolume("a").orElseThrow();
            a.write(0, ByteBuffer.wrap(PoolFixture.random(4242, BS)), false);
            pool.cloneVolume("a", "a@2", true);
            long old0 = chunkAt(pool, a, 0).length();
            a.write(0, ByteBuffer.wrap(PoolFixture.random(41, BS)), false);
            long stored = pool.stats().storedBytes();
            long exclusive = statsOf(pool, "a@2").exclusiveBytes();
            assertEquals(old0, exclusive, "a@2 alone holds block 0's old chunk");
            assertTrue(pool.deleteVolume("a@2"));
            assertEquals(stored - exclusive, pool.stats().storedBytes());
            a.write(0, ByteBuffer.wrap(PoolFixture.random(7, BS)), false);
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.openVolume("a").orElseThrow();
            byte[] expect = original.clone();
            System.arraycopy(PoolFixture.random(7, BS), 0, expect, 0, BS);
            assertArrayEquals(expect, contents(a), "the rollback survives a restart");
            assertEquals(11, statsOf(pool, "a").dataBlocks());
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void rollbackTakesTheSnapshotsCapacityAndClonesSurviveRestart() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = fill(pool);
            pool.cloneVolume("a", "a@small", true);
            a.resize(2 * BLOCKS);
            a.write(BLOCKS + 1, ByteBuffer.wrap(PoolFixture.random(77, BS)), false);
            pool.cloneVolume("a", "copy", false);
            a.write(30, ByteBuffer.wrap(PoolFixture.random(30, BS)), false);
            assertTrue(a.status(30, 1).mapped());
            pool.rollbackVolume("a", "a@small");
            assertEquals(BLOCKS, a.blockCount());
            assertFalse(a.status(30, 1).mapped(), "GET LBA STATUS sees the restored map, not a remembered extent");
            assertArrayEquals(new byte[BS], PoolFixture.read(a, 30, 1).array());
            assertEquals(12, statsOf(pool, "a").dataBlocks() + statsOf(pool, "a").zeroBlocks());
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.openVolume("a").orElseThrow();
            DedupVolume c = pool.openVolume("copy").orElseThrow();
            assertEquals(BLOCKS, a.blockCount());
            assertEquals(2 * BLOCKS, c.blockCount());
            assertEquals("a", c.origin());
            assertFalse(c.readOnly());
            assertArrayEquals(PoolFixture.random(77, BS), PoolFixture.read(c, BLOCKS + 1, 1).array());
            assertArrayEquals(PoolFixture.read(a, 0, BLOCKS).array(), PoolFixture.read(c, 0, BLOCKS).array());
            assertTrue(pool.verify().clean(), pool.verify().problems().toString());
        }
    }

    /**
     * A clone larger than the metadata map: MDB_MAP_FULL aborts its transaction, the map grows and
     * the whole clone is replayed in a new one (nothing of the aborted attempt remains).
     */
    @Test
    void aCloneThatOverflowsTheMapIsReplayedWhole() throws Exception {
        PoolOptions o = PoolFixture.options(dir).metadataMapSize(128 << 10).compressionEnabled(false).build();
        int blocks = 6000;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("big", BS, blocks * (long) BS, BS);
            for (int lba = 0; lba < blocks; lba += 8) {
                ByteBuffer buf = ByteBuffer.allocate(8 * BS);
                for (int i = 0; i < 8; i++) {
                    buf.put(PoolFixture.random(lba + i, BS));
                }
                v.write(lba, buf.flip(), false);
                if (lba % 64 == 0) {
                    // flushes release the pages the flushed state held (MetaStore.sync), so the
                    // map grows with the data, not with every page the ingest dirtied
                    pool.flush();
                }
            }
            pool.flush();
        }
        // reopened with the 128 KiB map asked for: LMDB takes the used size, so the map is full (the
        // block map, 128 blocks per entry, is too small a part of the clone to overflow it alone)
        try (DedupPool pool = DedupPool.open(o)) {
            long map = pool.meta().mapSize();
            long stored = pool.stats().storedBytes();
            DedupVolume c = pool.cloneVolume("big", "big-clone", false);
            assertTrue(pool.meta().mapSize() > map, "the clone needed a bigger map: " + map);
            assertNull(pool.readOnlyReason());
            assertEquals(stored, pool.stats().storedBytes());
            assertEquals(blocks, statsOf(pool, "big-clone").dataBlocks());
            for (int refs : refcounts(pool).values()) {
                assertEquals(2, refs);
            }
            for (int lba = 0; lba < blocks; lba += 97) {
                assertArrayEquals(PoolFixture.random(lba, BS), PoolFixture.read(c, lba, 1).array());
            }
            assertTrue(pool.verify().clean(), pool.verify().problems().toString());
        }
    }

    /** Exclusive bytes come with the one walk stats does, and an unchanged pool is not walked again. */
    @Test
    void statisticsAreWalkedAgainOnlyAfterACommit() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            fill(pool);
            pool.cloneVolume("a", "b", false);
            pool.flush();
            PoolStats first = pool.stats();
            long walks = pool.statsWalks.sum();
            assertEquals(first, pool.stats(), "same figures");
            pool.openVolume("a").orElseThrow().stats();
            assertEquals(walks, pool.statsWalks.sum(), "no commit since: no walk");
            DedupVolume b = pool.openVolume("b").orElseThrow();
            b.write(0, ByteBuffer.wrap(PoolFixture.random(99, BS)), false);
            VolumeStats after = statsOf(pool, "b");
            assertEquals(walks + 2, pool.statsWalks.sum(), "a commit: each volume walked once more");
            assertEquals(chunkAt(pool, b, 0).length(), after.exclusiveBytes(), "and the figures are current");
        }
    }

    /**
     * SIGKILL at random moments while a child process clones, writes and rolls back: after each
     * crash the pool opens read-write, every clone that exists is whole (reads as the snapshot),
     * "a" reads as the snapshot or with its last overwrites, and the scrub's cross-check finds
     * every refcount equal to the block-map entries naming the chunk.
     */
    @Test
    void aCrashDuringClonesAndRollbacksLeavesWholeVolumesAndExactRefcounts() throws Exception {
        int blocks = 4096;
        byte[] image;
        for (int round = 0; round < 3; round++) {
            Path d = dir.resolve("round" + round);
            try (DedupPool pool = PoolFixture.open(d)) {
                DedupVolume a = pool.createVolume("a", BS, blocks * (long) BS, BS);
                for (int lba = 0; lba < blocks; lba += 64) {
                    ByteBuffer buf = ByteBuffer.allocate(64 * BS);
                    for (int i = 0; i < 64; i++) {
                        buf.put(PoolFixture.random(lba + i, BS));
                    }
                    a.write(lba, buf.flip(), false);
                }
                pool.cloneVolume("a", "s", true);
                image = PoolFixture.read(a, 0, blocks).array();
            }
            String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            java.util.List<String> cmd = java.util.List.of(javaBin, "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    CloneCrashChild.class.getName(), d.toString());
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            java.util.concurrent.atomic.AtomicLong clones = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.atomic.AtomicBoolean started = new java.util.concurrent.atomic.AtomicBoolean();
            Thread reader = new Thread(() -> {
                try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(
                        p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        if (line.equals("START")) {
                            started.set(true);
                        } else if (line.startsWith("CLONED ")) {
                            clones.incrementAndGet();
                        }
                    }
                } catch (IOException e) {
                    // the child died
                }
            });
            reader.start();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!started.get() && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(started.get(), "child opened the pool");
            Thread.sleep(java.util.concurrent.ThreadLocalRandom.current().nextInt(50, 800));
            p.destroyForcibly();
            p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            reader.join(10_000);
            try (DedupPool pool = PoolFixture.open(d)) {
                assertNull(pool.readOnlyReason());
                int found = 0;
                for (VolumeInfo v : pool.volumes()) {
                    DedupVolume vol = pool.openVolume(v.name()).orElseThrow();
                    byte[] got = PoolFixture.read(vol, 0, blocks).array();
                    if (v.name().equals("a")) {
                        for (int j = 0; j < 4; j++) {
                            int at = j * 100 * BS;
                            byte[] blk = java.util.Arrays.copyOfRange(got, at, at + BS);
                            if (java.util.Arrays.equals(blk, PoolFixture.random(9000 + j, BS))) {
                                // an overwrite the crash came before the rollback of
                                System.arraycopy(image, at, got, at, BS);
                            }
                        }
                    } else if (v.name().startsWith("c")) {
                        found++;
                        assertEquals("a", vol.origin());
                        assertEquals(Integer.parseInt(v.name().substring(1)) % 2 == 1, vol.readOnly(), v.name());
                    }
                    assertArrayEquals(image, got, "volume " + v.name() + " after the crash in round " + round);
                }
                assertTrue(found >= clones.get(), found + " clones present, " + clones.get() + " reported done");
                ScrubResult s = pool.verify();
                assertTrue(s.clean(), s.problems().toString());
                System.out.printf("clone crash round %d: %d clones reported, %d present%n", round, clones.get(), found);
            }
        }
    }

    private static long journalBytes(DedupPool pool) {
        long n = 0;
        for (io.orion.dedup.containers.Container c : pool.store().containers()) {
            n += c.journalBytes();
        }
        return n;
    }
}
