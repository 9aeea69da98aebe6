package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The integrity check of data.mdb: a sound file (also after deletes, which fill the free list) has
 * no findings; a flipped bit in a block-map key that keeps the page in order is a CRC32C mismatch
 * whose range makes the original LBA's lookup fail instead of answering "unmapped"; the time to
 * check a block map of {@code verifier.blocks} entries (200 000 by default) is printed.
 */
class LmdbVerifierTest {
    @TempDir
    Path dir;

    /** Synthetic fingerprints (bytes 0-2 vary); byte 31 set, since all zeros is no fingerprint. */
    private static final byte[] FP = new byte[32];

    static {
        FP[31] = 1;
    }

    private static void fill(MetaStore m, int blocks, int every) {
        UUID u = UUID.randomUUID();
        for (int start = 0; start < blocks; start += 50_000) {
            try (MetaWriteTxn w = m.write()) {
                for (int i = start; i < Math.min(blocks, start + 50_000); i++) {
                    if (i % every == 0) {
                        w.putBlock(1, i, i / 4 + 1);
                    }
                    if (i % 4 == 0) {
                        FP[0] = (byte) i;
                        FP[1] = (byte) (i >> 8);
                        FP[2] = (byte) (i >> 16);
                        w.putChunk(new ChunkRecord(i / 4 + 1, FP, 1, 64, 4156, 4096, 0, 4));
                        w.putIndex(FP, i / 4 + 1);
                    }
                }
                w.putVolume(new VolumeRecord("v", 1, u, 4096, 4096, 1L << 40, blocks, 0));
                w.putContainer(new ContainerRecord(1, 0, 0, false, 1 << 20, 0, 0, 0));
                w.putCounters(new PoolCounters(1, u, 1 << 20, blocks, 2, 2, 0, 0, 0));
                w.commit();
            }
        }
    }

