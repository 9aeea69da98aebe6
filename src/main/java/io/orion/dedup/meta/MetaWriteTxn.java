package io.orion.dedup.meta;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.lmdbjava.Cursor;
import org.lmdbjava.GetOp;
import org.lmdbjava.PutFlags;
import org.lmdbjava.Txn;

/**
 * The write transaction of one batch (committer thread only). Commit or abort exactly once.
 *
 * <p>Block-map changes are made to decoded pages kept in this transaction ({@link #putBlock},
 * {@link #deleteBlock}; {@link #block} reads them) and each changed page is encoded and written
 * once, in key order, before the commit, before a scan of the block map or the LMDB figures, and
 * when more than {@link #CACHED_PAGES} pages are held: a command that touches many blocks of one
 * page rewrites its value once, not once per block.
 */
public final class MetaWriteTxn extends MetaTxn {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(MetaWriteTxn.class);
    /** Pages held decoded at most (about 1 KiB each); more are written out and dropped. */
    static final int CACHED_PAGES = 4096;

    /** A block-map page held by this transaction. */
    private record PageId(int volume, long page) implements Comparable<PageId> {
        @Override
        public int compareTo(PageId o) {
            int c = Integer.compareUnsigned(volume, o.volume);
            return c != 0 ? c : Long.compare(page, o.page);
        }
    }

    /** Decoded entries of a page and whether they differ from what LMDB holds. */
    private static final class Page {
        final long[] e = new long[PAGE_ENTRIES];
        boolean dirty;
    }

    private final java.util.HashMap<PageId, Page> pages = new java.util.HashMap<>();
    private int dirtyPages;
    /**
     * Plain put (no flags). lmdbjava 0.9.1 computes the flag mask of a non-null varargs array with a
     * stream on every put; for a null array MaskedFlag.mask returns 0 at once (no stream, no allocation).
     */
    private static final PutFlags[] NO_FLAGS = null;
    private final ByteBuffer val2;

    MetaWriteTxn(MetaStore store, Txn<ByteBuffer> txn) {
        super(store, txn, false);
        this.val2 = store.writerVal2;
    }

    public void putBlock(int volume, long dblock, long chunkId) {
        if (store.blocks != null) {
            MetaCodec.blockKey(key, volume, dblock);
            MetaCodec.longValue(key, val, chunkId);
            store.blocks.put(txn, key, val, NO_FLAGS);
            return;
        }
        set(volume, dblock, chunkId);
    }

    public void deleteBlock(int volume, long dblock) {
        if (store.blocks != null) {
            MetaCodec.blockKey(key, volume, dblock);
            store.blocks.delete(txn, key);
            return;
        }
        set(volume, dblock, ABSENT);
    }

    private void set(int volume, long dblock, long value) {
        Page p;
        try {
            p = page(volume, dblock / PAGE_ENTRIES);
        } catch (MetaCorruptException e) {
            // a damaged page: the pool is read-only then and commits no block-map change
            throw new java.io.UncheckedIOException(e);
        }
        int i = (int) (dblock % PAGE_ENTRIES);
        if (p.e[i] != value) {
            p.e[i] = value;
            if (!p.dirty) {
                p.dirty = true;
                dirtyPages++;
            }
        }
    }

    /** The page held by this transaction, read from LMDB at its first use. */
    private Page page(int volume, long page) throws MetaCorruptException {
        PageId id = new PageId(volume, page);
        Page p = pages.get(id);
        if (p == null) {
            if (pages.size() >= CACHED_PAGES) {
                writePages();
                pages.clear();
            }
            p = new Page();
            readPage(volume, page, p.e);
            pages.put(id, p);
        }
        return p;
    }

