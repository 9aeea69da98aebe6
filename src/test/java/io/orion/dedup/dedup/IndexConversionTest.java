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
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/**
 * A pool of format 2 (the fingerprint index keyed by the whole fingerprint, as the previous build
 * wrote it) is converted at open to format 3 in bounded transactions; a partial copy left by a
 * conversion cut short is emptied first; data, statistics and deduplication stay as they were.
 */
class IndexConversionTest {
    @TempDir
    Path dir;

    @Test
    void aFormatTwoIndexIsConvertedAtOpenAndStillDeduplicates() throws Exception {
        byte[] content;
        long[] figures;
        TreeMap<String, Long> index = new TreeMap<>();
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 4096, 4096L * 4096, 4096);
            PoolFixture.writeCycling(a, 1024, 700);
            content = PoolFixture.read(a, 0, 1024).array();
            figures = figures(pool.stats(false));
            try (MetaTxn t = pool.meta().read()) {
                t.scanIndex((fp, id) -> index.put(HexFormat.of().formatHex(fp), id) == null);
            }
        }
        assertEquals(700, index.size());
        writeFormatTwo(dir.resolve("meta"), index);
        assertTrue(LmdbVerifier.check(dir.resolve("meta/data.mdb"), -1).damage().isEmpty(),
                "a format 2 pool passes the open-time check");

        System.setProperty("orion.meta.convertEntries", "100");
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertFalse(pool.meta().legacyIndex());
            MetaStore.Conversion c = pool.meta().indexConversion();
            assertEquals(700, c.entries());
            assertEquals(7, c.transactions(), "bounded transactions: " + c);
            try (MetaTxn t = pool.meta().read()) {
                assertEquals(PoolCounters.FORMAT_VERSION, t.counters().formatVersion());
                assertEquals(700, t.entryCounts()[2], "the stray entry of the cut-short copy is gone");
                assertTrue(MetaCrossCheck.run(t).problems().isEmpty(), MetaCrossCheck.run(t).problems().toString());
                TreeMap<String, Long> after = new TreeMap<>();
                t.scanIndex((fp, id) -> after.put(HexFormat.of().formatHex(fp), id) == null);
                assertEquals(index, after);
            }
            DedupVolume a = pool.openVolume("a").orElseThrow();
            assertArrayEquals(content, PoolFixture.read(a, 0, 1024).array());
            assertArrayEquals(figures, figures(pool.stats(false)));
            // written again: shared with the chunks found through the converted index
            a.write(2000, ByteBuffer.wrap(PoolFixture.random(5, 4096)), false);
            assertEquals(figures[2], pool.stats(false).uniqueChunks());
        } finally {
            System.clearProperty("orion.meta.convertEntries");
        }
        try (Env<ByteBuffer> env = Env.create().setMapSize(256L << 20).setMaxDbs(16).open(dir.resolve("meta").toFile())) {
            List<String> names = new ArrayList<>();
            for (byte[] n : env.getDbiNames()) {
                names.add(new String(n, StandardCharsets.UTF_8));
            }
            assertFalse(names.contains("index"), names.toString());
            assertFalse(names.contains(MetaStore.FP_INDEX), names.toString());
            assertTrue(names.contains(MetaStore.FP_RUNS), names.toString());
            assertFalse(names.contains(MetaStore.LEGACY_CHUNKS), names.toString());
        }
    }

    private static long[] figures(PoolStats s) {
        return new long[] {s.logicalBytes(), s.zeroBlocks(), s.uniqueChunks(), s.uniqueBytes(), s.storedBytes(),
            s.reclaimableBytes(), s.containers()};
    }

    /**
     * The format 2 writer, as the previous build wrote the index: key the 32-byte fingerprint,
     * value chunk id u64 ‖ CRC32C(key ‖ chunk id); one {@code chunks} entry per chunk record;
     * fpindex left with one stray entry (a copy cut short); no fpruns; counters format version 2.
     */
    static void writeFormatTwo(Path meta, TreeMap<String, Long> entries) {
        io.orion.dedup.meta.LegacyChunkTable.downgrade(meta, false);
        try (Env<ByteBuffer> env = Env.create().setMapSize(256L << 20).setMaxDbs(16).open(meta.toFile())) {
            Dbi<ByteBuffer> index = env.openDbi("index", DbiFlags.MDB_CREATE);
            Dbi<ByteBuffer> fpindex = env.openDbi(MetaStore.FP_INDEX, DbiFlags.MDB_CREATE);
            Dbi<ByteBuffer> runs = env.openDbi(MetaStore.FP_RUNS);
            Dbi<ByteBuffer> counters = env.openDbi("counters");
            Dbi<ByteBuffer> fplog = env.openDbi(MetaStore.FP_LOG, DbiFlags.MDB_CREATE);
            try (Txn<ByteBuffer> t = env.txnWrite()) {
                fplog.drop(t, true); // format 2 has no change log
                runs.drop(t, true); // nor runs
                ByteBuffer k = ByteBuffer.allocateDirect(32);
                ByteBuffer v = ByteBuffer.allocateDirect(12);
                for (var e : entries.entrySet()) {
                    byte[] kb = HexFormat.of().parseHex(e.getKey());
                    byte[] vb = ByteBuffer.allocate(8).putLong(e.getValue()).array();
                    k.clear();
                    k.put(kb).flip();
                    v.clear();
                    v.put(vb).putInt(crc(kb, vb)).flip();
                    index.put(t, k, v);
                }
                fpindex.drop(t);
                ByteBuffer sk = ByteBuffer.allocateDirect(14).put(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 1})
                        .flip();
                fpindex.put(t, sk, ByteBuffer.allocateDirect(0));
                ByteBuffer ck = ByteBuffer.allocateDirect(4).put("pool".getBytes(StandardCharsets.US_ASCII)).flip();
                ByteBuffer cv = counters.get(t, ck);
                byte[] c = new byte[cv.remaining()];
                cv.get(c);
                ByteBuffer cb = ByteBuffer.wrap(c);
                cb.putInt(0, 2);
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
