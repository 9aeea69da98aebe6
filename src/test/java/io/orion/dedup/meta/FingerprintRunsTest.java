package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Cursor;
import org.lmdbjava.Txn;

/**
 * The fingerprint index kept in runs of entries per LMDB value (pool format 6): the run value's
 * check, answers after merges, deletions and a reopen, runs kept within their size, and the
 * entries of one 6-byte prefix spread over several runs.
 */
class FingerprintRunsTest {
    @TempDir
    Path dir;

    private static byte[] fp(int i) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(("run " + i).getBytes(StandardCharsets.UTF_8));
    }

    /** A fingerprint whose first 6 bytes are {@code fp(0)}'s (one prefix shared by many). */
    private static byte[] shared(int i) throws Exception {
        byte[] f = fp(1_000_000 + i);
        System.arraycopy(fp(0), 0, f, 0, MetaCodec.RUN_PREFIX);
        return f;
    }

    private static ChunkRecord chunk(long id, byte[] fp) {
        return new ChunkRecord(id, fp, 1, (int) id * 100, 100, 4096, 0, 1);
    }

    @Test
    void aRunValueFailsItsCheckWhenAnyBitFlipsOrItsEntriesAreOutOfOrder() {
        ByteBuffer k = ByteBuffer.allocate(MetaCodec.RUN_KEY);
        ByteBuffer v = ByteBuffer.allocate(MetaCodec.RUN_VAL_MAX);
        long[] p = {5, 5, 9};
        long[] id = {3, 8, 1};
        MetaCodec.runKey(k, 5, 3);
        MetaCodec.runValue(k, v, p, id, 0, 3);
        assertEquals(3 * MetaCodec.RUN_ENTRY + 4, v.remaining());
        assertNull(MetaCodec.checkRun(k, v));
        byte[] sound = new byte[v.remaining()];
        v.duplicate().get(sound);
        for (int bit = 0; bit < sound.length * 8; bit++) {
            byte[] b = sound.clone();
            b[bit / 8] ^= (byte) (1 << (bit % 8));
            assertNotNull(MetaCodec.checkRun(k, ByteBuffer.wrap(b)), "bit " + bit);
        }
        MetaCodec.runKey(k, 5, 4); // a key above the first entry
        MetaCodec.runValue(k, v, p, id, 0, 3);
        assertNotNull(MetaCodec.checkRun(k, v));
        MetaCodec.runKey(k, 5, 3);
        MetaCodec.runValue(k, v, new long[] {5, 4}, new long[] {3, 9}, 0, 2);
        assertNotNull(MetaCodec.checkRun(k, v), "out of order");
    }

    private static void index(MetaStore m, Map<Integer, Long> want, List<byte[]> fps, int from, int to, long idBase)
            throws Exception {
        try (MetaWriteTxn w = m.write()) {
            for (int i = from; i < to; i++) {
                w.putChunk(chunk(idBase + i, fps.get(i)));
                w.putIndex(fps.get(i), idBase + i);
                want.put(i, idBase + i);
            }
            w.commit();
        }
    }

    private static void check(MetaStore m, Map<Integer, Long> want, List<byte[]> fps) throws Exception {
        try (MetaTxn r = m.read()) {
            for (int i = 0; i < fps.size(); i++) {
                assertEquals(want.getOrDefault(i, 0L), r.index(fps.get(i)), "fingerprint " + i);
            }
            assertEquals(List.of(), FingerprintIndexTest.MetaCrossCheckAccess.indexProblems(r));
        }
        try (Txn<ByteBuffer> t = m.env.txnRead(); Cursor<ByteBuffer> c = m.runs.openCursor(t)) {
            for (boolean ok = c.first(); ok; ok = c.next()) {
                ByteBuffer k = MetaCodec.be(c.key());
                ByteBuffer v = MetaCodec.be(c.val());
                assertNull(MetaCodec.checkRun(k, v));
                assertTrue(MetaCodec.runEntries(v.remaining()) <= MetaCodec.RUN_MAX);
            }
        }
    }

    @Test
    void answersStayRightThroughMergesDeletionsAndAReopenAndOnePrefixSpreadOverRuns() throws Exception {
        List<byte[]> fps = new java.util.ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            // every tenth fingerprint shares fp(0)'s 6-byte prefix: 300 entries under one prefix,
            // more than a run holds
            fps.add(i % 10 == 0 ? shared(i) : fp(i));
        }
        Map<Integer, Long> want = new HashMap<>();
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertEquals(PoolCounters.FORMAT_VERSION, m.formatVersion());
            m.fpLogMergeAt(700);
            for (int i = 0; i < fps.size(); i += 100) {
                index(m, want, fps, i, i + 100, 1);
            }
            m.mergeFingerprintLog();
            check(m, want, fps);
            long runs;
            try (Txn<ByteBuffer> t = m.env.txnRead()) {
                runs = m.runs.stat(t).entries;
            }
            assertTrue(runs >= 3000 / MetaCodec.RUN_MAX && runs <= 3000 / (MetaCodec.RUN_FILL / 2), "runs " + runs);
            // chunks gone (their entries deleted with them), fingerprints indexed to new copies,
            // under the shared prefix too
            try (MetaWriteTxn w = m.write()) {
                for (int i = 0; i < fps.size(); i += 7) {
                    w.deleteChunk(want.get(i));
                    w.deleteIndex(fps.get(i));
                    want.remove(i);
                }
                for (int i = 5; i < fps.size(); i += 20) {
                    if (want.containsKey(i)) {
                        w.putChunk(chunk(10_000 + i, fps.get(i)));
                        w.putIndex(fps.get(i), 10_000 + i);
                        want.put(i, 10_000L + i);
                    }
                }
                for (int i = 10; i < fps.size(); i += 30) {
                    if (want.containsKey(i)) {
                        w.putChunk(chunk(20_000 + i, fps.get(i)));
                        w.putIndex(fps.get(i), 20_000 + i);
                        want.put(i, 20_000L + i);
                    }
                }
                w.commit();
            }
            check(m, want, fps);
            m.mergeFingerprintLog();
            check(m, want, fps);
            try (MetaTxn r = m.read()) {
                assertEquals(want.size(), r.entryCounts()[2], "one entry per indexed fingerprint");
            }
        }
        assertTrue(LmdbVerifier.check(dir.resolve("data.mdb"), -1).damage().isEmpty());
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            check(m, want, fps);
        }
    }
}
