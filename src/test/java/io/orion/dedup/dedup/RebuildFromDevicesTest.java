package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.recovery.PoolRebuilder;
import io.orion.dedup.containers.Container;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole metadata store rebuilt from the backing devices alone (journal records in the
 * containers' append stream, {@link PoolRebuilder}): after writes, overwrites, zeros, UNMAP,
 * clones, a snapshot and its rollback, a reference copy, a resize, a deleted volume and cleanup
 * with compaction, a rebuild into an empty metadata directory gives back every block, the exact
 * statistics, and the same chunk table (refcounts and record locations) and block maps.
 */
class RebuildFromDevicesTest {
    @TempDir
    Path dir;

    private PoolOptions options() {
        return PoolFixture.options(dir).device(dir.resolve("data/dev1.img"), 0).build();
    }

    private static ByteBuffer blocks(long seed, int n, boolean compressible) {
        ByteBuffer b = ByteBuffer.allocate(n * 4096);
        for (int i = 0; i < n; i++) {
            b.put(compressible ? PoolFixture.compressible(seed + i, 4096) : PoolFixture.random(seed + i, 4096));
        }
        return b.flip();
    }

    /** Everything a user or scrub could see: contents, figures, chunk table, block maps. */
    private record Snapshot(Map<String, byte[]> contents, List<String> figures, Map<Long, String> chunks,
                            List<String> maps) {
    }

    private static Snapshot capture(DedupPool pool) throws IOException {
        Map<String, byte[]> contents = new TreeMap<>();
        for (VolumeInfo vi : pool.volumes()) {
            DedupVolume v = pool.openVolume(vi.name()).orElseThrow();
            ByteBuffer all = ByteBuffer.allocate((int) (v.blockCount() * v.blockSize()));
            v.read(0, all);
            contents.put(vi.name() + " " + vi, all.array());
        }
        PoolStats s = pool.stats();
        List<String> figures = new ArrayList<>();
        figures.add("logical " + s.logicalBytes() + " zero " + s.zeroBlocks() + " unique " + s.uniqueChunks() + "/"
                + s.uniqueBytes() + " stored " + s.storedBytes() + " reclaimable " + s.reclaimableBytes()
                + " containers " + s.containers() + " devices " + s.devices().stream()
                .map(d -> d.path() + ":" + d.containers() + ":" + d.usedBytes()).toList());
        for (VolumeStats v : s.volumes()) {
            figures.add(v.toString());
        }
        Map<Long, String> chunks = new TreeMap<>();
        List<String> maps = new ArrayList<>();
        try (MetaTxn t = pool.meta().read()) {
            t.scanChunks(0, r -> {
                chunks.put(r.id(), "refs " + r.refCount() + " at " + r.containerId() + "/" + r.offset() + "+"
                        + r.length() + " orig " + r.originalLength() + " flags " + r.flags());
                return true;
            });
            t.scanAllBlocks((vol, db, c) -> {
                maps.add(vol + ":" + db + "=" + c);
                return true;
            });
        }
        return new Snapshot(contents, figures, chunks, maps);
    }

    private Summary rebuild(PoolOptions o) throws IOException {
        Path meta = o.metadataDir();
        try (Stream<Path> files = Files.walk(meta)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        PoolRebuilder.Summary s = new PoolRebuilder(o.devices(), meta, o.containerSize(), o.metadataMapSize(), null)
                .rebuild();
        return new Summary(s);
    }

    private record Summary(PoolRebuilder.Summary s) {
    }

    private static void assertSame(Snapshot want, Snapshot got) {
        assertEquals(want.contents().keySet(), got.contents().keySet());
        for (String k : want.contents().keySet()) {
            assertArrayEquals(want.contents().get(k), got.contents().get(k), "contents of " + k);
        }
        assertEquals(want.figures(), got.figures());
        assertEquals(want.chunks(), got.chunks());
        assertEquals(want.maps(), got.maps());
    }

    @Test
    void everyTableIsRebuiltFromTheDevicesAlone() throws Exception {
        // cleanup must compact something here (so the rebuild sees re-journaled records); how full
        // the overwritten containers end up depends on how writes are packed into containers, so
        // the threshold is set well above the 0.5-0.6 live fractions this history leaves
        PoolOptions o = PoolFixture.options(dir).device(dir.resolve("data/dev1.img"), 0).gcLiveThreshold(0.75).build();
        Snapshot before;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume a = pool.createVolume("a", 4096, 8L << 20, 4096);
            DedupVolume b = pool.createVolume("b", 512, 4L << 20, 4096);
            a.write(0, blocks(1, 512, false), false);               // 2 MiB unique: several containers
            a.write(512, blocks(1, 256, false), false);             // duplicates of the first 256
            a.write(768, ByteBuffer.allocate(64 * 4096), false);    // zeros
            a.write(900, blocks(5000, 100, true), false);           // compressible
            b.write(8, blocks(1, 16, false), false);                // cross-volume duplicates
            b.write(3, ByteBuffer.wrap(PoolFixture.random(77, 1024)), false); // read-modify-write
            a.write(256, blocks(9000, 256, false), false);          // overwrite: old records become garbage
            a.unmap(600, 100);
            pool.cloneVolume("a", "a-clone", false);
            pool.cloneVolume("a", "a-snap", true);
            DedupVolume clone = pool.openVolume("a-clone").orElseThrow();
            clone.write(10, blocks(20000, 8, false), false);
            clone.copyFrom(a, 900, 1500, 50);                       // reference copy (XCOPY / ODX)
            a.write(0, blocks(30000, 32, false), false);            // after the snapshot...
            pool.rollbackVolume("a", "a-snap");                     // ...and rolled back
            DedupVolume gone = pool.createVolume("gone", 4096, 1L << 20, 4096);
            gone.write(0, blocks(40000, 64, false), false);
            assertTrue(pool.deleteVolume("gone"));
            b.resize(16384);                                        // 8 MiB of 512-byte blocks
            b.write(12000, blocks(50000, 4, true), false);
            pool.flush();
            CleanupResult c = pool.cleanup();
            assertTrue(c.containersCompacted() > 0, c.toString());
            clone.write(40, blocks(60000, 4, false), false);
            pool.flush();
            before = capture(pool);
        }
        PoolRebuilder.Summary s = rebuild(o).s();
        assertEquals(4, s.volumes());
        assertEquals(0, s.tornTails());
        assertEquals(0, s.lostBlocks());
        try (DedupPool pool = DedupPool.open(o)) {
            assertNull(pool.readOnlyReason());
            Snapshot after = capture(pool);
            assertSame(before, after);
            assertEquals(Long.parseLong(before.figures().get(0).split(" ")[5].split("/")[0]), s.chunks());
            ScrubResult scrub = pool.verify();
            assertEquals(0, scrub.metadataErrors() + scrub.crcErrors() + scrub.containerErrors(), scrub.toString());
            // the rebuilt pool goes on: new writes, a new volume id, a restart
            DedupVolume a = pool.openVolume("a").orElseThrow();
            a.write(2000, blocks(70000, 16, false), false);
            pool.createVolume("new", 4096, 1L << 20, 4096);
            pool.flush();
            before = capture(pool);
        }
        // a second rebuild of the rebuilt pool (its journal re-read, new records included)
        rebuild(o);
        try (DedupPool pool = DedupPool.open(o)) {
            assertSame(before, capture(pool));
        }
    }

    @Test
    void cleanupJournalsAnewWhatTheJournalRecordsOfTheContainersItFreesNamed() throws Exception {
        PoolOptions o = PoolFixture.options(dir).build(); // one device: the records land in order
        Snapshot before;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume a = pool.createVolume("a", 4096, 8L << 20, 4096);
            a.write(1000, blocks(1, 64, false), false);     // kept: its journal record is in container 1
            a.write(0, blocks(100, 200, false), false);     // garbage to be: fills container 1
            a.write(0, ByteBuffer.allocate(200 * 4096), false);
            pool.flush();
            int first = pool.store().containers().stream().mapToInt(Container::id).min().orElseThrow();
            CleanupResult c = pool.cleanup();
            assertTrue(c.containersCompacted() > 0, c.toString());
            assertNull(pool.store().container(first), "container " + first + " was compacted and freed");
            before = capture(pool);
        }
        rebuild(o);
        try (DedupPool pool = DedupPool.open(o)) {
            assertSame(before, capture(pool));
        }
    }

    @Test
    void devicesListedInAnotherOrderAreRebuiltByTheirLabels() throws Exception {
        PoolOptions o = options(); // dev0.img is device #0, dev1.img device #1 (their labels say so)
        Snapshot before;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume a = pool.createVolume("a", 4096, 8L << 20, 4096);
            a.write(0, blocks(1, 512, false), false); // 2 MiB unique: containers on both devices
            pool.flush();
            before = capture(pool);
        }
        PoolOptions swapped = PoolOptions.builder(dir.resolve("meta")).device(dir.resolve("data/dev1.img"), 0)
                .device(dir.resolve("data/dev0.img"), 0).containerSize(o.containerSize()).build();
        rebuild(swapped);
        try (DedupPool pool = DedupPool.open(swapped)) { // the devices are found by label, as the rebuild numbered them
            assertSame(before, capture(pool));
        }
        try (DedupPool pool = DedupPool.open(o)) {
            assertSame(before, capture(pool));
        }
    }

    @Test
    void aTornTailIsCutAndEverythingCommittedBeforeItIsRebuilt() throws Exception {
        PoolOptions o = options();
        Snapshot before;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume a = pool.createVolume("a", 4096, 4L << 20, 4096);
            a.write(0, blocks(1, 64, false), false);
            a.write(64, blocks(1, 8, false), false);
            pool.flush();
            before = capture(pool);
        }
        // a torn record after the last one: a chunk record header with half its payload
        Path dev = null;
        long end = -1;
        for (String name : List.of("data/dev0.img", "data/dev1.img")) {
            Path p = dir.resolve(name);
            if (Files.exists(p) && Files.size(p) > 0) {
                dev = p;
                end = Files.size(p);
                break;
            }
        }
        assertTrue(dev != null);
        try (RandomAccessFile f = new RandomAccessFile(dev.toFile(), "rw")) {
            byte[] torn = new byte[60 + 2000];
            ByteBuffer h = ByteBuffer.wrap(torn);
            h.putInt(0x4F524352).put((byte) 1).put((byte) 0).putShort((short) 0).putLong(123456).putInt(4096)
                    .putInt(4096);
            for (int i = 60; i < torn.length; i++) {
                torn[i] = (byte) (i * 31 + 7);
            }
            f.seek(end);
            f.write(torn);
        }
        PoolRebuilder.Summary s = rebuild(o).s();
        assertEquals(1, s.tornTails(), s.toString());
        assertEquals(2060, s.tornBytes());
        assertEquals(end, Files.size(dev), "the torn tail is cut");
        assertEquals(72, s.mappedBlocks());
        try (DedupPool pool = DedupPool.open(o)) {
            assertSame(before, capture(pool));
        }
    }

    @Test
    void aRebuildRefusesExistingMetadataAndDevicesOfTwoPools() throws Exception {
        PoolOptions o = options();
        try (DedupPool pool = DedupPool.open(o)) {
            pool.createVolume("a", 4096, 1L << 20, 4096).write(0, blocks(1, 4, false), false);
            pool.flush();
        }
        IOException e = assertThrows(IOException.class,
                () -> new PoolRebuilder(o.devices(), o.metadataDir(), o.containerSize(), o.metadataMapSize(), null)
                        .rebuild());
        assertTrue(e.getMessage().contains("metadata already exists"), e.getMessage());
        // a second pool's device listed with the first's
        Path other = dir.resolve("other");
        PoolOptions o2 = PoolFixture.options(other).build();
        try (DedupPool pool = DedupPool.open(o2)) {
            pool.createVolume("x", 4096, 1L << 20, 4096).write(0, blocks(99, 4, false), false);
            pool.flush();
        }
        Path empty = dir.resolve("meta-new");
        List<io.orion.dedup.containers.DeviceSpec> mixed = new ArrayList<>(o.devices());
        mixed.addAll(o2.devices());
        IOException e2 = assertThrows(IOException.class,
                () -> new PoolRebuilder(mixed, empty, o.containerSize(), o.metadataMapSize(), null).rebuild());
        assertTrue(e2.getMessage().contains("belongs to pool"), e2.getMessage());
        assertFalse(Files.exists(empty.resolve("data.mdb")));
    }

    @Test
    void journalRecordsAreLiveBytesNotGarbage() throws Exception {
        try (DedupPool pool = DedupPool.open(options())) {
            DedupVolume a = pool.createVolume("a", 4096, 4L << 20, 4096);
            a.write(0, blocks(1, 16, false), false);
            a.write(16, blocks(1, 16, false), false); // duplicates: journal only
            pool.flush();
            PoolStats s = pool.stats();
            assertEquals(0, s.reclaimableBytes());
            long used = 0;
            for (Container c : pool.store().containers()) {
                used += c.committedEnd() - 64;
            }
            assertTrue(used > s.storedBytes(), "the journal takes container bytes: " + used + " vs " + s.storedBytes());
        }
    }

    private static long journalBytes(DedupPool pool) {
        return pool.store().containers().stream().mapToLong(Container::journalBytes).sum();
    }

    @Test
    void aRangeUnmapAndZeroWriteAreJournaledAsRangesAndRebuilt() throws Exception {
        PoolOptions o = PoolFixture.options(dir).build();
        Snapshot before;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume a = pool.createVolume("a", 4096, 16L << 20, 4096);
            DedupVolume b = pool.createVolume("b", 4096, 4L << 20, 4096);
            a.write(0, blocks(1, 1024, true), false);
            a.write(1024, blocks(1, 1024, true), false);        // duplicates: a second 4 MiB
            b.write(0, blocks(5000, 256, true), false);
            pool.flush();
            long j0 = journalBytes(pool);
            a.unmap(100, 1800);                                 // 1800 blocks across two commits
            pool.flush();
            long unmapJournal = journalBytes(pool) - j0;
            assertTrue(unmapJournal > 0 && unmapJournal <= 4 * 64,
                    "an UNMAP of 1800 blocks journals a few dozen bytes a commit, not 8 a block: " + unmapJournal);
            long j1 = journalBytes(pool);
            a.writeSame(1950, 90, ByteBuffer.allocate(4096), false); // WRITE SAME of zeros: zero blocks
            pool.flush();
            long zeroJournal = journalBytes(pool) - j1;
            assertTrue(zeroJournal > 0 && zeroJournal <= 2 * 64, "zeros over 90 blocks: " + zeroJournal + " bytes");
            b.unmap(0, 256);
            a.write(500, blocks(9000, 3, true), false);          // new data inside the unmapped range
            pool.flush();
            before = capture(pool);
        }
        rebuild(o);
        try (DedupPool pool = DedupPool.open(o)) {
            assertSame(before, capture(pool));
            DedupVolume a = pool.openVolume("a").orElseThrow();
            ByteBuffer got = ByteBuffer.allocate(4096);
            a.read(499, got);
            assertArrayEquals(new byte[4096], got.array(), "block 499 was unmapped and reads zeros after the rebuild");
        }
        // cleanup re-journals what the freed containers' records named, ranges included
        try (DedupPool pool = DedupPool.open(o)) {
            assertTrue(pool.deleteVolume("b"));
            pool.flush();
            pool.cleanup();
            pool.cleanup();
            before = capture(pool);
        }
        rebuild(o);
        try (DedupPool pool = DedupPool.open(o)) {
            assertSame(before, capture(pool));
        }
    }
}