    /** Encodes and writes every changed page (in key order); an all-unmapped page is deleted. */
    private void writePages() {
        if (dirtyPages == 0) {
            return;
        }
        List<PageId> ids = new ArrayList<>(dirtyPages);
        for (Map.Entry<PageId, Page> en : pages.entrySet()) {
            if (en.getValue().dirty) {
                ids.add(en.getKey());
            }
        }
        Collections.sort(ids);
        ByteBuffer v = store.writerPage;
        for (PageId id : ids) {
            Page p = pages.get(id);
            MetaCodec.pageKey(key, id.volume(), id.page());
            if (MetaCodec.pageValue(key, v, p.e)) {
                store.pages.put(txn, key, v, NO_FLAGS);
            } else {
                store.pages.delete(txn, key);
            }
            p.dirty = false;
        }
        dirtyPages = 0;
    }

    @Override
    public long block(int volume, long dblock) throws MetaCorruptException {
        if (store.blocks != null) {
            return super.block(volume, dblock);
        }
        return page(volume, dblock / PAGE_ENTRIES).e[(int) (dblock % PAGE_ENTRIES)];
    }

    @Override
    public void scanBlocks(int volume, long from, long to, BlockVisitor visitor) throws MetaCorruptException {
        writePages();
        super.scanBlocks(volume, from, to, visitor);
    }

    @Override
    public void scanAllBlocks(AllBlocksVisitor visitor) throws MetaCorruptException {
        writePages();
        super.scanAllBlocks(visitor);
    }

    @Override
    public long mappedBlocks() throws MetaCorruptException {
        writePages();
        return super.mappedBlocks();
    }

    @Override
    public long[] entryCounts() {
        writePages();
        writeGroups();
        return super.entryCounts();
    }

    @Override
    public long[] pageBytes() {
        writePages();
        writeGroups();
        return super.pageBytes();
    }

    public void putChunk(ChunkRecord r) {
        org.lmdbjava.Dbi<ByteBuffer> old = store.chunks;
        if (old == null) {
            changing(r.id()).put(r);
            return;
        }
        MetaCodec.chunkKey(key, r.id());
        MetaCodec.chunkValue(key, val, r);
        if (r.id() > store.lastChunkKey && append(old)) {
            store.lastChunkKey = r.id();
            return;
        }
        old.put(txn, key, val, NO_FLAGS);
    }

    /** Chunk groups (format 5) held at most (about 2 KiB each); more are written out and dropped. */
    static final int CACHED_GROUPS = 1024;

    /**
     * The chunk groups this transaction read or changed; those in {@link #dirtyGroups} are encoded
     * and written once, in key order, before the commit (and before a scan or the LMDB figures).
     */
    private final java.util.HashMap<Long, ChunkGroup> groups = new java.util.HashMap<>();
    private final java.util.TreeSet<Long> dirtyGroups = new java.util.TreeSet<>();
    /** The group used last (a batch's records mostly share one). */
    private ChunkGroup lastGroup;

    /** The group of chunk {@code id}, read at its first use, marked changed. */
    private ChunkGroup changing(long id) {
        if (id <= 0) {
            throw new IllegalArgumentException("chunk id " + id);
        }
        ChunkGroup g;
        try {
            g = group(id / MetaCodec.GROUP);
        } catch (MetaCorruptException e) {
            // a damaged group: the pool is read-only then and commits no chunk change
            throw new java.io.UncheckedIOException(e);
        }
        dirtyGroups.add(g.group);
        return g;
    }

    private ChunkGroup group(long group) throws MetaCorruptException {
        ChunkGroup g = lastGroup;
        if (g != null && g.group == group) {
            return g;
        }
        g = groups.get(group);
        if (g == null) {
            if (groups.size() >= CACHED_GROUPS) {
                writeGroups();
                groups.clear();
                lastGroup = null;
            }
            g = new ChunkGroup(group);
            readGroupInto(g);
            groups.put(group, g);
        }
        lastGroup = g;
        return g;
    }

