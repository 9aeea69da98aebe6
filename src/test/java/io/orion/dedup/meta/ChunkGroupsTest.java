package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Env;

/**
 * Chunk records kept {@link MetaCodec#GROUP} to an LMDB value (pool format 5): the value's layout
 * and check, what a write transaction reads back before and after its commit, groups emptied and
 * deleted, and the conversion of a format 4 pool's one-entry-per-chunk table.
 */
class ChunkGroupsTest {
    @TempDir
    Path dir;

    private static byte[] fp(long i) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(("chunk " + i).getBytes(StandardCharsets.UTF_8));
    }

    private static ChunkRecord rec(long id, int refs) throws Exception {
        return new ChunkRecord(id, fp(id), (int) (id % 7) + 1, (int) id * 4160, 4096 + (int) (id % 64),
                4096, (int) (id % 3), refs);
    }

    private static void assertSame(ChunkRecord want, ChunkRecord got) {
        assertNotNull(got, "chunk " + want.id());
        assertArrayEquals(want.fingerprint(), got.fingerprint());
        assertEquals(want.withRefCount(0).location(), got.location());
        assertEquals(List.of(want.id(), want.originalLength(), want.flags(), want.refCount()),
                List.of(got.id(), got.originalLength(), got.flags(), got.refCount()));
    }

    @Test
    void aGroupValueDecodesToItsRecordsAndEveryFlippedBitFailsItsCheck() throws Exception {
        ByteBuffer k = ByteBuffer.allocate(8);
        ByteBuffer v = ByteBuffer.allocate(MetaCodec.GROUP_VAL_MAX);
        ChunkRecord[] in = new ChunkRecord[MetaCodec.GROUP];
        assertFalse(MetaCodec.groupValue(k, v, in), "an empty group is not stored");
        long group = 5;
        MetaCodec.groupKey(k, group);
        for (int slot : new int[] {0, 1, 17, 36}) {
            in[slot] = rec(group * MetaCodec.GROUP + slot, slot + 1);
        }
        assertTrue(MetaCodec.groupValue(k, v, in));
        assertEquals(8 + 4 * MetaCodec.GROUP_RECORD + 4, v.remaining());
        assertNull(MetaCodec.checkGroup(k, v));
        ChunkRecord[] out = new ChunkRecord[MetaCodec.GROUP];
        MetaCodec.decodeGroup(group, v, out);
        for (int i = 0; i < MetaCodec.GROUP; i++) {
            long id = group * MetaCodec.GROUP + i;
            if (in[i] == null) {
                assertNull(out[i]);
                assertNull(MetaCodec.groupRecord(id, v));
            } else {
                assertSame(in[i], out[i]);
                assertSame(in[i], MetaCodec.groupRecord(id, v));
            }
        }
        byte[] sound = new byte[v.remaining()];
        v.duplicate().get(sound);
        for (int bit = 0; bit < sound.length * 8; bit++) {
            byte[] b = sound.clone();
            b[bit / 8] ^= (byte) (1 << (bit % 8));
            assertNotNull(MetaCodec.checkGroup(k, ByteBuffer.wrap(b)), "bit " + bit);
        }
        // the layout with every slot in its place (the last group while it fills) reads the same
        ChunkGroup cg = new ChunkGroup(group);
        cg.load(ByteBuffer.wrap(sound));
        ByteBuffer fixed = ByteBuffer.allocate(MetaCodec.GROUP_VAL_MAX);
        assertTrue(cg.encode(k, fixed, true));
        assertEquals(MetaCodec.GROUP_VAL_MAX, fixed.remaining());
        assertNull(MetaCodec.checkGroup(k, fixed));
        MetaCodec.decodeGroup(group, fixed, out);
        for (int i = 0; i < MetaCodec.GROUP; i++) {
            long id = group * MetaCodec.GROUP + i;
            if (in[i] == null) {
                assertNull(out[i]);
                assertNull(MetaCodec.groupRecord(id, fixed));
                assertNull(cg.get(id));
            } else {
                assertSame(in[i], out[i]);
                assertSame(in[i], MetaCodec.groupRecord(id, fixed));
                assertSame(in[i], cg.get(id));
            }
        }
        ChunkGroup back = new ChunkGroup(group);
        back.load(fixed);
        ByteBuffer again = ByteBuffer.allocate(MetaCodec.GROUP_VAL_MAX);
        back.encode(k, again, false);
        assertEquals(ByteBuffer.wrap(sound), again, "compact again, byte for byte");
        // under another key (a damaged key, or a value moved) it fails too
        ByteBuffer other = ByteBuffer.allocate(8);
        MetaCodec.groupKey(other, group + 1);
        assertNotNull(MetaCodec.checkGroup(other, ByteBuffer.wrap(sound)));
        // a value stays even (LMDB pads a node to an even size): 50-byte records need no pad byte
        in[36] = null;
        MetaCodec.groupValue(k, v, in);
        int body = 8 + 3 * MetaCodec.GROUP_RECORD;
        assertEquals(body + (body & 1) + 4, v.remaining());
        assertNull(MetaCodec.checkGroup(k, v));
        // a full group fits two to a 4 KiB leaf page (no overflow pages)
        for (int i = 0; i < MetaCodec.GROUP; i++) {
            in[i] = rec(group * MetaCodec.GROUP + i, 1);
        }
        MetaCodec.groupValue(k, v, in);
        assertEquals(MetaCodec.GROUP_VAL_MAX, v.remaining());
        assertTrue(2 * (8 + 8 + MetaCodec.GROUP_VAL_MAX + 2) <= 4096 - 16);
    }

    @Test
    void recordsWrittenOutOfOrderReadBackInTheSameAndLaterTransactionsAndEmptyGroupsGo() throws Exception {
        TreeMap<Long, ChunkRecord> want = new TreeMap<>();
        List<Long> ids = new ArrayList<>();
        for (long id = 1; id <= 500; id++) {
            ids.add(id);
        }
        Collections.shuffle(ids, new Random(5));
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertEquals(PoolCounters.FORMAT_VERSION, m.formatVersion());
            for (int i = 0; i < ids.size(); i += 60) {
                try (MetaWriteTxn w = m.write()) {
                    for (long id : ids.subList(i, Math.min(ids.size(), i + 60))) {
                        ChunkRecord r = rec(id, 1);
                        w.putChunk(r);
                        want.put(id, r);
                        assertSame(r, w.chunk(id)); // its own write, before the commit
                    }
                    w.commit();
                }
            }
            try (MetaWriteTxn w = m.write()) {
                // refcounts raised, a whole group (group 1) and some others deleted
                for (long id = MetaCodec.GROUP; id < 2 * MetaCodec.GROUP; id++) {
                    w.deleteChunk(id);
                    want.remove(id);
                }
                for (long id = 100; id <= 500; id += 9) {
                    w.deleteChunk(id);
                    want.remove(id);
                }
                for (long id = 1; id <= 30; id++) {
                    ChunkRecord r = rec(id, 5);
                    w.putChunk(r);
                    want.put(id, r);
                }
                assertNull(w.chunk(MetaCodec.GROUP + 3));
                w.commit();
            }
            // an aborted transaction changes nothing
            try (MetaWriteTxn w = m.write()) {
                w.deleteChunk(2);
                w.putChunk(rec(41, 1));
                w.abort();
            }
        }
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertTrue(m.damage().isEmpty(), m.damage().problems().toString());
            try (MetaTxn t = m.read()) {
                for (long id = 0; id <= 520; id++) {
                    ChunkRecord r = t.chunk(id);
                    if (want.containsKey(id)) {
                        assertSame(want.get(id), r);
                    } else {
                        assertNull(r, "chunk " + id);
                    }
                }
                long[] q = {5, 6, 7, 40, 80, 81, 0, 499, 500, 501, 3};
                ChunkRecord[] out = new ChunkRecord[q.length];
                t.chunks(q, out);
                for (int i = 0; i < q.length; i++) {
                    if (want.containsKey(q[i])) {
                        assertSame(want.get(q[i]), out[i]);
                    } else {
                        assertNull(out[i], "chunk " + q[i]);
                    }
                }
                List<Long> scanned = new ArrayList<>();
                t.scanChunks(75, r -> scanned.add(r.id()));
                assertEquals(new ArrayList<>(want.tailMap(75L).keySet()), scanned);
                assertEquals(want.size(), t.entryCounts()[1]);
                assertEquals(5, t.chunk(2).refCount());
            }
            try (org.lmdbjava.Txn<ByteBuffer> t = m.env.txnRead()) {
                org.lmdbjava.Dbi<ByteBuffer> g = m.env.openDbi(MetaStore.CHUNK_GROUPS);
                // ids 1..500 lie in groups 0 to 500 / GROUP; group 1 was emptied and deleted
                assertEquals(500 / MetaCodec.GROUP + 1 - 1, g.stat(t).entries);
            }
        }
    }

    @Test
    void aFormat4ChunkTableIsConvertedInBoundedTransactionsAndACutShortCopyIsEmptiedFirst() throws Exception {
        TreeMap<Long, ChunkRecord> want = new TreeMap<>();
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            try (MetaWriteTxn w = m.write()) {
                for (long id = 1; id <= 1000; id++) {
                    if (id % 11 != 0) {
                        ChunkRecord r = rec(id, (int) id);
                        w.putChunk(r);
                        want.put(id, r);
                    }
                }
                w.putCounters(new PoolCounters(PoolCounters.FORMAT_VERSION, java.util.UUID.randomUUID(), 1 << 20,
                        1001, 2, 1, want.size(), 0, 0));
                w.commit();
            }
        }
        assertEquals(want.size(), LegacyChunkTable.downgrade(dir, true));
        assertTrue(LmdbVerifier.check(dir.resolve("data.mdb"), -1).damage().isEmpty(),
                "a format 4 pool (with a cut-short copy) passes the open-time check");
        System.setProperty("orion.meta.convertEntries", "100");
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            MetaStore.Conversion c = m.chunkConversion();
            assertNotNull(c);
            assertEquals(want.size(), c.entries());
            assertEquals(9, c.transactions(), "bounded transactions: " + c);
            assertEquals(PoolCounters.FORMAT_VERSION, m.formatVersion());
            try (MetaTxn t = m.read()) {
                assertEquals(PoolCounters.FORMAT_VERSION, t.counters().formatVersion());
                List<ChunkRecord> got = new ArrayList<>();
                t.scanChunks(0, got::add);
                assertEquals(want.size(), got.size(), "the stray group of the cut-short copy is gone");
                for (ChunkRecord r : got) {
                    assertSame(want.get(r.id()), r);
                }
                assertNull(t.chunk(MetaCodec.GROUP * 1000L + 3));
            }
        } finally {
            System.clearProperty("orion.meta.convertEntries");
        }
        try (Env<ByteBuffer> env = Env.create().setMapSize(64L << 20).setMaxDbs(16).open(dir.toFile())) {
            List<String> names = new ArrayList<>();
            for (byte[] n : env.getDbiNames()) {
                names.add(new String(n, StandardCharsets.UTF_8));
            }
            assertFalse(names.contains(MetaStore.LEGACY_CHUNKS), names.toString());
            assertTrue(names.contains(MetaStore.CHUNK_GROUPS), names.toString());
        }
    }
}
