package io.orion.dedup.meta;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.lmdbjava.Cursor;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

/**
 * A typed view of one LMDB transaction. Read transactions must be short; every value read is
 * checked against its CRC32C ({@link MetaCorruptException} on mismatch).
 */
public class MetaTxn implements AutoCloseable {
    /** Block-map value meaning "written as zeros": mapped, but no chunk. */
    public static final long ZERO = 0;
    /** Block-map lookup result meaning "never written or unmapped". */
    public static final long ABSENT = -1;

    private static final ThreadLocal<ByteBuffer[]> SCRATCH = ThreadLocal.withInitial(() -> new ByteBuffer[] {
        MetaCodec.be(ByteBuffer.allocateDirect(512)), MetaCodec.be(ByteBuffer.allocateDirect(128))});

    final MetaStore store;
    final Txn<ByteBuffer> txn;
    final ByteBuffer key;
    final ByteBuffer val;
    private final boolean read;
    private boolean closed;

    /**
     * The {@code staged} table as it was before this transaction began (null: none): a table
     * created by another transaction after this one began is not usable by this one.
     */
    org.lmdbjava.Dbi<ByteBuffer> stagedDb;

    MetaTxn(MetaStore store, Txn<ByteBuffer> txn, boolean read) {
        this.store = store;
        this.txn = txn;
        this.read = read;
        if (read) {
            ByteBuffer[] s = SCRATCH.get();
            key = s[0];
            val = s[1];
        } else {
            key = store.writerKey;
            val = store.writerVal;
        }
    }

    /** Dedup blocks per block-map page (one LMDB entry of {@code blockpages}). */
    public static final int PAGE_ENTRIES = MetaCodec.PAGE_ENTRIES;

    /** The chunk id mapped at a dedup block, {@link #ZERO}, or {@link #ABSENT}. */
    public long block(int volume, long dblock) throws MetaCorruptException {
        if (store.blocks != null) {
            return legacyBlock(volume, dblock);
        }
        long page = dblock / PAGE_ENTRIES;
        MetaCodec.pageKey(key, volume, page);
        if (!store.damage().isEmpty()) {
            guard(MetaStore.BLOCK_PAGES, "block map entry " + volume + "/" + dblock);
        }
        ByteBuffer v = store.pages.get(txn, key);
        if (v == null) {
            return ABSENT;
        }
        v = MetaCodec.be(v);
        String bad = MetaCodec.checkPage(key, v);
        if (bad != null) {
            throw new MetaCorruptException(pageName(volume, page) + ": " + bad);
        }
        return MetaCodec.pageEntry(v, (int) (dblock % PAGE_ENTRIES));
    }

    static String pageName(int volume, long page) {
        return "block map page " + volume + "/" + page + " (blocks " + page * PAGE_ENTRIES + ".."
                + (page * PAGE_ENTRIES + PAGE_ENTRIES - 1) + ")";
    }

    /**
     * Decodes block-map page {@code page} of {@code volume} into {@code out} (every entry
     * {@link #ABSENT} when the page is not stored); false when it is not stored.
     */
    boolean readPage(int volume, long page, long[] out) throws MetaCorruptException {
        MetaCodec.pageKey(key, volume, page);
        if (!store.damage().isEmpty()) {
            guard(MetaStore.BLOCK_PAGES, pageName(volume, page));
        }
        ByteBuffer v = store.pages.get(txn, key);
        if (v == null) {
            java.util.Arrays.fill(out, ABSENT);
            return false;
        }
        v = MetaCodec.be(v);
        String bad = MetaCodec.checkPage(key, v);
        if (bad != null) {
            throw new MetaCorruptException(pageName(volume, page) + ": " + bad);
        }
        MetaCodec.decodePage(v, out);
        return true;
    }

    private long legacyBlock(int volume, long dblock) throws MetaCorruptException {
        MetaCodec.blockKey(key, volume, dblock);
        if (!store.damage().isEmpty()) {
            guard("blocks", "block map entry " + volume + "/" + dblock);
        }
        ByteBuffer v = store.blocks.get(txn, key);
        if (v == null) {
            return ABSENT;
        }
        v = MetaCodec.be(v);
        String bad = MetaCodec.check(key, v, MetaCodec.BLOCK_VAL);
        if (bad != null) {
            throw new MetaCorruptException("block map entry " + volume + "/" + dblock + ": " + bad);
        }
        return v.getLong(0);
    }

    /** Visits the block-map entries of a volume in {@code [from, to)} in ascending order. */
    public void scanBlocks(int volume, long from, long to, BlockVisitor visitor) throws MetaCorruptException {
        if (store.blocks != null) {
            legacyScanBlocks(volume, from, to, visitor);
            return;
        }
        if (from >= to) {
            return;
        }
        long first = from / PAGE_ENTRIES;
        long end = (to - 1) / PAGE_ENTRIES + 1;
        MetaDamage d = store.damage();
        if (!d.isEmpty()) {
            MetaCodec.pageKey(key, volume, end);
            byte[] hi = MetaDamage.bytes(key);
            MetaCodec.pageKey(key, volume, first);
            MetaDamage.Range r = d.meets(MetaStore.BLOCK_PAGES, MetaDamage.bytes(key), hi);
            if (r != null) {
                throw new MetaCorruptException("block map of volume " + volume + " from block " + from
                        + " meets damaged metadata: " + r);
            }
        }
        long[] e = new long[PAGE_ENTRIES];
        MetaCodec.pageKey(key, volume, first);
        if (!d.isEmpty()) {
            // through scan: a cursor moving past the last page of the range may step onto the next
            // leaf, which may be a damaged one; scan never leads it there
            boolean[] done = {false};
            scan(store.pages, MetaStore.BLOCK_PAGES, MetaDamage.bytes(key), (k, v) -> {
                if (k.remaining() != MetaCodec.PAGE_KEY || k.getInt(0) != volume) {
                    return false;
                }
                long page = k.getLong(4);
                if (page >= end) {
                    return false;
                }
                String bad = MetaCodec.checkPage(k, v);
                if (bad != null) {
                    throw new MetaCorruptException(pageName(volume, page) + ": " + bad);
                }
                MetaCodec.decodePage(v, e);
                long base = page * PAGE_ENTRIES;
                for (int i = (int) Math.max(0, from - base); i < PAGE_ENTRIES; i++) {
                    if (e[i] == ABSENT) {
                        continue;
                    }
                    if (base + i >= to || !visitor.visit(base + i, e[i])) {
                        return false;
                    }
                }
                return true;
            });
            return;
        }
        try (Cursor<ByteBuffer> c = store.pages.openCursor(txn)) {
            if (!c.get(key, GetOp.MDB_SET_RANGE)) {
                return;
            }
            do {
                ByteBuffer k = MetaCodec.be(c.key());
                if (k.remaining() != MetaCodec.PAGE_KEY || k.getInt(0) != volume) {
                    return;
                }
                long page = k.getLong(4);
                if (page >= end) {
                    return;
                }
                ByteBuffer v = MetaCodec.be(c.val());
                String bad = MetaCodec.checkPage(k, v);
                if (bad != null) {
                    throw new MetaCorruptException(pageName(volume, page) + ": " + bad);
                }
                MetaCodec.decodePage(v, e);
                long base = page * PAGE_ENTRIES;
                for (int i = (int) Math.max(0, from - base); i < PAGE_ENTRIES; i++) {
                    if (e[i] == ABSENT) {
                        continue;
                    }
                    if (base + i >= to || !visitor.visit(base + i, e[i])) {
                        return;
                    }
                }
            } while (c.next());
        }
    }

