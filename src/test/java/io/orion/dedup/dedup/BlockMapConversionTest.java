package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.LmdbVerifier;
import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.meta.PoolCounters;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/**
 * A pool of format 1 (one {@code blocks} entry per mapped block, as every earlier build wrote it)
 * is converted to block-map pages at open, in bounded transactions, and keeps all its data: every
 * block reads back identical and the statistics are equal.
 */
class BlockMapConversionTest {
    @TempDir
    Path dir;

    private static final int BLOCKS = 2048;

    @Test
    void aFormatOnePoolIsConvertedAtOpenAndKeepsEveryBlock() throws Exception {
        Map<String, byte[]> content = new HashMap<>();
        Map<String, VolumeStats> volumeStats = new HashMap<>();
        long[] poolFigures;
        List<long[]> entries = new ArrayList<>();
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 4096, (long) BLOCKS * 4096, 4096);
            DedupVolume b = pool.createVolume("b", 4096, (long) BLOCKS * 4096, 4096);
            Random r = new Random(7);
            // sequential unique runs, duplicates, zeros, random single blocks, an unmapped hole
            for (int lba = 0; lba < 1200; lba += 32) {
                ByteBuffer buf = ByteBuffer.allocate(32 * 4096);
                for (int i = 0; i < 32; i++) {
                    buf.put(PoolFixture.random(lba + i, 4096));
                }
                a.write(lba, buf.flip(), false);
            }
            a.write(1300, ByteBuffer.allocate(64 * 4096), false);
            for (int i = 0; i < 300; i++) {
                int lba = r.nextInt(BLOCKS);
                a.write(lba, ByteBuffer.wrap(PoolFixture.random(r.nextInt(2000), 4096)), false);
            }
            a.unmap(100, 150);
            b.copyFrom(a, 0, 500, 1000);
            b.write(5, ByteBuffer.wrap(PoolFixture.compressible(5, 4096)), false);
            for (DedupVolume v : List.of(a, b)) {
                content.put(v.name(), PoolFixture.read(v, 0, BLOCKS).array());
                volumeStats.put(v.name(), v.stats());
            }
            poolFigures = figures(pool.stats(false));
            try (MetaTxn t = pool.meta().read()) {
                t.scanAllBlocks((vol, db, chunk) -> entries.add(new long[] {vol, db, chunk}));
            }
        }
        assertTrue(entries.size() > 2000, "entries " + entries.size());
        writeFormatOne(dir.resolve("meta"), entries);
        assertTrue(LmdbVerifier.check(dir.resolve("meta/data.mdb"), -1).damage().isEmpty(),
                "a format 1 pool passes the open-time check");

        System.setProperty("orion.meta.convertEntries", "100"); // about 25 transactions
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertFalse(pool.meta().legacyBlockMap());
            MetaStore.Conversion c = pool.meta().conversion();
            assertEquals(entries.size(), c.entries());
            // each transaction ends at the first page boundary after 100 old entries
            assertTrue(c.transactions() > 10 && c.transactions() <= c.pages() + 1, "bounded transactions: " + c);
            try (MetaTxn t = pool.meta().read()) {
                assertEquals(PoolCounters.FORMAT_VERSION, t.counters().formatVersion());
                assertEquals(6, PoolCounters.FORMAT_VERSION);
                assertEquals(entries.size(), t.mappedBlocks());
                assertTrue(MetaCrossCheck.run(t).problems().isEmpty(), MetaCrossCheck.run(t).problems().toString());
                List<long[]> after = new ArrayList<>();
                t.scanAllBlocks((vol, db, chunk) -> after.add(new long[] {vol, db, chunk}));
                assertEquals(entries.size(), after.size());
                for (int i = 0; i < after.size(); i++) {
                    assertArrayEquals(entries.get(i), after.get(i));
                }
            }
            for (String name : List.of("a", "b")) {
                DedupVolume v = pool.openVolume(name).orElseThrow();
                assertArrayEquals(content.get(name), PoolFixture.read(v, 0, BLOCKS).array(), name);
                assertEquals(volumeStats.get(name), v.stats(), name);
            }
            assertArrayEquals(poolFigures, figures(pool.stats(false)));
            // and it is writable as before
            DedupVolume a = pool.openVolume("a").orElseThrow();
            a.write(7, ByteBuffer.wrap(PoolFixture.random(99_999, 4096)), false);
            assertArrayEquals(PoolFixture.random(99_999, 4096), PoolFixture.read(a, 7, 1).array());
        } finally {
            System.clearProperty("orion.meta.convertEntries");
        }
        try (Env<ByteBuffer> env = Env.create().setMapSize(256L << 20).setMaxDbs(16).open(dir.resolve("meta").toFile())) {
            List<String> names = new ArrayList<>();
            for (byte[] n : env.getDbiNames()) {
                names.add(new String(n, StandardCharsets.UTF_8));
            }
            assertFalse(names.contains("blocks"), names.toString());
            assertTrue(names.contains(MetaStore.BLOCK_PAGES), names.toString());
        }
    }

    private static long[] figures(PoolStats s) {
        return new long[] {s.logicalBytes(), s.zeroBlocks(), s.uniqueChunks(), s.uniqueBytes(), s.storedBytes(),
            s.reclaimableBytes(), s.containers()};
    }

    /**
     * The format 1 writer, as earlier builds wrote the block map: key volume u32 ‖ block u64, value
     * chunk id u64 ‖ CRC32C(key ‖ chunk id); the pages database dropped; counters format version 1.
     */
    static void writeFormatOne(Path meta, List<long[]> entries) {
        try (Env<ByteBuffer> env = Env.create().setMapSize(256L << 20).setMaxDbs(16).open(meta.toFile())) {
            Dbi<ByteBuffer> blocks = env.openDbi("blocks", DbiFlags.MDB_CREATE);
            Dbi<ByteBuffer> pages = env.openDbi(MetaStore.BLOCK_PAGES);
            Dbi<ByteBuffer> counters = env.openDbi("counters");
            try (Txn<ByteBuffer> t = env.txnWrite()) {
                ByteBuffer k = ByteBuffer.allocateDirect(12);
                ByteBuffer v = ByteBuffer.allocateDirect(12);
                for (long[] e : entries) {
                    k.clear();
                    k.putInt((int) e[0]).putLong(e[1]).flip();
                    byte[] kb = new byte[12];
                    k.duplicate().get(kb);
                    byte[] vb = ByteBuffer.allocate(8).putLong(e[2]).array();
                    v.clear();
                    v.put(vb).putInt(crc(kb, vb)).flip();
                    blocks.put(t, k, v);
                }
                pages.drop(t, true);
                ByteBuffer ck = ByteBuffer.allocateDirect(4).put("pool".getBytes(StandardCharsets.US_ASCII)).flip();
                ByteBuffer cv = counters.get(t, ck);
                byte[] c = new byte[cv.remaining()];
                cv.get(c);
                ByteBuffer cb = ByteBuffer.wrap(c);
                cb.putInt(0, 1);
                cb.putInt(c.length - 4, crc("pool".getBytes(StandardCharsets.US_ASCII),
                        java.util.Arrays.copyOf(c, c.length - 4)));
                counters.put(t, ck, ByteBuffer.allocateDirect(c.length).put(c).flip());
                t.commit();
            }
        }
    }

    private static int crc(byte[] key, byte[] val) {
        CRC32C c = new CRC32C();
        c.update(key);
        c.update(val);
        return (int) c.getValue();
    }
}
