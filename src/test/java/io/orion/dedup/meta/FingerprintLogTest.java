package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/**
 * The fingerprint index's change log (format 4): new fingerprints are appended to {@code fplog}
 * and merged into {@code fpindex} in key order, so a unique block no longer copies a random index
 * leaf at its commit; the log answers for what it holds, survives a reopen, is put back with an
 * aborted transaction, and a format 3 pool is upgraded.
 */
class FingerprintLogTest {
    @TempDir
    Path dir;

    private static byte[] fp(int i) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(("block " + i).getBytes(StandardCharsets.UTF_8));
    }

    private static ChunkRecord chunk(long id, byte[] fp) {
        return new ChunkRecord(id, fp, 1, (int) id * 100, 100, 4096, 0, 1);
    }

    private static void put(MetaStore m, int from, int to, int perCommit) throws Exception {
        for (int i = from; i < to; i += perCommit) {
            try (MetaWriteTxn w = m.write()) {
                for (int j = i; j < Math.min(to, i + perCommit); j++) {
                    w.putChunk(chunk(j + 1, fp(j)));
                    w.putIndex(fp(j), j + 1);
                }
                w.commit();
            }
        }
    }

    /** The entries merged into the fingerprint index ({@code fpruns}: the entries of its runs). */
    private static long merged(MetaStore m) {
        long n = 0;
        try (Txn<ByteBuffer> t = m.env.txnRead(); org.lmdbjava.Cursor<ByteBuffer> c = m.runs.openCursor(t)) {
            for (boolean ok = c.first(); ok; ok = c.next()) {
                n += MetaCodec.runEntries(c.val().remaining());
            }
        }
        return n;
    }

    private static long entries(MetaStore m, Dbi<ByteBuffer> d) {
        try (Txn<ByteBuffer> t = m.env.txnRead()) {
            return d.stat(t).entries;
        }
    }

    private static void assertIndexed(MetaStore m, int from, int to) throws Exception {
        try (MetaTxn r = m.read()) {
            for (int j = from; j < to; j++) {
                assertEquals(j + 1, r.index(fp(j)), "fingerprint " + j);
            }
            assertEquals(List.of(), indexProblems(r));
        }
    }

    /** The cross check's findings about the index (these tests' chunks have no block-map references). */
    private static List<String> indexProblems(MetaTxn r) throws Exception {
        List<String> out = new ArrayList<>();
        for (String p : MetaCrossCheck.run(r).problems()) {
            if (p.startsWith("fingerprint index")) {
                out.add(p);
            }
        }
        return out;
    }

    /** Pages of data.mdb a run of unique fingerprints adds while an older state is pinned (as a flushed state is). */
    private long pagesPerFingerprint(Path d, int mergeAt, int n) throws Exception {
        try (MetaStore m = MetaStore.open(d, 256L << 20)) {
            m.fpLogMergeAt(mergeAt);
            put(m, 0, 2000, 100);
            long before = m.env.info().lastPageNumber;
            try (MetaTxn pin = m.read()) {
                put(m, 2000, 2000 + n, 32);
                assertEquals(0, pin.index(fp(2001)), "the pinned snapshot predates it");
            }
            long added = m.env.info().lastPageNumber - before;
            assertIndexed(m, 0, 2000 + n);
            return added;
        }
    }

    @Test
    void aUniqueFingerprintNoLongerCopiesARandomIndexLeafAtItsCommit() throws Exception {
        int n = 20_000;
        long logged = pagesPerFingerprint(dir.resolve("log"), 1 << 15, n);
        long direct = pagesPerFingerprint(dir.resolve("direct"), 1, n);
        // direct: about one fresh index leaf (plus branch pages) per fingerprint; logged: the log's
        // and the chunk table's appended leaves, shared by a commit's 32 fingerprints, and the
        // pages every commit copies (branches, main and free-page databases): about 9 per commit
        assertTrue(direct > 0.8 * n, "direct indexing copies about a leaf per fingerprint: " + direct);
        assertTrue(logged < 0.4 * n && logged * 3 < direct, "pages added per fingerprint with the log: " + (double) logged / n
                + " (direct: " + (double) direct / n + ")");
    }

    @Test
    void theLogAnswersUntilMergedAndSurvivesAReopen() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            m.fpLogMergeAt(100);
            put(m, 0, 90, 10);
            assertEquals(90, entries(m, m.fplog));
            assertEquals(0, merged(m));
            assertIndexed(m, 0, 90);
            put(m, 90, 100, 10); // the commit that holds 100 merges them, in the same transaction
            assertEquals(0, entries(m, m.fplog));
            assertEquals(100, merged(m));
            put(m, 100, 150, 10);
            assertEquals(50, entries(m, m.fplog));
            assertIndexed(m, 0, 150);
            try (MetaTxn r = m.read()) {
                assertEquals(150, r.entryCounts()[2]);
            }
        }
        assertTrue(LmdbVerifier.check(dir.resolve("data.mdb"), -1).damage().isEmpty());
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            m.fpLogMergeAt(100);
            assertIndexed(m, 0, 150);
            // a copy takes over a merged fingerprint (5) and a held one (120); a merged (6) and a
            // held (121) fingerprint are deleted with their chunks
            try (MetaWriteTxn w = m.write()) {
                w.putChunk(chunk(1005, fp(5)));
                w.putIndex(fp(5), 1005);
                w.putChunk(chunk(1120, fp(120)));
                w.putIndex(fp(120), 1120);
                w.deleteIndex(fp(6));
                w.deleteChunk(7);
                w.deleteIndex(fp(121));
                w.deleteChunk(122);
                w.commit();
            }
            check(m);
        }
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            check(m);
            m.fpLogMergeAt(1); // the next commit merges everything held
            try (MetaWriteTxn w = m.write()) {
                w.commit();
            }
            assertEquals(0, entries(m, m.fplog));
            check(m);
            try (MetaTxn r = m.read()) {
                assertEquals(148, r.entryCounts()[2], "the replaced entries are gone with the merge");
            }
        }
    }

    private static void check(MetaStore m) throws Exception {
        try (MetaTxn r = m.read()) {
            assertEquals(1005, r.index(fp(5)));
            assertEquals(1120, r.index(fp(120)));
            assertEquals(0, r.index(fp(6)));
            assertEquals(0, r.index(fp(121)));
            for (int j : new int[] {0, 7, 99, 100, 119, 149}) {
                assertEquals(j + 1, r.index(fp(j)));
            }
            List<Long> seen = new ArrayList<>();
            r.scanIndex((f, id) -> {
                seen.add(id);
                assertEquals(ByteBuffer.wrap(f), ByteBuffer.wrap(r.fingerprintOf(id)), "chunk " + id);
                return true;
            });
            assertEquals(148, seen.size(), "one entry per indexed fingerprint: " + seen);
            assertTrue(seen.contains(1005L) && seen.contains(1120L) && !seen.contains(6L) && !seen.contains(121L));
            assertEquals(List.of(), indexProblems(r));
        }
    }

    /** A fingerprint that begins with the 8 bytes of {@code prefix} (an fpindex key prefix) and ends with {@code tail}. */
    private static byte[] sharing(byte[] prefix, int tail) throws Exception {
        byte[] f = fp(100_000 + tail);
        System.arraycopy(prefix, 0, f, 0, 8);
        return f;
    }

    @Test
    void aMergeKeepsOtherFingerprintsUnderTheSamePrefixAndDropsStaleEntries() throws Exception {
        byte[] p = fp(7);
        byte[] a = sharing(p, 1);
        byte[] b = sharing(p, 2);
        byte[] c = sharing(p, 3);
        byte[] d = sharing(p, 4);
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            m.fpLogMergeAt(1); // every commit merges what it holds
            try (MetaWriteTxn w = m.write()) {
                for (int i = 0; i < 4; i++) {
                    byte[] f = new byte[][] {a, b, c, d}[i];
                    w.putChunk(chunk(i + 1, f));
                    w.putIndex(f, i + 1);
                }
                w.commit();
            }
            assertEquals(4, merged(m), "four entries under one prefix");
            // a copy takes over a (chunk 1 -> 11); chunk 3 (c) is gone without its index entry
            // being deleted; b and d stay. The merge of a's change must drop a's old entry and the
            // gone chunk's, and keep b's and d's, which sort around them
            try (MetaWriteTxn w = m.write()) {
                w.putChunk(chunk(11, a));
                w.putIndex(a, 11);
                w.deleteChunk(3);
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(11, r.index(a));
                assertEquals(2, r.index(b));
                assertEquals(0, r.index(c));
                assertEquals(4, r.index(d));
                assertEquals(3, r.entryCounts()[2], "a's old entry and the gone chunk's are merged away");
                assertEquals(List.of(), indexProblems(r));
            }
        }
    }

    @Test
    void anAbortedOrUncommittedTransactionTakesItsIndexChangesBack() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            put(m, 0, 10, 10);
            try (MetaWriteTxn w = m.write()) {
                w.putChunk(chunk(50, fp(50)));
                w.putIndex(fp(50), 50);
                w.putChunk(chunk(1003, fp(3)));
                w.putIndex(fp(3), 1003);
                w.deleteIndex(fp(4));
                assertEquals(50, w.index(fp(50)));
                w.abort();
            }
            try (MetaWriteTxn w = m.write()) {
                w.putIndex(fp(51), 51);
                w.deleteIndex(fp(5));
                // closed without a commit: an exception on the way
            }
            try (MetaTxn r = m.read()) {
                assertEquals(0, r.index(fp(50)));
                assertEquals(0, r.index(fp(51)));
                assertEquals(4, r.index(fp(3)));
                assertEquals(5, r.index(fp(4)));
                assertEquals(6, r.index(fp(5)));
            }
            try (MetaWriteTxn w = m.write()) {
                assertEquals(0, w.index(fp(50)));
                assertEquals(5, w.index(fp(4)));
                w.commit();
            }
            assertEquals(10, entries(m, m.fplog));
        }
    }

    @Test
    void aDeleteThatLmdbRefusesLeavesTheHeldEntry() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 2L << 20)) {
            put(m, 0, 10, 10);
            try (MetaWriteTxn w = m.write()) {
                // the map fills: LMDB fails the transaction, and every later change in it too
                org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> {
                    for (int i = 0; ; i++) {
                        w.putChunk(chunk(1000 + i, fp(1000 + i)));
                    }
                });
                org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> w.deleteIndex(fp(3)));
                w.abort();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(4, r.index(fp(3)), "still indexed: the delete never happened");
            }
            try (MetaWriteTxn w = m.write()) {
                assertEquals(4, w.index(fp(3)));
                w.commit();
            }
        }
    }

    /**
     * A pool of 40 indexed chunks (all in fpindex) as a format 3 build left it: no fplog table,
     * counters at version 3.
     */
    private void format3Pool() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            m.fpLogMergeAt(1);
            put(m, 0, 40, 10);
            try (MetaWriteTxn w = m.write()) {
                w.putCounters(new PoolCounters(4, UUID.randomUUID(), 1 << 20, 41, 2, 1, 40, 40 * 4096, 40 * 100));
                w.commit();
            }
        }
        try (Env<ByteBuffer> env = Env.create().setMapSize(64L << 20).setMaxDbs(16).open(dir.toFile())) {
            Dbi<ByteBuffer> log = env.openDbi(MetaStore.FP_LOG);
            Dbi<ByteBuffer> counters = env.openDbi("counters");
            try (Txn<ByteBuffer> t = env.txnWrite()) {
                log.drop(t, true);
                ByteBuffer k = ByteBuffer.allocateDirect(64);
                k.put(MetaCodec.COUNTERS_KEY).flip();
                PoolCounters c = MetaCodec.counters(MetaCodec.be(counters.get(t, k)));
                ByteBuffer v = ByteBuffer.allocateDirect(128);
                MetaCodec.countersValue(k, v, new PoolCounters(3, c.poolUuid(), c.slotSize(), c.nextChunkId(),
                        c.nextContainerId(), c.nextVolumeId(), c.uniqueChunks(), c.uniqueBytes(), c.storedBytes()));
                counters.put(t, k, v);
                t.commit();
            }
        }
    }

    private List<String> tables() {
        try (Env<ByteBuffer> env = Env.create().setMapSize(64L << 20).setMaxDbs(16).open(dir.toFile())) {
            List<String> names = new ArrayList<>();
            for (byte[] n : env.getDbiNames()) {
                names.add(new String(n, StandardCharsets.UTF_8));
            }
            return names;
        }
    }

    @Test
    void aDamagedFormat3PoolIsNeitherUpgradedNorWritten() throws Exception {
        format3Pool();
        // one chunk record damaged (its CRC no longer matches): damage inside a table, the pool opens read-only
        try (Env<ByteBuffer> env = Env.create().setMapSize(64L << 20).setMaxDbs(16).open(dir.toFile())) {
            Dbi<ByteBuffer> chunks = env.openDbi(MetaStore.CHUNK_GROUPS);
            try (Txn<ByteBuffer> t = env.txnWrite()) {
                // the group of chunks 37 to 73 (chunk 40's)
                ByteBuffer k = ByteBuffer.allocateDirect(8).putLong(40 / MetaCodec.GROUP).flip();
                chunks.put(t, k, ByteBuffer.allocateDirect(MetaCodec.GROUP_VAL_MIN));
                t.commit();
            }
        }
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertTrue(!m.damage().isEmpty());
            assertEquals(3, m.formatVersion());
            try (MetaTxn r = m.read()) {
                assertEquals(3, r.counters().formatVersion());
                assertEquals(1, r.index(fp(0)));
                assertEquals(31, r.index(fp(30)));
            }
        }
        assertTrue(!tables().contains(MetaStore.FP_LOG), tables().toString());
    }

    @Test
    void aFormat3PoolIsUpgradedAndKeepsItsIndex() throws Exception {
        format3Pool();
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            try (MetaTxn r = m.read()) {
                assertEquals(PoolCounters.FORMAT_VERSION, r.counters().formatVersion());
                assertEquals(6, PoolCounters.FORMAT_VERSION);
            }
            assertIndexed(m, 0, 40);
            put(m, 40, 50, 10);
            assertEquals(10, entries(m, m.fplog));
            assertIndexed(m, 0, 50);
        }
        assertTrue(LmdbVerifier.check(dir.resolve("data.mdb"), -1).damage().isEmpty());
    }
}