    private void legacyScanBlocks(int volume, long from, long to, BlockVisitor visitor) throws MetaCorruptException {
        MetaDamage d = store.damage();
        if (!d.isEmpty()) {
            MetaCodec.blockKey(key, volume, to);
            byte[] end = MetaDamage.bytes(key);
            MetaCodec.blockKey(key, volume, from);
            MetaDamage.Range r = d.meets("blocks", MetaDamage.bytes(key), end);
            if (r != null) {
                throw new MetaCorruptException("block map of volume " + volume + " from block " + from
                        + " meets damaged metadata: " + r);
            }
        }
        MetaCodec.blockKey(key, volume, from);
        try (Cursor<ByteBuffer> c = store.blocks.openCursor(txn)) {
            if (!c.get(key, GetOp.MDB_SET_RANGE)) {
                return;
            }
            do {
                ByteBuffer k = MetaCodec.be(c.key());
                if (k.remaining() != MetaCodec.BLOCK_KEY || k.getInt(0) != volume) {
                    return;
                }
                long db = k.getLong(4);
                if (db >= to) {
                    return;
                }
                ByteBuffer v = MetaCodec.be(c.val());
                String bad = MetaCodec.check(k, v, MetaCodec.BLOCK_VAL);
                if (bad != null) {
                    throw new MetaCorruptException("block map entry " + volume + "/" + db + ": " + bad);
                }
                if (!visitor.visit(db, v.getLong(0))) {
                    return;
                }
            } while (c.next());
        }
    }

    public ChunkRecord chunk(long id) throws MetaCorruptException {
        org.lmdbjava.Dbi<ByteBuffer> old = store.chunks;
        if (old == null) {
            return groupChunk(id);
        }
        MetaCodec.chunkKey(key, id);
        if (!store.damage().isEmpty()) {
            guard(MetaStore.LEGACY_CHUNKS, "chunk " + id);
        }
        ByteBuffer v = old.get(txn, key);
        return v == null ? null : checkedChunk(id, v);
    }

    /** Chunk {@code id}'s record in {@code chunkgroups} (format 5), or null. */
    private ChunkRecord groupChunk(long id) throws MetaCorruptException {
        org.lmdbjava.Dbi<ByteBuffer> g = store.groups;
        if (g == null || id <= 0) {
            return null;
        }
        long group = id / MetaCodec.GROUP;
        MetaCodec.groupKey(key, group);
        if (!store.damage().isEmpty()) {
            guard(MetaStore.CHUNK_GROUPS, "chunk " + id);
        }
        ByteBuffer v = g.get(txn, key);
        return v == null ? null : MetaCodec.groupRecord(id, checkedGroup(group, v));
    }

    /** Loads group {@code g} as LMDB holds it (no record when it does not exist). */
    void readGroupInto(ChunkGroup g) throws MetaCorruptException {
        g.bits = 0;
        org.lmdbjava.Dbi<ByteBuffer> d = store.groups;
        if (d == null) {
            return;
        }
        MetaCodec.groupKey(key, g.group);
        if (!store.damage().isEmpty()) {
            guard(MetaStore.CHUNK_GROUPS, "chunks " + g.group * MetaCodec.GROUP + " to "
                    + (g.group * MetaCodec.GROUP + MetaCodec.GROUP - 1));
        }
        ByteBuffer v = d.get(txn, key);
        if (v != null) {
            g.load(checkedGroup(g.group, v));
        }
    }

    /** A group's LMDB value {@code v}, checked ({@link #key} holds its key). */
    private ByteBuffer checkedGroup(long group, ByteBuffer v) throws MetaCorruptException {
        v = MetaCodec.be(v);
        String bad = MetaCodec.checkGroup(key, v);
        if (bad != null) {
            throw new MetaCorruptException("chunks " + group * MetaCodec.GROUP + " to "
                    + (group * MetaCodec.GROUP + MetaCodec.GROUP - 1) + ": " + bad);
        }
        return v;
    }

    /** Chunk {@code id}'s record from its LMDB value {@code v}, checked against its CRC ({@link #key} holds its key). */
    private ChunkRecord checkedChunk(long id, ByteBuffer v) throws MetaCorruptException {
        v = MetaCodec.be(v);
        String bad = MetaCodec.check(key, v, MetaCodec.CHUNK_VAL);
        if (bad != null) {
            throw new MetaCorruptException("chunk " + id + ": " + bad);
        }
        return MetaCodec.chunk(id, v);
    }