    /** Encodes and writes every changed group in key order (a new last group appended); an empty one is deleted. */
    private void writeGroups() {
        if (dirtyGroups.isEmpty()) {
            return;
        }
        org.lmdbjava.Dbi<ByteBuffer> d = store.groups;
        ByteBuffer v = store.writerGroup;
        long top = dirtyGroups.last();
        long last = store.lastChunkKey;
        if (top > last && last >= 0 && last != Long.MAX_VALUE && !dirtyGroups.contains(last)) {
            // a new last group: the one before it is written compact now (it was written with
            // every slot in its place while it filled)
            ChunkGroup prev = groups.get(last);
            if (prev == null) {
                prev = new ChunkGroup(last);
                try {
                    readGroupInto(prev);
                } catch (MetaCorruptException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                groups.put(last, prev); // (no eviction here: this is the write-out)
            }
            if (prev.bits != 0) {
                dirtyGroups.add(last);
            }
        }
        for (Long g : dirtyGroups) {
            MetaCodec.groupKey(key, g);
            if (!groups.get(g).encode(key, v, g == top && g >= last)) {
                d.delete(txn, key);
            } else if (g > store.lastChunkKey && appendGroup(d, v)) {
                store.lastChunkKey = g;
            } else {
                d.put(txn, key, v, NO_FLAGS);
            }
        }
        dirtyGroups.clear();
    }

    private boolean appendGroup(org.lmdbjava.Dbi<ByteBuffer> d, ByteBuffer v) {
        try {
            d.put(txn, key, v, APPEND);
            return true;
        } catch (org.lmdbjava.Dbi.KeyExistsException e) {
            return false;
        }
    }

    @Override
    public ChunkRecord chunk(long id) throws MetaCorruptException {
        if (store.chunks != null || store.groups == null || id <= 0) {
            return super.chunk(id);
        }
        return group(id / MetaCodec.GROUP).get(id);
    }

    @Override
    public void chunks(long[] ids, ChunkRecord[] out) throws MetaCorruptException {
        if (store.chunks != null) {
            super.chunks(ids, out);
            return;
        }
        for (int i = 0; i < ids.length; i++) {
            out[i] = ids[i] > 0 ? chunk(ids[i]) : null;
        }
    }

    @Override
    public void scanChunks(long from, ChunkVisitor visitor) throws MetaCorruptException {
        writeGroups();
        super.scanChunks(from, visitor);
    }

    private static final PutFlags[] APPEND = {PutFlags.MDB_APPEND};

    /**
     * Puts {@link #key}/{@link #val} past the last key of {@code dbi} (MDB_APPEND): a full leaf is
     * then split at its end, not in its middle, so keys that only grow (chunk ids, {@code fplog}
     * sequence numbers) fill their pages instead of leaving them half empty. False, with nothing
     * written, when the key is not past the last one (LMDB checks): the caller puts it plainly.
     */
    private boolean append(org.lmdbjava.Dbi<ByteBuffer> dbi) {
        try {
            dbi.put(txn, key, val, APPEND);
            return true;
        } catch (org.lmdbjava.Dbi.KeyExistsException e) {
            return false;
        }
    }

    public void deleteChunk(long id) {
        org.lmdbjava.Dbi<ByteBuffer> old = store.chunks;
        if (old == null) {
            changing(id).remove(id);
            return;
        }
        MetaCodec.chunkKey(key, id);
        old.delete(txn, key);
    }

    /**
     * Fingerprints indexed in this transaction, by chunk id: {@link #index} checks an entry against
     * the chunk's fingerprint, and a chunk indexed in this transaction may not be written yet (the
     * committer writes its chunk records at the end of a batch).
     */
    private final java.util.HashMap<Long, byte[]> indexed = new java.util.HashMap<>();

    @Override
    byte[] fingerprintOf(long id) throws MetaCorruptException {
        byte[] fp = indexed.get(id);
        return fp != null ? fp : super.fingerprintOf(id);
    }

    /** Indexes {@code fp} to chunk {@code chunkId}, replacing the entry that indexed {@code fp} before. */
    public void putIndex(byte[] fp, long chunkId) {
        if (io.orion.dedup.containers.RecordFormat.unhashed(fp)) {
            // the zero value is no fingerprint (unhashed chunks all carry it): never indexed
            throw new IllegalArgumentException("chunk " + chunkId + ": the zero fingerprint is not indexed");
        }
        if (store.index != null) {
            MetaCodec.indexKey(key, fp);
            MetaCodec.longValue(key, val, chunkId);
            store.index.put(txn, key, val, NO_FLAGS);
            return;
        }
        if (chunkId <= 0 || chunkId >= 1L << 48) {
            throw new IllegalArgumentException("chunk id " + chunkId + " does not fit a fingerprint index key");
        }
        if (store.fplog == null) {
            // format 3 (a damaged pool, never upgraded): straight into fpindex
            removeIndexed(fp, chunkId);
            MetaCodec.fpKey(key, fp, chunkId);
            store.fpindex.put(txn, key, MetaStore.EMPTY, NO_FLAGS);
            indexed.put(chunkId, fp.clone());
            return;
        }
        // format 4: appended to fplog (see FingerprintLog), merged into fpindex at a later commit
        FingerprintLog log = store.fpLog;
        FingerprintLog.Key k = FingerprintLog.key(fp);
        FingerprintLog.Entry prev = log.map.get(k);
        if (prev != null) {
            MetaCodec.fpLogKey(key, prev.seq());
            store.fplog.delete(txn, key);
        }
        long seq = log.nextSeq++;
        MetaCodec.fpLogKey(key, seq);
        MetaCodec.fpLogValue(key, val, fp, chunkId);
        if (!append(store.fplog)) {
            store.fplog.put(txn, key, val, NO_FLAGS); // a damaged record left out at open had a later key
        }
        log.map.put(k, new FingerprintLog.Entry(chunkId, seq));
        fpUndo.changed(k, prev);
        indexed.put(chunkId, fp.clone());
    }

    /** The fingerprint log's changes made by this transaction (put back if it does not commit). */
    private final FingerprintLog.Undo fpUndo = new FingerprintLog.Undo();

    /**
     * Merges the fingerprint log into {@code fpindex} in key order (each leaf copied at most once)
     * and empties {@code fplog}, in this transaction; the map is emptied now and put back if the
     * commit fails.
     */
    private void mergeFingerprintLog() {
        FingerprintLog log = store.fpLog;
        long t0 = System.nanoTime();
        FingerprintLog.Sorted sorted = log.sorted();
        try {
            if (runsInUse()) {
                try (RunEditor e = new RunEditor()) {
                    for (int i = 0; i < sorted.keys().length; i++) {
                        e.apply(sorted.keys()[i].fp, sorted.entries()[i].id());
                    }
                }
            } else if (store.damage().isEmpty()) {
                mergeSorted(sorted);
            } else {
                // known damage (the pool is read-only and commits nothing): the checked lookups
                for (int i = 0; i < sorted.keys().length; i++) {
                    byte[] fp = sorted.keys()[i].fp;
                    long id = sorted.entries()[i].id();
                    removeIndexed(fp, id);
                    if (java.util.Arrays.equals(fingerprintOf(id), fp)) {
                        MetaCodec.fpKey(key, fp, id);
                        store.fpindex.put(txn, key, MetaStore.EMPTY, NO_FLAGS);
                    }
                }
            }
        } catch (MetaCorruptException e) {
            throw new java.io.UncheckedIOException(e);
        }
        store.fplog.drop(txn);
        fpUndo.merged = log.map;
        log.map = log.emptyMap();
        LOG.debug("fingerprint index: {} changes merged in {} ms", sorted.keys().length, (System.nanoTime() - t0) / 1_000_000);
    }

    /**
     * The merge of changes in key order through one cursor: LMDB looks a key up in the cursor's
     * current leaf first, so consecutive keys cost no descent from the root. For each change, the
     * entries under its prefix that index its fingerprint (to another chunk) or a chunk that no
     * longer exists go, as {@link #removeIndexed} does; then its own entry is put, if its chunk
     * still has that fingerprint.
     */
    private void mergeSorted(FingerprintLog.Sorted sorted) throws MetaCorruptException {
        try (Cursor<ByteBuffer> c = store.fpindex.openCursor(txn)) {
            for (int i = 0; i < sorted.keys().length; i++) {
                byte[] fp = sorted.keys()[i].fp;
                long id = sorted.entries()[i].id();
                MetaCodec.fpPrefix(key, fp);
                boolean at = c.get(key, GetOp.MDB_SET_RANGE);
                while (at) {
                    ByteBuffer ck = MetaCodec.be(c.key());
                    if (!MetaCodec.fpKeyMatches(ck, fp)) {
                        break;
                    }
                    long other = MetaCodec.fpKeyId(ck);
                    boolean gone = false;
                    if (other != id) {
                        byte[] f = fingerprintOf(other);
                        gone = f == null || java.util.Arrays.equals(f, fp);
                    }
                    if (gone) {
                        c.delete();
                        indexed.remove(other);
                        MetaCodec.fpPrefix(key, fp); // from the prefix again: past the deleted entry
                        at = c.get(key, GetOp.MDB_SET_RANGE);
                    } else {
                        at = c.next();
                    }
                }
                if (java.util.Arrays.equals(fingerprintOf(id), fp)) {
                    MetaCodec.fpKey(key, fp, id);
                    c.put(key, MetaStore.EMPTY, NO_FLAGS);
                }
            }
        }
    }

    /**
     * Changes {@code fpruns} (format 6) through one cursor, for changes that come in key order (a
     * merge of the change log) or one at a time: the run that holds a prefix's entries is read
     * once, changed in memory, and written back (cut into runs of {@link MetaCodec#RUN_FILL} when
     * it grew past {@link MetaCodec#RUN_MAX}; deleted when empty) when a change needs another run
     * or the editor closes. Runs whose keys begin with the prefix (a prefix's entries split across
     * runs) are taken into the held run, so every entry under the prefix is in it.
     */
    private final class RunEditor implements AutoCloseable {
        private final Cursor<ByteBuffer> c = store.runs.openCursor(txn);
        /** The held run: its stored key (null: none stored) and entries. */
        private byte[] runKey;
        private long[] p = new long[MetaCodec.RUN_MAX * 2];
        private long[] id = new long[MetaCodec.RUN_MAX * 2];
        private int n;
        private boolean held;
        private boolean dirty;
        /** Where the held run's range ends: the next run's key (null: no next run). */
        private byte[] nextKey;
        /** Keys of runs taken into the held one: deleted when it is written. */
        private final List<byte[]> absorbed = new ArrayList<>();
        private final ByteBuffer v = store.writerRun;
        private final byte[] lo = new byte[MetaCodec.RUN_KEY];
        /** The greatest key of {@code fpruns} as far as this editor knows (null: none). */
        private byte[] lastKey = c.last() ? MetaDamage.bytes(c.key()) : null;

        /** The change of a merge: entries under {@code fp}'s prefix made stale go; {@code fp} → {@code chunk} is put. */
        void apply(byte[] fp, long chunk) throws MetaCorruptException {
            remove(fp, chunk);
            if (java.util.Arrays.equals(fingerprintOf(chunk), fp)) {
                long pp = MetaCodec.runPrefix(fp);
                int at = find(pp, chunk);
                if (at == n || p[at] != pp || id[at] != chunk) {
                    insert(at, pp, chunk);
                }
            }
        }

        /**
         * Removes the entries under {@code fp}'s prefix (but {@code keep}'s) that index {@code fp} or a
         * chunk that no longer exists, as {@link #removeIndexed} does in {@code fpindex}.
         */
        void remove(byte[] fp, long keep) throws MetaCorruptException {
            long pp = MetaCodec.runPrefix(fp);
            hold(pp);
            for (int i = find(pp, 0); i < n && p[i] == pp; ) {
                long other = id[i];
                boolean gone = false;
                if (other != keep) {
                    byte[] f = fingerprintOf(other);
                    gone = f == null || java.util.Arrays.equals(f, fp);
                }
                if (gone) {
                    System.arraycopy(p, i + 1, p, i, n - i - 1);
                    System.arraycopy(id, i + 1, id, i, n - i - 1);
                    n--;
                    dirty = true;
                    indexed.remove(other);
                } else {
                    i++;
                }
            }
        }

        /** The first held entry not below (pp, pid). */
        private int find(long pp, long pid) {
            int a = 0;
            int b = n;
            while (a < b) {
                int m = (a + b) >>> 1;
                if (p[m] < pp || p[m] == pp && id[m] < pid) {
                    a = m + 1;
                } else {
                    b = m;
                }
            }
            return a;
        }

        private void insert(int at, long pp, long pid) {
            if (n == p.length) {
                p = java.util.Arrays.copyOf(p, 2 * n);
                id = java.util.Arrays.copyOf(id, 2 * n);
            }
            System.arraycopy(p, at, p, at + 1, n - at);
            System.arraycopy(id, at, id, at + 1, n - at);
            p[at] = pp;
            id[at] = pid;
            n++;
            dirty = true;
        }

        /** Makes the held run the one whose range holds prefix {@code pp}'s entries. */
        private void hold(long pp) throws MetaCorruptException {
            MetaCodec.runKey(key, pp, 0);
            key.get(0, lo);
            boolean inHeld = held && (runKey == null || java.util.Arrays.compareUnsigned(runKey, lo) <= 0)
                    && (nextKey == null || java.util.Arrays.compareUnsigned(lo, nextKey) < 0);
            if (!inHeld) {
                write();
                load();
            }
            // runs beginning with this prefix: taken in
            while (nextKey != null && prefixOf(nextKey) == pp) {
                key.clear();
                key.put(nextKey).flip();
                if (!c.get(key, GetOp.MDB_SET_KEY)) {
                    throw new MetaCorruptException("fingerprint index run " + java.util.HexFormat.of().formatHex(nextKey)
                            + " is gone");
                }
                take(MetaCodec.be(c.key()), MetaCodec.be(c.val()));
                absorbed.add(nextKey);
                dirty = true;
                nextKey = c.next() ? MetaDamage.bytes(c.key()) : null;
            }
        }

        private long prefixOf(byte[] k) {
            return MetaCodec.u40(ByteBuffer.wrap(k), 0);
        }

        /** Reads the run whose key is the greatest not above {@link #lo} (or the first run) and the next key. */
        private void load() throws MetaCorruptException {
            n = 0;
            dirty = false;
            held = true;
            runKey = null;
            nextKey = null;
            absorbed.clear();
            key.clear();
            key.put(lo).flip();
            boolean at;
            if (c.get(key, GetOp.MDB_SET_RANGE)) {
                if (java.util.Arrays.equals(MetaDamage.bytes(c.key()), lo)) {
                    at = true;
                } else if (c.prev()) {
                    at = true;
                } else {
                    at = c.first(); // no run below: the first one takes entries below its key
                }
            } else {
                at = c.last();
            }
            if (!at) {
                return; // no run at all
            }
            runKey = MetaDamage.bytes(c.key());
            take(MetaCodec.be(c.key()), MetaCodec.be(c.val()));
            nextKey = c.next() ? MetaDamage.bytes(c.key()) : null;
        }

        /** Appends a checked run's entries to the held ones. */
        private void take(ByteBuffer k, ByteBuffer val) throws MetaCorruptException {
            String bad = MetaCodec.checkRun(k, val);
            if (bad != null) {
                throw new MetaCorruptException("fingerprint index run " + java.util.HexFormat.of()
                        .formatHex(MetaDamage.bytes(k)) + ": " + bad);
            }
            int m = MetaCodec.runEntries(val.remaining());
            while (n + m > p.length) {
                p = java.util.Arrays.copyOf(p, 2 * p.length);
                id = java.util.Arrays.copyOf(id, 2 * id.length);
            }
            for (int i = 0; i < m; i++) {
                p[n] = MetaCodec.u40(val, i * MetaCodec.RUN_ENTRY);
                id[n] = MetaCodec.u48(val, i * MetaCodec.RUN_ENTRY + MetaCodec.RUN_PREFIX);
                n++;
            }
        }

        /** Writes the held run back if it changed (see the class comment). */
        private void write() {
            if (!held || !dirty) {
                held = false;
                return;
            }
            for (byte[] k : absorbed) {
                key.clear();
                key.put(k).flip();
                store.runs.delete(txn, key);
            }
            absorbed.clear();
            if (runKey != null && (n == 0 || !keyFits(runKey))) {
                key.clear();
                key.put(runKey).flip();
                store.runs.delete(txn, key);
                runKey = null;
            }
            int parts = n <= MetaCodec.RUN_MAX ? 1 : (n + MetaCodec.RUN_FILL - 1) / MetaCodec.RUN_FILL;
            for (int j = 0, from = 0; j < parts && n > 0; j++) {
                int to = (int) ((long) n * (j + 1) / parts);
                if (j == 0 && runKey != null) {
                    key.clear();
                    key.put(runKey).flip();
                } else {
                    MetaCodec.runKey(key, p[from], id[from]);
                }
                MetaCodec.runValue(key, v, p, id, from, to - from);
                byte[] kb = MetaDamage.bytes(key);
                if (lastKey == null || java.util.Arrays.compareUnsigned(kb, lastKey) > 0) {
                    // past the last run (a first merge, an index growing at its end): appended,
                    // so that full leaves are not split in their middle
                    try {
                        store.runs.put(txn, key, v, APPEND);
                        lastKey = kb;
                    } catch (org.lmdbjava.Dbi.KeyExistsException e) {
                        store.runs.put(txn, key, v, NO_FLAGS);
                    }
                } else {
                    store.runs.put(txn, key, v, NO_FLAGS);
                }
                from = to;
            }
            held = false;
            dirty = false;
        }

        /** Whether a stored key may stay the held run's key: not above its first entry. */
        private boolean keyFits(byte[] k) {
            ByteBuffer b = ByteBuffer.wrap(k);
            long kp = MetaCodec.u40(b, 0);
            long kid = MetaCodec.u48(b, MetaCodec.RUN_PREFIX);
            return kp < p[0] || kp == p[0] && kid <= id[0];
        }

        @Override
        public void close() {
            try {
                write();
            } finally {
                c.close();
            }
        }
    }

    public void deleteIndex(byte[] fp) {
        if (store.index != null) {
            MetaCodec.indexKey(key, fp);
            store.index.delete(txn, key);
            return;
        }
        FingerprintLog.Key k = FingerprintLog.key(fp);
        FingerprintLog.Entry prev = store.fpLog.map.get(k);
        if (prev != null) {
            MetaCodec.fpLogKey(key, prev.seq());
            store.fplog.delete(txn, key); // first: if it throws, the map is unchanged
            store.fpLog.map.remove(k);
            fpUndo.changed(k, prev);
        }
        removeIndexed(fp, 0);
    }

    /**
     * Deletes the format 3 entries under {@code fp}'s prefix (but {@code keep}'s) that index
     * {@code fp} or a chunk that no longer exists; an entry of another fingerprint with the same
     * prefix stays.
     */
    private void removeIndexed(byte[] fp, long keep) {
        if (runsInUse()) {
            try (RunEditor e = new RunEditor()) {
                e.remove(fp, keep);
            } catch (MetaCorruptException ex) {
                throw new java.io.UncheckedIOException(ex);
            }
            return;
        }
        try {
            for (long id : candidates(fp)) {
                if (id == keep) {
                    continue;
                }
                byte[] f = fingerprintOf(id);
                if (f == null || java.util.Arrays.equals(f, fp)) {
                    MetaCodec.fpKey(key, fp, id);
                    store.fpindex.delete(txn, key);
                    indexed.remove(id);
                }
            }
        } catch (MetaCorruptException e) {
            // a damaged index or chunk page: the pool is read-only then and commits no index change
            throw new java.io.UncheckedIOException(e);
        }
    }

    public void putVolume(VolumeRecord r) {
        key.clear();
        key.put(r.name().getBytes(StandardCharsets.UTF_8)).flip();
        MetaCodec.volumeValue(key, val2, r);
        store.volumes.put(txn, key, val2, NO_FLAGS);
    }

    public void deleteVolume(String name) {
        key.clear();
        key.put(name.getBytes(StandardCharsets.UTF_8)).flip();
        store.volumes.delete(txn, key);
    }

    /**
     * Replaces the persistent reservation image of volume {@code volume} (null: removes it), cut
     * into fragments of at most {@link MetaCodec#RESERVATION_FRAGMENT} bytes, each with its CRC.
     */
    public void putReservations(int volume, byte[] image) {
        deleteReservations(volume);
        if (image == null) {
            return;
        }
        ByteBuffer v = ByteBuffer.allocateDirect(MetaCodec.RESERVATION_FRAGMENT + 4);
        for (int f = 0, at = 0; at < image.length || f == 0; f++, at += MetaCodec.RESERVATION_FRAGMENT) {
            int n = Math.min(MetaCodec.RESERVATION_FRAGMENT, image.length - at);
            MetaCodec.reservationKey(key, volume, f);
            v.clear();
            v.put(image, at, n);
            MetaCodec.seal(key, v);
            store.reservations.put(txn, key, v, NO_FLAGS);
        }
    }

    /** Removes the persistent reservation image of volume {@code volume}, if any. */
    public void deleteReservations(int volume) {
        for (int f = 0; ; f++) {
            MetaCodec.reservationKey(key, volume, f);
            if (!store.reservations.delete(txn, key)) {
                return;
            }
        }
    }

    /**
     * Remembers a block for the next post-process pass; false (nothing done) when the pool has no
     * {@code staged} table ({@link MetaStore#ensureStaged()} was never called: no post-process
     * volume ever wrote).
     */
    public boolean putStaged(int volume, long dblock) {
        org.lmdbjava.Dbi<ByteBuffer> st = stagedDb;
        if (st == null) {
            return false;
        }
        MetaCodec.stagedKey(key, volume, dblock);
        st.put(txn, key, MetaStore.EMPTY, NO_FLAGS);
        return true;
    }

    /** Forgets a staged block; true if it was staged. */
    public boolean deleteStaged(int volume, long dblock) {
        org.lmdbjava.Dbi<ByteBuffer> st = stagedDb;
        if (st == null) {
            return false;
        }
        MetaCodec.stagedKey(key, volume, dblock);
        return st.delete(txn, key);
    }

    public void putContainer(ContainerRecord r) {
        MetaCodec.containerKey(key, r.id());
        MetaCodec.containerValue(key, val, r);
        store.containers.put(txn, key, val, NO_FLAGS);
    }

    public void deleteContainer(int id) {
        MetaCodec.containerKey(key, id);
        store.containers.delete(txn, key);
    }

    /**
     * Writes the pool counters; their format version is the one of the block map in use
     * ({@link MetaStore#formatVersion()}), whatever {@code c} says.
     */
    public void putCounters(PoolCounters c) {
        if (c.formatVersion() != store.formatVersion()) {
            c = new PoolCounters(store.formatVersion(), c.poolUuid(), c.slotSize(), c.nextChunkId(),
                    c.nextContainerId(), c.nextVolumeId(), c.uniqueChunks(), c.uniqueBytes(), c.storedBytes());
        }
        key.clear();
        key.put(MetaCodec.COUNTERS_KEY).flip();
        MetaCodec.countersValue(key, val2, c);
        store.counters.put(txn, key, val2, NO_FLAGS);
    }

    public void commit() {
        writePages();
        writeGroups();
        try {
            // not while the metadata file system is short of space: a merge copies index leaves,
            // and the commits then must be the ones that free space; not into damaged runs (the
            // pool is read-only: the log keeps the changes)
            if (store.fpLog.mergeDue() && !store.lowSpace() && (!runsInUse() || store.damage().isEmpty())) {
                mergeFingerprintLog();
            }
            txn.commit();
        } catch (RuntimeException e) {
            fpUndo.rollBack(store.fpLog);
            throw e;
        }
        fpUndo.clear();
    }

    @Override
    public void close() {
        // closed without a commit (an exception on the way): LMDB drops the transaction, and the
        // fingerprint log's map goes back with it
        fpUndo.rollBack(store.fpLog);
        super.close();
    }

    public void abort() {
        fpUndo.rollBack(store.fpLog);
        indexed.clear();
        pages.clear();
        dirtyPages = 0;
        groups.clear();
        dirtyGroups.clear();
        lastGroup = null;
        txn.abort();
    }
}
