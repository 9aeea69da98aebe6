package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Env;

/** Key layouts sort as intended, values round-trip, MapFull is signalled and growth fixes it. */
class MetaStoreTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsEveryRecordAndScansBlocksInOrder() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 1 << 20)) {
            byte[] fp = new byte[32];
            fp[0] = 9;
            UUID u = UUID.randomUUID();
            try (MetaWriteTxn w = m.write()) {
                w.putBlock(1, 300, 7);
                w.putBlock(1, 2, 0);
                w.putBlock(1, 256, 8);
                w.putBlock(2, 0, 9);
                w.putChunk(new ChunkRecord(7, fp, 3, 64, 4156, 4096, 0, 2));
                w.putIndex(fp, 7);
                w.putVolume(new VolumeRecord("v", 1, u, 512, 4096, 1 << 20, 3, 1));
                w.putContainer(new ContainerRecord(3, 0, 1, true, 5000, 4156, 1, 2));
                w.putCounters(new PoolCounters(1, u, 1 << 20, 10, 4, 2, 1, 4096, 4156));
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                List<long[]> seen = new ArrayList<>();
                r.scanBlocks(1, 0, 1000, (db, c) -> seen.add(new long[] {db, c}));
                assertEquals(3, seen.size());
                assertEquals(2, seen.get(0)[0]);
                assertEquals(MetaTxn.ZERO, seen.get(0)[1]);
                assertEquals(256, seen.get(1)[0]);
                assertEquals(300, seen.get(2)[0]);
                assertEquals(MetaTxn.ABSENT, r.block(1, 3));
                assertEquals(7, r.index(fp));
                assertEquals(2, r.chunk(7).refCount());
                assertEquals(4156, r.chunk(7).length());
                assertEquals(u, r.volume("v").uuid());
                assertEquals(3, r.volumes().get(0).dataBlocks());
                assertEquals(2, r.containers().get(0).records());
                assertEquals(4, r.counters().nextContainerId());
                assertNull(r.chunk(8));
            }
        }
    }

    @Test
    void volumeRecordsOfBothVersionsRoundTripAndPassTheOpenCheck() throws Exception {
        UUID u = UUID.randomUUID();
        String origin = "o".repeat(200);
        try (MetaStore m = MetaStore.open(dir, 1 << 20)) {
            try (MetaWriteTxn w = m.write()) {
                w.putVolume(new VolumeRecord("plain", 1, u, 512, 4096, 1 << 20, 3, 1));
                w.putVolume(new VolumeRecord("snap", 2, u, 4096, 8192, 1 << 21, 5, 2, true, origin, 1234567890123L));
                w.putVolume(new VolumeRecord("clone", 3, u, 512, 4096, 1 << 20, 0, 0, false, "plain", 42));
                w.commit();
            }
        }
        try (MetaStore m = MetaStore.open(dir, 1 << 20)) {
            assertTrue(m.damage().isEmpty(), m.damage().summary());
            try (MetaTxn r = m.read()) {
                VolumeRecord plain = r.volume("plain");
                assertEquals(new VolumeRecord("plain", 1, u, 512, 4096, 1 << 20, 3, 1), plain);
                assertEquals(new VolumeRecord("snap", 2, u, 4096, 8192, 1 << 21, 5, 2, true, origin, 1234567890123L),
                        r.volume("snap"));
                assertEquals(new VolumeRecord("clone", 3, u, 512, 4096, 1 << 20, 0, 0, false, "plain", 42),
                        r.volume("clone"));
                assertEquals(3, r.volumes().size());
                // a volume without origin keeps the version 1 layout, byte for byte
                java.nio.ByteBuffer k = java.nio.ByteBuffer.allocateDirect(16).put("plain".getBytes()).flip();
                assertEquals(MetaCodec.VOLUME_VAL, m.volumes.get(r.txn, k).remaining());
            }
        }
    }

    @Test
    void mapFullIsSignalledAndGrowingFixesIt() throws Exception {
        // 256 KiB: the flushed state held for a power loss (MetaStore.sync) keeps its pages, so a
        // smaller map fills before the first round commits
        try (MetaStore m = MetaStore.open(dir, 256 << 10)) {
            long size = m.mapSize();
            boolean full = false;
            int written = 0;
            for (int round = 0; round < 200 && !full; round++) {
                try (MetaWriteTxn w = m.write()) {
                    for (int i = 0; i < 500; i++) {
                        w.putBlock(1, round * 500L + i, 1);
                    }
                    w.commit();
                    written += 500;
                } catch (Env.MapFullException e) {
                    full = true;
                }
            }
            assertTrue(full, "a 256 KiB map fills up");
            assertTrue(written > 0, "rounds committed before the map filled");
            m.grow();
            assertEquals(size * 2, m.mapSize());
            try (MetaWriteTxn w = m.write()) {
                w.putBlock(1, 1_000_000, 1);
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(1, r.block(1, 1_000_000));
                assertEquals(1, r.block(1, written - 1));
            }
        }
    }

    @Test
    void dataFileKeepsAnAllocatedReserveAndASparseWritemapFileIsCutBack() throws Exception {
        java.nio.file.Path f = dir.resolve("data.mdb");
        long used;
        try (MetaStore m = MetaStore.open(dir, 256L << 20)) {
            try (MetaWriteTxn w = m.write()) {
                for (int i = 0; i < 20_000; i++) {
                    w.putBlock(1, i, i + 1);
                }
                w.commit();
            }
            m.keepReserve();
            used = m.fileSize();
            // no MDB_WRITEMAP: the file is not as large as the map, it ends with the reserve
            long size = java.nio.file.Files.size(f);
            assertTrue(size >= used + MetaStore.MIN_RESERVE / 2 && size < 256L << 20, "size " + size + ", used " + used);
            assertTrue(!m.lowSpace());
        }
        // what an MDB_WRITEMAP build left: the file as large as the map, sparse past its pages
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.allocate(1), (1L << 30) - 1);
        }
        try (MetaStore m = MetaStore.open(dir, 256L << 20)) {
            long size = java.nio.file.Files.size(f);
            assertTrue(size < 64L << 20, "cut back to its pages and the reserve: " + size);
            try (MetaTxn r = m.read()) {
                assertEquals(20_000, r.block(1, 19_999));
            }
        }
    }

    @Test
    void aFileThatIsNotLmdbIsRejected() throws Exception {
        java.nio.file.Files.write(dir.resolve("data.mdb"), new byte[8192]);
        assertThrows(MetaCorruptException.class, () -> MetaStore.open(dir, 1 << 20));
    }

    /**
     * A format 1 block map whose metadata is damaged is not converted (its damaged range is known
     * in the old keys only): the pool keeps it, lookups in the damaged range fail, the others read
     * as before, and block-map writes still go to it.
     */
    @Test
    void aDamagedFormatOneBlockMapStaysInUseAndReadable() throws Exception {
        try (Env<java.nio.ByteBuffer> env = Env.create().setMapSize(16L << 20).setMaxDbs(8).open(dir.toFile())) {
            for (String n : List.of("volumes", "chunks", "index", "containers", "counters")) {
                env.openDbi(n, org.lmdbjava.DbiFlags.MDB_CREATE);
            }
            org.lmdbjava.Dbi<java.nio.ByteBuffer> blocks = env.openDbi("blocks", org.lmdbjava.DbiFlags.MDB_CREATE);
            try (org.lmdbjava.Txn<java.nio.ByteBuffer> t = env.txnWrite()) {
                java.nio.ByteBuffer k = java.nio.ByteBuffer.allocateDirect(12);
                java.nio.ByteBuffer v = java.nio.ByteBuffer.allocateDirect(12);
                for (int i = 0; i < 100; i += 2) {
                    MetaCodec.blockKey(k, 1, i);
                    MetaCodec.longValue(k, v, i + 1); // the format 1 encoder: chunk id u64, CRC32C
                    blocks.put(t, k, v);
                }
                t.commit();
            }
        }
        // the CRC32C of block 40's entry (the 4 bytes after its 12-byte key and 8-byte chunk id)
        java.nio.file.Path f = dir.resolve("data.mdb");
        byte[] all = java.nio.file.Files.readAllBytes(f);
        byte[] needle = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 40};
        int pos = -1;
        for (int i = 8192; i < all.length - 24 && pos < 0; i++) {
            if (java.util.Arrays.equals(all, i, i + 12, needle, 0, 12)) {
                pos = i;
            }
        }
        assertTrue(pos > 0);
        all[pos + 23] ^= 0x10;
        java.nio.file.Files.write(f, all);
        try (MetaStore m = MetaStore.open(dir, 16L << 20)) {
            assertTrue(m.legacyBlockMap());
            assertEquals(1, m.formatVersion());
            assertEquals(1, m.damage().problems().size(), m.damage().problems().toString());
            try (MetaTxn r = m.read()) {
                assertThrows(MetaCorruptException.class, () -> r.block(1, 40));
                assertEquals(39, r.block(1, 38));
                assertEquals(43, r.block(1, 42));
                assertEquals(MetaTxn.ABSENT, r.block(1, 43));
                List<Long> seen = new ArrayList<>();
                r.scanAllBlocks((vol, db, c) -> seen.add(db));
                assertEquals(49, seen.size());
            }
            try (MetaWriteTxn w = m.write()) {
                w.putBlock(1, 200, 5);
                w.deleteBlock(1, 0);
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(5, r.block(1, 200));
                assertEquals(MetaTxn.ABSENT, r.block(1, 0));
                assertEquals(50, r.entryCounts()[0]);
            }
        }
    }

    @Test
    void aWriteTransactionSeesItsOwnBlockChangesAndWritesEachPageOnce() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 16L << 20)) {
            try (MetaWriteTxn w = m.write()) {
                for (int i = 0; i < 300; i++) {
                    w.putBlock(1, i, i == 7 ? 0 : i + 1000);
                }
                w.deleteBlock(1, 5);
                assertEquals(MetaTxn.ABSENT, w.block(1, 5));
                assertEquals(MetaTxn.ZERO, w.block(1, 7));
                assertEquals(1299, w.block(1, 299));
                List<Long> seen = new ArrayList<>();
                w.scanBlocks(1, 120, 140, (db, c) -> seen.add(db));
                assertEquals(20, seen.size());
                assertEquals(3, w.entryCounts()[0], "300 blocks fill 3 pages");
                for (int i = 256; i < 300; i++) {
                    w.deleteBlock(1, i);
                }
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(2, r.entryCounts()[0], "an all-unmapped page is deleted");
                assertEquals(255, r.mappedBlocks());
                assertEquals(1255, r.block(1, 255));
                assertEquals(MetaTxn.ABSENT, r.block(1, 256));
                assertEquals(MetaTxn.ZERO, r.block(1, 7));
            }
        }
    }

    /** Page values round-trip for every layout and width, and damage to any byte is caught. */
    @Test
    void blockMapPagesRoundTripInEveryLayout() {
        java.util.Random rnd = new java.util.Random(3);
        java.nio.ByteBuffer k = java.nio.ByteBuffer.allocate(12);
        java.nio.ByteBuffer v = java.nio.ByteBuffer.allocate(MetaCodec.PAGE_VAL_MAX);
        for (int round = 0; round < 2000; round++) {
            long[] e = new long[MetaCodec.PAGE_ENTRIES];
            java.util.Arrays.fill(e, MetaTxn.ABSENT);
            int mapped = 1 + rnd.nextInt(round % 2 == 0 ? 20 : MetaCodec.PAGE_ENTRIES);
            int bits = rnd.nextInt(65);
            for (int j = 0; j < mapped; j++) {
                e[rnd.nextInt(e.length)] = rnd.nextInt(4) == 0 ? 0 : bits == 64 ? rnd.nextLong() & Long.MAX_VALUE
                        : rnd.nextLong() & ((1L << Math.max(1, bits)) - 1);
            }
            MetaCodec.pageKey(k, 1, round);
            assertTrue(MetaCodec.pageValue(k, v, e));
            assertEquals(0, v.remaining() & 1, "even length");
            assertNull(MetaCodec.checkPage(k, v));
            long[] back = new long[e.length];
            MetaCodec.decodePage(v, back);
            assertTrue(java.util.Arrays.equals(e, back));
            for (int i = 0; i < e.length; i++) {
                assertEquals(e[i], MetaCodec.pageEntry(v, i));
            }
            int at = rnd.nextInt(v.remaining());
            v.put(at, (byte) (v.get(at) ^ (1 << rnd.nextInt(8))));
            assertTrue(MetaCodec.checkPage(k, v) != null, "a flipped bit is caught");
        }
        long[] none = new long[MetaCodec.PAGE_ENTRIES];
        java.util.Arrays.fill(none, MetaTxn.ABSENT);
        assertTrue(!MetaCodec.pageValue(k, v, none), "an empty page is never stored");
    }
}