    /**
     * The chunk records of {@code ids[i] > 0} into {@code out[i]} (null where a chunk does not exist),
     * each checked as {@link #chunk} checks it, through one cursor: an id that follows the one
     * before it (the chunks of a sequential write have consecutive ids) is the cursor's next entry,
     * found without a descent from the root. With damage known, one checked lookup each.
     */
    public void chunks(long[] ids, ChunkRecord[] out) throws MetaCorruptException {
        if (store.chunks == null) {
            groupChunks(ids, out);
            return;
        }
        if (!store.damage().isEmpty()) {
            for (int i = 0; i < ids.length; i++) {
                out[i] = ids[i] > 0 ? chunk(ids[i]) : null;
            }
            return;
        }
        try (Cursor<ByteBuffer> c = store.chunks.openCursor(txn)) {
            ChunkRecord last = null;
            for (int i = 0; i < ids.length; i++) {
                long id = ids[i];
                if (id <= 0) {
                    out[i] = null;
                    continue;
                }
                if (last != null && last.id() == id) {
                    out[i] = last;
                    continue;
                }
                ByteBuffer v = null;
                if (last != null && id == last.id() + 1 && c.next()) {
                    ByteBuffer k = MetaCodec.be(c.key());
                    if (k.remaining() == MetaCodec.CHUNK_KEY && k.getLong(0) == id) {
                        v = c.val();
                    }
                }
                MetaCodec.chunkKey(key, id);
                if (v == null && c.get(key, GetOp.MDB_SET_KEY)) {
                    v = c.val();
                }
                if (v == null) {
                    out[i] = null;
                    last = null; // the cursor is not on a known entry
                    continue;
                }
                out[i] = last = checkedChunk(id, v);
            }
        }
    }

    /**
     * {@link #chunks} in format 5: the ids of a command usually share a group or two, each looked up
     * (the next group: the cursor's next entry) and checked once.
     */
    private void groupChunks(long[] ids, ChunkRecord[] out) throws MetaCorruptException {
        org.lmdbjava.Dbi<ByteBuffer> g = store.groups;
        if (g == null || !store.damage().isEmpty()) {
            for (int i = 0; i < ids.length; i++) {
                out[i] = ids[i] > 0 ? chunk(ids[i]) : null;
            }
            return;
        }
        try (Cursor<ByteBuffer> c = g.openCursor(txn)) {
            long at = -1; // the group the cursor is on, -1: none
            ByteBuffer v = null;
            for (int i = 0; i < ids.length; i++) {
                long id = ids[i];
                if (id <= 0) {
                    out[i] = null;
                    continue;
                }
                long group = id / MetaCodec.GROUP;
                if (group != at) {
                    v = null;
                    if (at >= 0 && group == at + 1 && c.next()) {
                        ByteBuffer k = MetaCodec.be(c.key());
                        if (k.remaining() == MetaCodec.GROUP_KEY && k.getLong(0) == group) {
                            v = c.val();
                        }
                    }
                    MetaCodec.groupKey(key, group);
                    if (v == null && c.get(key, GetOp.MDB_SET_KEY)) {
                        v = c.val();
                    }
                    if (v == null) {
                        out[i] = null;
                        at = -1; // the cursor is not on a known entry
                        continue;
                    }
                    v = checkedGroup(group, v);
                    at = group;
                }
                out[i] = MetaCodec.groupRecord(id, v);
            }
        }
    }

    /**
     * Visits chunk records with id >= {@code from} in ascending id order until the visitor says
     * stop. Damaged ranges already known ({@link MetaStore#damage()}) are skipped, never walked.
     */
    public void scanChunks(long from, ChunkVisitor visitor) throws MetaCorruptException {
        if (store.chunks == null) {
            scanGroups(from, visitor);
            return;
        }
        MetaCodec.chunkKey(key, from);
        scan(store.chunks, MetaStore.LEGACY_CHUNKS, MetaDamage.bytes(key), (k, v) -> {
            long id = k.getLong(0);
            String bad = k.remaining() == MetaCodec.CHUNK_KEY ? MetaCodec.check(k, v, MetaCodec.CHUNK_VAL)
                    : "key has " + k.remaining() + " bytes";
            if (bad != null) {
                throw new MetaCorruptException("chunk " + id + ": " + bad);
            }
            return visitor.visit(MetaCodec.chunk(id, v));
        });
    }

    private void scanGroups(long from, ChunkVisitor visitor) throws MetaCorruptException {
        org.lmdbjava.Dbi<ByteBuffer> g = store.groups;
        if (g == null) {
            return;
        }
        MetaCodec.groupKey(key, Math.max(0, from) / MetaCodec.GROUP);
        ChunkRecord[] recs = new ChunkRecord[MetaCodec.GROUP];
        scan(g, MetaStore.CHUNK_GROUPS, MetaDamage.bytes(key), (k, v) -> {
            if (k.remaining() != MetaCodec.GROUP_KEY) {
                throw new MetaCorruptException("chunk group key has " + k.remaining() + " bytes");
            }
            long group = k.getLong(0);
            String bad = MetaCodec.checkGroup(k, v);
            if (bad != null) {
                throw new MetaCorruptException("chunks " + group * MetaCodec.GROUP + " to "
                        + (group * MetaCodec.GROUP + MetaCodec.GROUP - 1) + ": " + bad);
            }
            MetaCodec.decodeGroup(group, v, recs);
            for (ChunkRecord r : recs) {
                if (r != null && r.id() >= from && !visitor.visit(r)) {
                    return false;
                }
            }
            return true;
        });
    }

    /** One staged block of a post-process volume. */
    public record StagedBlock(int volume, long dblock) {
    }

    /** Number of staged blocks (written by post-process volumes since the last pass). */
    public long stagedCount() {
        org.lmdbjava.Dbi<ByteBuffer> st = stagedDb;
        return st == null ? 0 : stat(st, MetaStore.STAGED)[0];
    }