    @Test
    void soundFileHasNoFindingsAlsoAfterDeletes() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 256L << 20)) {
            fill(m, 60_000, 1);
            try (MetaWriteTxn w = m.write()) {
                for (int i = 0; i < 60_000; i += 3) {
                    w.deleteBlock(1, i);
                }
                w.commit();
            }
            assertTrue(m.verify().isEmpty(), () -> m.damage().problems().toString());
        }
        try (MetaStore m = MetaStore.open(dir, 256L << 20)) {
            assertTrue(m.damage().isEmpty(), () -> m.damage().problems().toString());
            LmdbVerifier.Report r = m.lastCheck();
            // the block map's entries are its pages (MetaTxn.PAGE_ENTRIES blocks each), the chunk
            // records' their groups (MetaCodec.GROUP chunks each)
            assertTrue(r.entries() >= 60_000 / MetaTxn.PAGE_ENTRIES + 15_000 / MetaCodec.GROUP + 15_000 + 3 + 6,
                    () -> "entries " + r.entries());
        }
    }

    @Test
    void liveCheckWhileCommitsGoOnFindsNothing() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 256L << 20)) {
            fill(m, 20_000, 1);
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread writer = new Thread(() -> {
                long round = 0;
                while (!stop.get()) {
                    try (MetaWriteTxn w = m.write()) {
                        for (int i = 0; i < 500; i++) {
                            long db = (round * 7919 + i * 31) % 40_000;
                            if ((round & 1) == 0) {
                                w.putBlock(1, db, db / 4 + 1);
                            } else {
                                w.deleteBlock(1, db);
                            }
                        }
                        w.commit();
                    }
                    round++;
                }
            });
            writer.start();
            try {
                for (int i = 0; i < 15; i++) {
                    MetaDamage d = m.verify();
                    assertTrue(d.isEmpty(), d.problems().toString());
                }
            } finally {
                stop.set(true);
                writer.join();
            }
        }
    }

    @Test
    void flippedKeyBitThatKeepsOrderFailsTheOriginalLookup() throws Exception {
        // one mapped block on every other block-map page: page i holds block i x PAGE_ENTRIES
        long n = MetaTxn.PAGE_ENTRIES;
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            try (MetaWriteTxn w = m.write()) {
                for (int i = 0; i < 100; i += 2) {
                    w.putBlock(1, i * n, i + 1);
                }
                w.commit();
            }
        }
        // page 40 (key 00000001 0000000000000028) becomes page 41: still between 38 and 42
        long pos = find(dir.resolve("data.mdb"), new byte[] {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 40});
        try (FileChannel ch = FileChannel.open(dir.resolve("data.mdb"), StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {41}), pos + 11);
        }
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertEquals(1, m.damage().problems().size(), m.damage().problems().toString());
            assertTrue(m.damage().problems().get(0).contains(MetaStore.BLOCK_PAGES), m.damage().problems().toString());
            try (MetaTxn t = m.read()) {
                MetaCorruptException e = assertThrows(MetaCorruptException.class, () -> t.block(1, 40 * n));
                assertTrue(e.getMessage().contains("damaged"), e.getMessage());
                assertThrows(MetaCorruptException.class, () -> t.block(1, 41 * n));
                assertThrows(MetaCorruptException.class, () -> t.block(1, 40 * n + 5), "the whole page is damaged");
                assertEquals(39, t.block(1, 38 * n));
                assertEquals(43, t.block(1, 42 * n));
                assertEquals(MetaTxn.ABSENT, t.block(1, 43 * n));
                assertThrows(MetaCorruptException.class, () -> t.scanBlocks(1, 0, 100 * n, (d, c) -> true));
                List<Long> seen = new ArrayList<>();
                t.scanBlocks(1, 42 * n, 100 * n, (d, c) -> seen.add(d));
                assertEquals(29, seen.size());
            }
        }
    }

    /** A small pool (400 blocks) written and closed; its data.mdb open for reading and writing. */
    private FileChannel smallFileOpen() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            fill(m, 400, 1);
        }
        return FileChannel.open(dir.resolve("data.mdb"), StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    /** The two meta pages of data.mdb (little-endian). */
    private static ByteBuffer metaPages(FileChannel ch) throws java.io.IOException {
        ByteBuffer meta = ByteBuffer.allocate(8192).order(ByteOrder.LITTLE_ENDIAN);
        ch.read(meta, 0);
        return meta;
    }

    /** The offset (0 or 4096) of the meta page with the larger transaction id. */
    private static int newestMeta(ByteBuffer meta) {
        return meta.getLong(4096 + 144) > meta.getLong(144) ? 4096 : 0;
    }

    /**
     * When the write of a meta page fails, LMDB writes the older page's transaction id and last page
     * back over it but keeps the failed transaction's database roots, which may lie past that last
     * page (mdb_env_write_meta). LMDB never uses the older page's roots, so the file is sound: it
     * must open (before, the check called it fatal damage and the pool could not open).
     */
    @Test
    void anOlderMetaPageLeftByAFailedMetaWriteOpens() throws Exception {
        try (FileChannel ch = smallFileOpen()) {
            ByteBuffer meta = metaPages(ch);
            int newest = newestMeta(meta);
            int older = 4096 - newest;
            long freeRoot = meta.getLong(newest + 40 + 40);
            long mainRoot = meta.getLong(newest + 88 + 40);
            meta.putLong(older + 40 + 40, freeRoot);
            meta.putLong(older + 88 + 40, mainRoot);
            long lowest = freeRoot == -1 ? mainRoot : Math.min(freeRoot, mainRoot);
            assertTrue(lowest >= 3, "roots " + freeRoot + ", " + mainRoot);
            meta.putLong(older + 136, lowest - 1); // the roots lie past the older page's last page
            ch.write(ByteBuffer.wrap(meta.array(), older, 4096), older);
        }
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertTrue(m.damage().isEmpty(), () -> m.damage().problems().toString());
            try (MetaTxn t = m.read()) {
                assertEquals(6, t.block(1, 20));
            }
        }
    }

    @Test
    void damagedDatabaseRootLeavesTheOtherDatabasesUsable() throws Exception {
        // the root page number in the main database's record of 'volumes' gets bit 21 set
        try (FileChannel ch = smallFileOpen()) {
            ByteBuffer meta = metaPages(ch);
            int newest = newestMeta(meta);
            long mainRoot = meta.getLong(newest + 88 + 40);
            ByteBuffer page = ByteBuffer.allocate(4096);
            ch.read(page, mainRoot * 4096);
            long pos = -1;
            byte[] p = page.array();
            for (int i = 16; i < 4096 - 7 && pos < 0; i++) {
                if (new String(p, i, 7, java.nio.charset.StandardCharsets.US_ASCII).equals("volumes")) {
                    pos = mainRoot * 4096 + i;
                }
            }
            assertTrue(pos > 0);
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, pos + 7 + 40 + 2);
            b.put(0, (byte) (b.get(0) ^ 0x20));
            ch.write(b.flip(), pos + 7 + 40 + 2);
        }
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertTrue(m.damage().problems().toString().contains("volumes keys [start, end)"),
                    m.damage().problems().toString());
            try (MetaTxn t = m.read()) {
                assertTrue(t.volumes().isEmpty());
                assertThrows(MetaCorruptException.class, () -> t.volume("v"));
                assertEquals((400 + MetaTxn.PAGE_ENTRIES - 1) / MetaTxn.PAGE_ENTRIES, t.entryCounts()[0],
                        "LMDB stats still work");
                assertEquals(6, t.block(1, 20)); // the transaction is still good
            }
        }
    }

    @Test
    void checkTimeForALargeBlockMap() throws Exception {
        int blocks = Integer.getInteger("verifier.blocks", 200_000);
        try (MetaStore m = MetaStore.open(dir, 2L << 30)) {
            fill(m, blocks, 1);
        }
        try (MetaStore m = MetaStore.open(dir, 2L << 30)) {
            LmdbVerifier.Report r = m.lastCheck();
            assertTrue(m.damage().isEmpty(), () -> m.damage().problems().toString());
            System.out.println("data.mdb check: " + blocks + " mapped blocks, " + blocks / 4 + " chunks: "
                    + r.pages() + " pages, " + r.entries() + " entries, " + r.millis() + " ms");
            assertNotNull(r);
            assertNull(m.damage().fatal());
            try (MetaTxn t = m.read()) {
                MetaCrossCheck.Report x = MetaCrossCheck.run(t);
                System.out.println("cross-table check: " + x.blocks() + " blocks, " + x.chunks() + " chunks, "
                        + x.indexEntries() + " index entries: " + x.millis() + " ms");
                assertTrue(x.problems().isEmpty(), x.problems().toString());
                assertEquals(blocks, x.blocks());
            }
        }
    }

    @Test
    void crossTableCheckFindsARefcountThatDisagrees() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            fill(m, 400, 1);
            try (MetaTxn t = m.read()) {
                assertTrue(MetaCrossCheck.run(t).problems().isEmpty());
            }
            try (MetaWriteTxn w = m.write()) {
                w.putChunk(new ChunkRecord(7, new byte[32], 1, 64, 4156, 4096, 0, 5)); // 4 references
                w.deleteBlock(1, 100);
                w.commit();
            }
            try (MetaTxn t = m.read()) {
                List<String> p = MetaCrossCheck.run(t).problems();
                assertEquals(4, p.size(), p.toString()); // block 100 named chunk 26: its refcount is off too
                assertTrue(p.toString().contains("chunk 7: refcount 5, block map references 4"), p.toString());
                assertTrue(p.toString().contains("volume 'v'"), p.toString());
                assertTrue(p.toString().contains("fingerprint differs"), p.toString());
            }
        }
    }

    /** The offset of the first occurrence of {@code needle} past the meta pages of data file {@code f}. */
    static long find(Path f, byte[] needle) throws Exception {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate((int) Math.min(ch.size(), 1 << 24)).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, 0);
            byte[] a = b.array();
            outer:
            for (int i = 8192; i < a.length - needle.length; i++) {
                for (int j = 0; j < needle.length; j++) {
                    if (a[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return i;
            }
        }
        throw new AssertionError("key not found");
    }

    /**
     * A pool written before the {@code reservations} database existed has six named databases: it
     * must pass the check (the database is created at the next open); one missing a required
     * database does not. Reservation fragments of any size up to 1 KiB pass, with their CRCs.
     */
    @Test
    void reservationsDatabaseIsOptionalAndItsFragmentsAreChecked() throws Exception {
        Path old = dir.resolve("old");
        Path broken = dir.resolve("broken");
        for (Path p : List.of(old, broken)) {
            java.nio.file.Files.createDirectories(p);
            try (org.lmdbjava.Env<ByteBuffer> env = org.lmdbjava.Env.create().setMapSize(16L << 20).setMaxDbs(8)
                    .open(p.toFile())) {
                for (String n : List.of("volumes", "blocks", "chunks", "index", "containers", "counters")) {
                    if (p == broken && n.equals("chunks")) {
                        continue;
                    }
                    env.openDbi(n, org.lmdbjava.DbiFlags.MDB_CREATE);
                }
            }
        }
        assertTrue(LmdbVerifier.check(old.resolve("data.mdb"), -1).damage().isEmpty(), "a pool of the older format");
        assertNotNull(LmdbVerifier.check(broken.resolve("data.mdb"), -1).damage().fatal(), "a required database missing");
        try (MetaStore m = MetaStore.open(old, 64L << 20)) {
            try (MetaWriteTxn w = m.write()) {
                w.putReservations(7, new byte[2500]);
                w.putReservations(8, new byte[] {1, 2, 3});
                w.commit();
            }
            try (MetaTxn t = m.read()) {
                assertEquals(2500, t.reservations(7).length);
                assertNull(t.reservations(9));
            }
        }
        LmdbVerifier.Report r = LmdbVerifier.check(old.resolve("data.mdb"), -1);
        assertTrue(r.damage().isEmpty(), () -> r.damage().problems().toString());
    }
}
