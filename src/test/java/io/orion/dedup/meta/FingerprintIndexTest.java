package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The format 3 fingerprint index (fingerprint prefix ‖ chunk id keys): fingerprints that share
 * their prefix are told apart by the chunk records, an entry naming a chunk of another fingerprint
 * answers nothing (a missed dedup, never a wrong share), and index changes keep the meaning of
 * putIndex/deleteIndex (one chunk per fingerprint, the last put wins).
 */
class FingerprintIndexTest {
    @TempDir
    Path dir;

    private static byte[] fp(int prefix, int rest) {
        byte[] f = new byte[32];
        f[0] = (byte) prefix;
        f[7] = 1;
        f[31] = (byte) rest;
        f[20] = (byte) (rest * 7);
        return f;
    }

    private static ChunkRecord chunk(long id, byte[] fp) {
        return new ChunkRecord(id, fp, 1, (int) id * 100, 100, 4096, 0, 1);
    }

    /** Run with every change merged at its commit (1) and with the changes held in the log. */
    @ParameterizedTest
    @ValueSource(ints = {1, 1 << 15})
    void fingerprintsSharingTheirPrefixAreToldApart(int mergeAt) throws Exception {
        byte[] a = fp(5, 1);
        byte[] b = fp(5, 2); // same first 8 bytes as a
        byte[] c = fp(6, 1);
        try (MetaStore m = MetaStore.open(dir, 4 << 20)) {
            m.fpLogMergeAt(mergeAt);
            assertEquals(PoolCounters.FORMAT_VERSION, m.formatVersion());
            try (MetaWriteTxn w = m.write()) {
                // indexed before its chunk record is written (as the committer does): found in the transaction
                w.putIndex(a, 10);
                w.putIndex(b, 11);
                w.putIndex(c, 12);
                assertEquals(10, w.index(a));
                assertEquals(11, w.index(b));
                w.putChunk(chunk(10, a));
                w.putChunk(chunk(11, b));
                w.putChunk(chunk(12, c));
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(10, r.index(a));
                assertEquals(11, r.index(b));
                assertEquals(12, r.index(c));
                assertEquals(0, r.index(fp(5, 3)), "same prefix, no such fingerprint");
                assertEquals(3, r.entryCounts()[2]);
                Map<Long, byte[]> seen = new HashMap<>();
                r.scanIndex((f, id) -> seen.put(id, f) == null);
                assertEquals(3, seen.size());
                assertTrue(java.util.Arrays.equals(a, seen.get(10L)));
                assertTrue(java.util.Arrays.equals(b, seen.get(11L)));
                assertTrue(MetaCrossCheckAccess.indexProblems(r).isEmpty());
            }
            // a new chunk takes the fingerprint over (verify found the old copy damaged): the old entry goes
            try (MetaWriteTxn w = m.write()) {
                w.putChunk(chunk(13, b));
                w.putIndex(b, 13);
                assertEquals(13, w.index(b));
                assertEquals(10, w.index(a));
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(13, r.index(b));
                assertEquals(10, r.index(a));
                assertEquals(3, r.entryCounts()[2]);
            }
            // deleting one fingerprint leaves the other of the same prefix
            try (MetaWriteTxn w = m.write()) {
                w.deleteIndex(a);
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(0, r.index(a));
                assertEquals(13, r.index(b));
                assertEquals(2, r.entryCounts()[2]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 1 << 15})
    void anEntryNamingAChunkOfAnotherFingerprintAnswersNothing(int mergeAt) throws Exception {
        byte[] a = fp(9, 1);
        byte[] other = fp(8, 1); // another prefix: a's key names a chunk it cannot belong to
        try (MetaStore m = MetaStore.open(dir, 4 << 20)) {
            m.fpLogMergeAt(mergeAt);
            try (MetaWriteTxn w = m.write()) {
                w.putChunk(chunk(20, other));
                w.commit();
            }
            // a damaged (or stale) entry: a's prefix naming chunk 20, whose fingerprint is another
            try (org.lmdbjava.Txn<ByteBuffer> t = m.env.txnWrite()) {
                ByteBuffer k = ByteBuffer.allocateDirect(MetaCodec.RUN_KEY);
                ByteBuffer v = ByteBuffer.allocateDirect(MetaCodec.RUN_VAL_MAX);
                long[] p = {MetaCodec.runPrefix(a)};
                MetaCodec.runKey(k, p[0], 20);
                MetaCodec.runValue(k, v, p, new long[] {20}, 0, 1);
                m.runs.put(t, k, v);
                t.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(0, r.index(a), "never the chunk of another fingerprint");
                assertEquals(java.util.List.of("fingerprint index entry names chunk 20 whose fingerprint differs"),
                        MetaCrossCheckAccess.indexProblems(r));
            }
            // indexing a for real replaces nothing of chunk 20's and is found
            try (MetaWriteTxn w = m.write()) {
                w.putChunk(chunk(21, a));
                w.putIndex(a, 21);
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(21, r.index(a));
            }
        }
    }

    /** The cross check's index findings, without the fingerprint hex (tests compare the wording). */
    static final class MetaCrossCheckAccess {
        static java.util.List<String> indexProblems(MetaTxn t) throws MetaCorruptException {
            java.util.List<String> out = new java.util.ArrayList<>();
            for (String p : MetaCrossCheck.run(t).problems()) {
                if (p.startsWith("fingerprint index entry")) {
                    out.add(p.replaceAll("entry [0-9a-f]{64} ", "entry "));
                }
            }
            return out;
        }
    }
}