    /**
     * Up to {@code limit} staged blocks from {@code (volume, dblock)} on, in key order (volume, then
     * block).
     */
    public List<StagedBlock> staged(int volume, long dblock, int limit) throws MetaCorruptException {
        List<StagedBlock> out = new java.util.ArrayList<>(Math.min(limit, 4096));
        org.lmdbjava.Dbi<ByteBuffer> st = stagedDb;
        if (limit <= 0 || st == null) {
            return out;
        }
        MetaCodec.stagedKey(key, volume, dblock);
        scan(st, MetaStore.STAGED, MetaDamage.bytes(key), (k, v) -> {
            if (k.remaining() != MetaCodec.STAGED_KEY || v.remaining() != 0) {
                throw new MetaCorruptException("staged block entry: key of " + k.remaining() + " bytes, value of "
                        + v.remaining());
            }
            out.add(new StagedBlock(k.getInt(0), k.getLong(4)));
            return out.size() < limit;
        });
        return out;
    }

    /** Visits every block-map entry of every volume (damaged ranges already known are left out). */
    public void scanAllBlocks(AllBlocksVisitor visitor) throws MetaCorruptException {
        if (store.blocks != null) {
            legacyScanAllBlocks(visitor);
            return;
        }
        long[] e = new long[PAGE_ENTRIES];
        scan(store.pages, MetaStore.BLOCK_PAGES, new byte[0], (k, v) -> {
            if (k.remaining() != MetaCodec.PAGE_KEY) {
                throw new MetaCorruptException("block map page key has " + k.remaining() + " bytes");
            }
            int vol = k.getInt(0);
            long page = k.getLong(4);
            String bad = MetaCodec.checkPage(k, v);
            if (bad != null) {
                throw new MetaCorruptException(pageName(vol, page) + ": " + bad);
            }
            MetaCodec.decodePage(v, e);
            for (int i = 0; i < PAGE_ENTRIES; i++) {
                if (e[i] != ABSENT && !visitor.visit(vol, page * PAGE_ENTRIES + i, e[i])) {
                    return false;
                }
            }
            return true;
        });
    }

    /** Mapped blocks of every volume: the entries of the block-map pages (damaged ranges left out). */
    public long mappedBlocks() throws MetaCorruptException {
        if (store.blocks != null) {
            return stat(store.blocks, MetaStore.LEGACY_BLOCKS)[0];
        }
        long[] n = {0};
        scan(store.pages, MetaStore.BLOCK_PAGES, new byte[0], (k, v) -> {
            String bad = k.remaining() == MetaCodec.PAGE_KEY ? MetaCodec.checkPage(k, v)
                    : "key has " + k.remaining() + " bytes";
            if (bad != null) {
                throw new MetaCorruptException("block map page: " + bad);
            }
            n[0] += MetaCodec.pageCount(v);
            return true;
        });
        return n[0];
    }

    private void legacyScanAllBlocks(AllBlocksVisitor visitor) throws MetaCorruptException {
        scan(store.blocks, MetaStore.LEGACY_BLOCKS, new byte[0], (k, v) -> {
            if (k.remaining() != MetaCodec.BLOCK_KEY) {
                throw new MetaCorruptException("block map key has " + k.remaining() + " bytes");
            }
            int vol = k.getInt(0);
            long db = k.getLong(4);
            MetaCodec.check("block map entry " + vol + "/" + db, k, v, MetaCodec.BLOCK_VAL);
            return visitor.visit(vol, db, v.getLong(0));
        });
    }

    /**
     * Visits every fingerprint-index entry (damaged ranges already known are left out). In format
     * 3 an entry keeps only the fingerprint's first bytes: the fingerprint visited is those bytes
     * followed by the rest of the named chunk's fingerprint, or by zeros when that chunk does not
     * exist or begins otherwise (so a check against the chunk records sees the mismatch).
     */
    public void scanIndex(IndexVisitor visitor) throws MetaCorruptException {
        if (store.index == null) {
            // format 4: the changes in this snapshot's fplog are the answer for their fingerprints;
            // an fpindex entry they make stale (same fingerprint, or a gone chunk under the same
            // prefix) waits for the merge and is left out
            java.util.LinkedHashMap<ByteBuffer, Long> log = new java.util.LinkedHashMap<>();
            scanFingerprintLog((seq, fp, id) -> log.put(ByteBuffer.wrap(fp), id));
            java.util.Set<ByteBuffer> prefixes = new java.util.HashSet<>();
            for (ByteBuffer f : log.keySet()) {
                prefixes.add(ByteBuffer.wrap(java.util.Arrays.copyOf(f.array(), indexPrefix())));
            }
            boolean[] stopped = {false};
            scanFpIndex((fp, id) -> {
                if (!log.isEmpty()) {
                    if (log.containsKey(ByteBuffer.wrap(fp))) {
                        return true;
                    }
                    if (prefixes.contains(ByteBuffer.wrap(fp, 0, indexPrefix()).slice())) {
                        byte[] full = fingerprintOf(id);
                        if (full == null || !java.util.Arrays.equals(full, fp)) {
                            return true;
                        }
                    }
                }
                if (!visitor.visit(fp, id)) {
                    stopped[0] = true;
                    return false;
                }
                return true;
            });
            if (stopped[0]) {
                return;
            }
            for (java.util.Map.Entry<ByteBuffer, Long> e : log.entrySet()) {
                if (!visitor.visit(e.getKey().array().clone(), e.getValue())) {
                    return;
                }
            }
            return;
        }
        List<byte[]> fps = new ArrayList<>();
        List<Long> ids = new ArrayList<>();
        scan(store.index, MetaStore.LEGACY_INDEX, new byte[0], (k, v) -> {
            MetaCodec.check("fingerprint index entry", k, v, MetaCodec.INDEX_VAL);
            fps.add(MetaDamage.bytes(k));
            ids.add(v.getLong(0));
            if (fps.size() == 4096) {
                for (int i = 0; i < fps.size(); i++) {
                    if (!visitor.visit(fps.get(i), ids.get(i))) {
                        return false;
                    }
                }
                fps.clear();
                ids.clear();
            }
            return true;
        });
        for (int i = 0; i < fps.size(); i++) {
            if (!visitor.visit(fps.get(i), ids.get(i))) {
                return;
            }
        }
    }

    /** True when the fingerprint index in use is {@code fpruns} (format 6). */
    boolean runsInUse() {
        return store.fpindex == null && store.runs != null;
    }

    /** Fingerprint bytes an entry of the index in use holds (the rest is in the chunk record). */
    int indexPrefix() {
        return runsInUse() ? MetaCodec.RUN_PREFIX : MetaCodec.FP_PREFIX;
    }

    private void scanFpIndex(IndexVisitor visitor) throws MetaCorruptException {
        if (runsInUse()) {
            scanRuns(visitor);
            return;
        }
        if (store.fpindex == null) {
            return; // a damaged format 2 pool never opened by a format 3 build
        }
        List<byte[]> fps = new ArrayList<>();
        List<Long> ids = new ArrayList<>();
        boolean[] stop = {false};
        scan(store.fpindex, MetaStore.FP_INDEX, new byte[0], (k, v) -> {
            if (k.remaining() != MetaCodec.FP_KEY || v.remaining() != 0) {
                throw new MetaCorruptException("fingerprint index entry has a " + k.remaining() + "-byte key and a "
                        + v.remaining() + "-byte value");
            }
            byte[] fp = new byte[MetaCodec.INDEX_KEY];
            k.duplicate().get(fp, 0, MetaCodec.FP_PREFIX);
            fps.add(fp);
            ids.add(MetaCodec.fpKeyId(k));
            return fps.size() < 4096;
        });
        // visited outside the cursor: completing a fingerprint reads the chunk records
        while (!fps.isEmpty()) {
            for (int i = 0; i < fps.size(); i++) {
                byte[] fp = fps.get(i);
                byte[] full = fingerprintOf(ids.get(i));
                if (full != null && java.util.Arrays.equals(full, 0, MetaCodec.FP_PREFIX, fp, 0, MetaCodec.FP_PREFIX)) {
                    System.arraycopy(full, MetaCodec.FP_PREFIX, fp, MetaCodec.FP_PREFIX,
                            MetaCodec.INDEX_KEY - MetaCodec.FP_PREFIX);
                }
                if (!visitor.visit(fp, ids.get(i))) {
                    return;
                }
            }
            if (fps.size() < 4096) {
                return;
            }
            byte[] lastFp = fps.get(fps.size() - 1);
            long lastId = ids.get(ids.size() - 1);
            fps.clear();
            ids.clear();
            MetaCodec.fpKey(key, lastFp, lastId);
            byte[] after = successor(MetaDamage.bytes(key));
            scan(store.fpindex, MetaStore.FP_INDEX, after, (k, v) -> {
                if (k.remaining() != MetaCodec.FP_KEY || v.remaining() != 0) {
                    throw new MetaCorruptException("fingerprint index entry has a " + k.remaining()
                            + "-byte key and a " + v.remaining() + "-byte value");
                }
                byte[] fp = new byte[MetaCodec.INDEX_KEY];
                k.duplicate().get(fp, 0, MetaCodec.FP_PREFIX);
                fps.add(fp);
                ids.add(MetaCodec.fpKeyId(k));
                return fps.size() < 4096;
            });
        }
    }

    /**
     * The entries of {@code fpruns} in key order, each fingerprint completed from the chunk record it
     * names (as {@link #scanFpIndex} does), read in batches of whole runs and visited outside the cursor.
     */
    private void scanRuns(IndexVisitor visitor) throws MetaCorruptException {
        List<byte[]> fps = new ArrayList<>();
        List<Long> ids = new ArrayList<>();
        byte[] from = new byte[0];
        while (from != null) {
            byte[][] lastKey = {null};
            scan(store.runs, MetaStore.FP_RUNS, from, (k, v) -> {
                String bad = MetaCodec.checkRun(k, v);
                if (bad != null) {
                    throw new MetaCorruptException("fingerprint index run " + java.util.HexFormat.of()
                            .formatHex(MetaDamage.bytes(k)) + ": " + bad);
                }
                for (int i = 0, n = MetaCodec.runEntries(v.remaining()); i < n; i++) {
                    int at = i * MetaCodec.RUN_ENTRY;
                    byte[] fp = new byte[MetaCodec.INDEX_KEY];
                    v.get(at, fp, 0, MetaCodec.RUN_PREFIX);
                    fps.add(fp);
                    ids.add(MetaCodec.u48(v, at + MetaCodec.RUN_PREFIX));
                }
                lastKey[0] = MetaDamage.bytes(k);
                return fps.size() < 4096;
            });
            from = fps.size() < 4096 || lastKey[0] == null ? null : successor(lastKey[0]);
            for (int i = 0; i < fps.size(); i++) {
                byte[] fp = fps.get(i);
                byte[] full = fingerprintOf(ids.get(i));
                if (full != null && java.util.Arrays.equals(full, 0, MetaCodec.RUN_PREFIX, fp, 0, MetaCodec.RUN_PREFIX)) {
                    System.arraycopy(full, MetaCodec.RUN_PREFIX, fp, MetaCodec.RUN_PREFIX,
                            MetaCodec.INDEX_KEY - MetaCodec.RUN_PREFIX);
                }
                if (!visitor.visit(fp, ids.get(i))) {
                    return;
                }
            }
            fps.clear();
            ids.clear();
        }
    }

    /** Visitor of {@code fplog} records. */
    interface FingerprintLogVisitor {
        void visit(long seq, byte[] fingerprint, long chunkId) throws MetaCorruptException;
    }

    /**
     * Visits this snapshot's {@code fplog} records in sequence order; a record whose CRC fails is
     * left out (with damage known, damaged ranges are too): its fingerprint's change is lost, which
     * costs a missed dedup, never a wrong share.
     */
    void scanFingerprintLog(FingerprintLogVisitor visitor) throws MetaCorruptException {
        if (store.fplog == null) {
            return; // a damaged format 3 pool (see MetaStore#fplog)
        }
        scan(store.fplog, MetaStore.FP_LOG, new byte[0], (k, v) -> {
            if (k.remaining() != MetaCodec.FPLOG_KEY || MetaCodec.check(k, v, MetaCodec.FPLOG_VAL) != null) {
                return true;
            }
            byte[] fp = new byte[MetaCodec.INDEX_KEY];
            v.duplicate().get(fp);
            visitor.visit(k.getLong(k.position()), fp, v.getLong(v.position() + MetaCodec.INDEX_KEY));
            return true;
        });
    }

    /** The smallest key after {@code k} (k followed by a zero byte). */
    private static byte[] successor(byte[] k) {
        return java.util.Arrays.copyOf(k, k.length + 1);
    }

    /**
     * The full fingerprint of chunk {@code id} as this transaction knows it (the chunk record's),
     * or null when the chunk does not exist.
     */
    byte[] fingerprintOf(long id) throws MetaCorruptException {
        ChunkRecord r = chunk(id);
        return r == null ? null : r.fingerprint();
    }

    /**
     * The chunk ids of the format 3 index entries under {@code fp}'s prefix (usually none or one;
     * more when fingerprints share their first bytes).
     */
    long[] candidates(byte[] fp) throws MetaCorruptException {
        if (runsInUse()) {
            return runCandidates(fp);
        }
        if (store.fpindex == null) {
            return new long[0];
        }
        MetaCodec.fpPrefix(key, fp);
        if (!store.damage().isEmpty()) {
            byte[] lo = MetaDamage.bytes(key);
            byte[] hi = lo.clone();
            int i = hi.length - 1;
            while (i >= 0 && hi[i] == (byte) 0xff) {
                hi[i--] = 0;
            }
            MetaDamage.Range r = store.damage().meets(MetaStore.FP_INDEX, lo, i < 0 ? null : inc(hi, i));
            if (r != null) {
                throw new MetaCorruptException("fingerprint index entry lies in damaged metadata: " + r);
            }
            MetaCodec.fpPrefix(key, fp);
        }
        // through scan: with damage known it never steps a cursor into a damaged page (a lookup past
        // a leaf's last key moves on to the next leaf)
        byte[] prefix = java.util.Arrays.copyOf(fp, MetaCodec.FP_PREFIX);
        long[][] out = {new long[0]};
        scan(store.fpindex, MetaStore.FP_INDEX, prefix, (k, v) -> {
            if (!MetaCodec.fpKeyMatches(k, fp)) {
                return false;
            }
            out[0] = java.util.Arrays.copyOf(out[0], out[0].length + 1);
            out[0][out[0].length - 1] = MetaCodec.fpKeyId(k);
            return true;
        });
        return out[0];
    }

    /**
     * {@link #candidates} in {@code fpruns}: the entries under {@code fp}'s 5-byte prefix lie in the
     * run whose key is the greatest below {@code prefix ‖ 0} and in the runs whose keys begin with
     * the prefix (usually none: a run is cut only where the prefix changes, or merged whole).
     */
    private long[] runCandidates(byte[] fp) throws MetaCorruptException {
        long p = MetaCodec.runPrefix(fp);
        if (!store.damage().isEmpty()) {
            MetaDamage.Range r = store.damage().meets(MetaStore.FP_RUNS, new byte[0], null);
            if (r != null) {
                throw new MetaCorruptException("fingerprint index lies in damaged metadata: " + r);
            }
        }
        long[] out = NONE;
        MetaCodec.runKey(key, p, 0);
        try (Cursor<ByteBuffer> c = store.runs.openCursor(txn)) {
            boolean found = c.get(key, GetOp.MDB_SET_RANGE);
            boolean more = found;
            while (more) {
                ByteBuffer k = MetaCodec.be(c.key());
                if (k.remaining() != MetaCodec.RUN_KEY || MetaCodec.u40(k, 0) != p) {
                    break;
                }
                out = runEntries(MetaCodec.be(c.val()), p, out);
                more = c.next();
            }
            if (found) {
                MetaCodec.runKey(key, p, 0);
                found = c.get(key, GetOp.MDB_SET_RANGE) && c.prev();
            } else {
                found = c.last();
            }
            if (found) {
                out = runEntries(MetaCodec.be(c.val()), p, out);
            }
        }
        return out;
    }

    private static final long[] NONE = new long[0];

    /** {@code out} and the chunk ids of run value {@code v}'s entries under prefix {@code p}. */
    private static long[] runEntries(ByteBuffer v, long p, long[] out) {
        int n = MetaCodec.runEntries(v.remaining());
        int lo = 0;
        int hi = n;
        while (lo < hi) { // the first entry whose prefix is >= p
            int mid = (lo + hi) >>> 1;
            if (MetaCodec.u40(v, mid * MetaCodec.RUN_ENTRY) < p) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for (int i = lo; i < n && MetaCodec.u40(v, i * MetaCodec.RUN_ENTRY) == p; i++) {
            out = java.util.Arrays.copyOf(out, out.length + 1);
            out[out.length - 1] = MetaCodec.u48(v, i * MetaCodec.RUN_ENTRY + MetaCodec.RUN_PREFIX);
        }
        return out;
    }

    private static byte[] inc(byte[] b, int i) {
        b[i]++;
        return b;
    }

    /**
     * The chunk id indexed under a fingerprint, or 0. In format 3 every answer is checked: an index
     * entry names a chunk only when that chunk's recorded fingerprint is {@code fingerprint}, so a
     * damaged or stale entry can cost a missed dedup, never a wrong share.
     */
    public long index(byte[] fingerprint) throws MetaCorruptException {
        if (store.index == null) {
            FingerprintLog.Entry held = store.fpLog.get(fingerprint);
            if (held != null) {
                // the log answers for a fingerprint it holds; a read transaction's snapshot may not
                // have the chunk yet (or any more): then a miss
                return java.util.Arrays.equals(fingerprintOf(held.id()), fingerprint) ? held.id() : 0;
            }
            for (long id : candidates(fingerprint)) {
                if (java.util.Arrays.equals(fingerprintOf(id), fingerprint)) {
                    return id;
                }
            }
            return 0;
        }
        MetaCodec.indexKey(key, fingerprint);
        if (!store.damage().isEmpty()) {
            guard(MetaStore.LEGACY_INDEX, "fingerprint index entry");
        }
        ByteBuffer v = store.index.get(txn, key);
        if (v == null) {
            return 0;
        }
        v = MetaCodec.be(v);
        MetaCodec.check("fingerprint index entry", key, v, MetaCodec.INDEX_VAL);
        return v.getLong(0);
    }

    /** The volumes whose records are sound (damaged ones are left out: see {@link MetaStore#damage()}). */
    public List<VolumeRecord> volumes() throws MetaCorruptException {
        List<VolumeRecord> out = new ArrayList<>();
        scan(store.volumes, "volumes", new byte[0], (k, v) -> {
            byte[] name = new byte[k.remaining()];
            k.duplicate().get(name);
            String n = new String(name, StandardCharsets.UTF_8);
            MetaCodec.checkVolume("volume " + n, k, v);
            out.add(MetaCodec.volume(n, v));
            return true;
        });
        return out;
    }

    /** The volume named {@code name}, or null. */
    public VolumeRecord volume(String name) throws MetaCorruptException {
        key.clear();
        key.put(name.getBytes(StandardCharsets.UTF_8)).flip();
        if (!store.damage().isEmpty()) {
            guard("volumes", "volume " + name);
        }
        ByteBuffer v = store.volumes.get(txn, key);
        if (v == null) {
            return null;
        }
        v = MetaCodec.be(v);
        MetaCodec.checkVolume("volume " + name, key, v);
        return MetaCodec.volume(name, v);
    }

    /** The containers whose records are sound (damaged ones are left out: see {@link MetaStore#damage()}). */
    public List<ContainerRecord> containers() throws MetaCorruptException {
        List<ContainerRecord> out = new ArrayList<>();
        scan(store.containers, "containers", new byte[0], (k, v) -> {
            int id = k.getInt(0);
            MetaCodec.check("container " + id, k, v, MetaCodec.containerLength(v.remaining()));
            out.add(MetaCodec.container(id, v));
            return true;
        });
        return out;
    }

    /** The pool counters, or null in a fresh environment. */
    public PoolCounters counters() throws MetaCorruptException {
        key.clear();
        key.put(MetaCodec.COUNTERS_KEY).flip();
        if (!store.damage().isEmpty()) {
            guard("counters", "pool counters");
        }
        ByteBuffer v = store.counters.get(txn, key);
        if (v == null) {
            return null;
        }
        v = MetaCodec.be(v);
        MetaCodec.check("pool counters", key, v, MetaCodec.COUNTERS_VAL);
        return MetaCodec.counters(v);
    }

    /**
     * The persistent reservation image saved for volume {@code volume} (its fragments joined), or
     * null when none is saved.
     */
    public byte[] reservations(int volume) throws MetaCorruptException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int f = 0; ; f++) {
            MetaCodec.reservationKey(key, volume, f);
            if (!store.damage().isEmpty()) {
                guard("reservations", "reservations of volume " + volume);
            }
            ByteBuffer v = store.reservations.get(txn, key);
            if (v == null) {
                return f == 0 ? null : out.toByteArray();
            }
            v = MetaCodec.be(v);
            int n = v.remaining();
            if (n < 5 || n > MetaCodec.RESERVATION_FRAGMENT + 4) {
                throw new MetaCorruptException("reservations of volume " + volume + ": fragment " + f + " has "
                        + n + " bytes");
            }
            MetaCodec.check("reservations of volume " + volume, key, v, n);
            byte[] b = new byte[n - 4];
            v.duplicate().get(b);
            out.writeBytes(b);
        }
    }

    /**
     * Number of LMDB entries in the block map, chunk and index databases (for format docs and
     * tests): the block map's are its pages ({@link #mappedBlocks()} counts the blocks).
     */
    public long[] entryCounts() {
        return new long[] {blockMapStat()[0], chunkRecords(), indexStat()[0]};
    }

    /** The number of chunk records (format 5: the bits set in the groups' bitmaps). */
    private long chunkRecords() {
        if (store.chunks != null) {
            return stat(store.chunks, MetaStore.LEGACY_CHUNKS)[0];
        }
        if (store.groups == null || !store.damage().isEmpty()) {
            return 0;
        }
        long n = 0;
        try (Cursor<ByteBuffer> c = store.groups.openCursor(txn)) {
            for (boolean ok = c.first(); ok; ok = c.next()) {
                ByteBuffer v = MetaCodec.be(c.val());
                n += v.remaining() >= 8 ? Long.bitCount(v.getLong(0)) : 0;
            }
        }
        return n;
    }

    private long[] chunkStat() {
        org.lmdbjava.Dbi<ByteBuffer> old = store.chunks;
        if (old != null) {
            return stat(old, MetaStore.LEGACY_CHUNKS);
        }
        return store.groups == null ? new long[2] : stat(store.groups, MetaStore.CHUNK_GROUPS);
    }

    private long[] blockMapStat() {
        org.lmdbjava.Dbi<ByteBuffer> old = store.blocks;
        return old != null ? stat(old, MetaStore.LEGACY_BLOCKS) : stat(store.pages, MetaStore.BLOCK_PAGES);
    }

    /**
     * Bytes of LMDB pages (branch, leaf, overflow) per database, in the order
     * {@code blockpages (block map), chunks, index}.
     */
    public long[] pageBytes() {
        long[] out = new long[3];
        out[0] = blockMapStat()[1];
        out[1] = chunkStat()[1];
        out[2] = indexStat()[1];
        return out;
    }

    private long[] indexStat() {
        org.lmdbjava.Dbi<ByteBuffer> old = store.index;
        if (old != null) {
            return stat(old, MetaStore.LEGACY_INDEX);
        }
        // format 4: the index entries are those merged and those held in the change log (a
        // fingerprint in both, rare: a copy replaced since the last merge, counts twice until then)
        long[] merged = runsInUse() ? runStat() : store.fpindex == null ? new long[2]
                : stat(store.fpindex, MetaStore.FP_INDEX);
        long[] held = store.fplog == null ? new long[2] : stat(store.fplog, MetaStore.FP_LOG);
        long[] out = merged.clone();
        for (int i = 0; i < out.length && i < held.length; i++) {
            out[i] += held[i];
        }
        return out;
    }

    /** Entries and page bytes of {@code fpruns} (the entries counted in the runs, not the runs). */
    private long[] runStat() {
        long[] st = stat(store.runs, MetaStore.FP_RUNS);
        if (!store.damage().isEmpty()) {
            return st;
        }
        long n = 0;
        try (Cursor<ByteBuffer> c = store.runs.openCursor(txn)) {
            for (boolean ok = c.first(); ok; ok = c.next()) {
                n += MetaCodec.runEntries(c.val().remaining());
            }
        }
        return new long[] {n, st[1]};
    }

    /**
     * Fails a lookup of {@link #key} that lies in a damaged range: absent there proves nothing.
     * Lookups call it only when damage is known, so on sound metadata (every I/O) no message is built.
     */
    private void guard(String db, String what) throws MetaCorruptException {
        MetaDamage.Range r = store.damage().at(db, key);
        if (r != null) {
            throw new MetaCorruptException(what + " lies in damaged metadata: " + r);
        }
    }

    /**
     * Visits the entries of {@code dbi} from {@code start} on (big-endian views). With damage known,
     * entries in damaged ranges are left out and the cursor is never led into a damaged page: it is
     * positioned only where a sound entry lies before the next damaged page, stops on the last
     * sound key before it ({@link MetaDamage.Range#lastGoodBefore()}) and jumps past it.
     */
    private void scan(org.lmdbjava.Dbi<ByteBuffer> dbi, String name, byte[] start, RawVisitor visitor)
            throws MetaCorruptException {
        MetaDamage d = store.damage();
        boolean clean = d.isEmpty();
        byte[] at = start;
        if (!clean && skip(d, name, at) == null) {
            // nothing sound to visit: do not even open a cursor (LMDB reads the root page then, and a
            // root page number out of range marks the whole transaction failed)
            return;
        }
        try (Cursor<ByteBuffer> c = dbi.openCursor(txn)) {
            while (true) {
                at = clean ? at : skip(d, name, at);
                if (at == null) {
                    return;
                }
                MetaDamage.Range s = clean ? null : d.nextStructural(name, at);
                boolean found;
                if (at.length == 0) {
                    found = c.first();
                } else {
                    key.clear();
                    key.put(at).flip();
                    found = c.get(key, GetOp.MDB_SET_RANGE);
                }
                if (!found) {
                    return;
                }
                boolean jumped = false;
                do {
                    ByteBuffer k = MetaCodec.be(c.key());
                    if (clean || d.at(name, k) == null) {
                        if (!visitor.visit(k, MetaCodec.be(c.val()))) {
                            return;
                        }
                    }
                    if (s != null && java.util.Arrays.equals(MetaDamage.bytes(k), s.lastGoodBefore())) {
                        if (s.hi() == null) {
                            return;
                        }
                        at = s.hi();
                        jumped = true;
                        break;
                    }
                } while (c.next());
                if (!jumped) {
                    return;
                }
            }
        }
    }

    /**
     * The first key from {@code at} on where a cursor may be positioned without meeting a damaged
     * page (jumping over damaged ranges with no sound entry before them), or null for none.
     */
    private static byte[] skip(MetaDamage d, String name, byte[] at) {
        while (true) {
            MetaDamage.Range s = d.nextStructural(name, at);
            if (s != null && (s.lo() == null || java.util.Arrays.compareUnsigned(s.lo(), at) <= 0
                    || s.lastGoodBefore() == null
                    || java.util.Arrays.compareUnsigned(at, s.lastGoodBefore()) > 0)) {
                if (s.hi() == null) {
                    return null; // no sound entry between here and a damaged page that runs to the end
                }
                at = s.hi();
                continue;
            }
            return at;
        }
    }

    /** Visitor of raw entries. */
    @FunctionalInterface
    private interface RawVisitor {
        boolean visit(ByteBuffer key, ByteBuffer val) throws MetaCorruptException;
    }

    /**
     * LMDB's entries and page bytes of a database; zeros when its root cannot be trusted (LMDB would
     * read it, and a root page number out of range marks the whole transaction failed).
     */
    private long[] stat(org.lmdbjava.Dbi<ByteBuffer> dbi, String name) {
        MetaDamage d = store.damage();
        if (!d.isEmpty() && skip(d, name, new byte[0]) == null) {
            return new long[2];
        }
        org.lmdbjava.Stat st = dbi.stat(txn);
        return new long[] {st.entries, (st.branchPages + st.leafPages + st.overflowPages) * (long) st.pageSize};
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (read) {
                store.release(txn);
            } else {
                txn.close();
            }
        } finally {
            if (read) {
                store.mapLock.readLock().unlock();
            }
        }
    }

    /** Visitor of block-map entries. */
    @FunctionalInterface
    public interface BlockVisitor {
        boolean visit(long dblock, long chunkId) throws MetaCorruptException;
    }

    /** Visitor of every volume's block-map entries. */
    @FunctionalInterface
    public interface AllBlocksVisitor {
        boolean visit(int volume, long dblock, long chunkId) throws MetaCorruptException;
    }

    /** Visitor of fingerprint-index entries. */
    @FunctionalInterface
    public interface IndexVisitor {
        boolean visit(byte[] fingerprint, long chunkId) throws MetaCorruptException;
    }

    /** Visitor of chunk records. */
    @FunctionalInterface
    public interface ChunkVisitor {
        boolean visit(ChunkRecord chunk) throws MetaCorruptException;
    }
}
