package io.orion.dedup.meta;

import io.orion.dedup.blockdev.PrivateFiles;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.LmdbException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one owner of the pool's LMDB environment and its databases ({@code volumes},
 * {@code blockpages} (the block map, many entries per value), {@code chunkgroups} (the chunk
 * records, many per value), {@code fpruns} (the fingerprint index, runs of entries per value) and
 * {@code fplog} (its recent changes), {@code containers}, {@code counters} and
 * {@code reservations}, the persistent reservations of volumes saved with APTPL; layouts in
 * docs/on-disk-format.md).
 *
 * <p>Threads: any thread may open short read transactions ({@link #read()}); exactly one thread
 * (the pool's committer) opens write transactions ({@link #write()}), one per batch. The map is
 * grown ({@link #grow()}) when a write hits MDB_MAP_FULL: growing waits until no read transaction
 * is open (LMDB requires that), so readers hold a shared lock for their short lifetime.
 *
 * <p>Durability: the environment runs with MDB_NOSYNC (and without MDB_WRITEMAP: LMDB builds a
 * transaction's pages in memory and writes them with {@code pwrite} at commit), so a commit is
 * atomic and survives a process crash but is made durable against power loss only by
 * {@link #sync()}, which the pool calls after forcing the chunk data to the devices (data before the
 * metadata that references it).
 *
 * <p>Space: a full file system must never crash the server. With MDB_WRITEMAP a transaction writes
 * straight into a mapping of a sparse file, and a page the file system cannot back kills the
 * process with SIGBUS; without it a write that finds no space fails the commit with ENOSPC, the
 * transaction is aborted and nothing changes. So that a full file system still lets the pool free
 * space (UNMAP, cleanup, LUN deletion all commit metadata), {@code data.mdb} is kept allocated
 * (written with zeros) {@link #reserveTarget(long) a reserve} past its last used page, topped up
 * after commits ({@link #keepReserve()}). When the reserve cannot be kept above half its target the
 * store reports {@link #lowSpace()}: the committer then refuses changes that need new space (DATA
 * PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT) and lets the ones that free space use the rest.
 */
public final class MetaStore implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(MetaStore.class);

    /** Replaced only by {@link #reopenAfterPanic()} (under the map lock's write side). */
    volatile Env<ByteBuffer> env;
    /** The first failed {@link #sync()} or flush completion ({@link #complete}): every later one fails with it. */
    private volatile RuntimeException syncFailure;
    // the handles below are replaced only when the environment is opened again (reopenAfterPanic)
    volatile Dbi<ByteBuffer> volumes;
    /** The block map: pages of {@link MetaCodec#PAGE_ENTRIES} entries per value. */
    volatile Dbi<ByteBuffer> pages;
    /**
     * The block map of format 1 (one entry per block), while a pool written by an older build is
     * not converted yet (damaged metadata, or a file system too full to convert); null otherwise.
     * Every block-map method then reads and writes it as before.
     */
    volatile Dbi<ByteBuffer> blocks;
    /**
     * The chunk records of format 4 and earlier (one entry per chunk) while a pool written by an
     * older build is not converted yet; null otherwise.
     */
    volatile Dbi<ByteBuffer> chunks;
    /**
     * The chunk records (format 5): {@link MetaCodec#GROUP} consecutive chunk ids per value; null
     * only in a damaged pool of format 4 or earlier (never written, so never created).
     */
    volatile Dbi<ByteBuffer> groups;
    /**
     * The fingerprint index of formats 1 and 2 (full 32-byte fingerprint key, chunk id and CRC
     * value) while a pool written by an older build is not converted yet; null otherwise.
     */
    volatile Dbi<ByteBuffer> index;
    /**
     * The fingerprint index of formats 3 to 5 (fingerprint prefix ‖ chunk id keys, empty values)
     * while a pool written by an older build is not converted yet; null otherwise.
     */
    volatile Dbi<ByteBuffer> fpindex;
    /**
     * The fingerprint index (format 6): runs of up to {@link MetaCodec#RUN_MAX} entries (fingerprint
     * prefix ‖ chunk id) per value; null only in a damaged pool of format 5 or earlier.
     */
    volatile Dbi<ByteBuffer> runs;
    /**
     * The fingerprint index's recent changes (format 4): key sequence number (u64), value
     * fingerprint ‖ chunk id ‖ CRC; held in memory by {@link #fpLog} and merged into {@link #fpindex}.
     */
    volatile Dbi<ByteBuffer> fplog;
    // (null only in a damaged pool of format 3 or earlier: never written then, so never created)
    /**
     * The largest key of the chunk records (a chunk id in format 4, a group number in format 5) put
     * by an append ({@link MetaWriteTxn#putChunk}) or found at open; a larger one is appended (writer only; may be ahead of the table after an abort, which only
     * costs the append of a few ids).
     */
    volatile long lastChunkKey;
    /** The changes of {@link #fplog}, in memory (see {@link FingerprintLog}). */
    final FingerprintLog fpLog = new FingerprintLog(Integer.getInteger("orion.meta.fpLogEntries", 1 << 15));
    volatile Dbi<ByteBuffer> containers;
    volatile Dbi<ByteBuffer> counters;
    volatile Dbi<ByteBuffer> reservations;
    /**
     * Blocks of post-process volumes written since the last post-process pass: key volume id (u32)
     * ‖ dedup block (u64), empty value. See {@code PostProcessor}. Null until a post-process volume
     * first writes ({@link #ensureStaged()}): a pool that never used post-process has no such table,
     * so builds that do not know it still open the pool.
     */
    volatile Dbi<ByteBuffer> staged;
    final ReentrantReadWriteLock mapLock = new ReentrantReadWriteLock();
    /** Key/value buffers of the (single) write transaction. */
    final ByteBuffer writerKey = ByteBuffer.allocateDirect(512);
    final ByteBuffer writerVal = ByteBuffer.allocateDirect(128);
    final ByteBuffer writerVal2 = ByteBuffer.allocateDirect(512);
    final ByteBuffer writerPage = ByteBuffer.allocateDirect(MetaCodec.PAGE_VAL_MAX + 16);
    final ByteBuffer writerGroup = ByteBuffer.allocateDirect(MetaCodec.GROUP_VAL_MAX + 16);
    final ByteBuffer writerRun = ByteBuffer.allocateDirect(MetaCodec.RUN_VAL_MAX + 16);
    /** Name of the block-map database (format 2). */
    public static final String BLOCK_PAGES = "blockpages";
    /** Name of the format 1 block map, converted into {@link #BLOCK_PAGES} at open. */
    static final String LEGACY_BLOCKS = "blocks";
    /** Name of the chunk-record database (format 5). */
    public static final String CHUNK_GROUPS = "chunkgroups";
    /** Name of the chunk records of format 4 and earlier, converted into {@link #CHUNK_GROUPS} at open. */
    public static final String LEGACY_CHUNKS = "chunks";
    /** Name of the fingerprint index (format 6). */
    public static final String FP_RUNS = "fpruns";
    /** Name of the fingerprint index of formats 3 to 5, converted into {@link #FP_RUNS} at open. */
    public static final String FP_INDEX = "fpindex";
    /** Name of the fingerprint index's change log (format 4). */
    public static final String FP_LOG = "fplog";
    /** The staged blocks of post-process volumes. */
    public static final String STAGED = "staged";
    /** Name of the format 1 and 2 fingerprint index, converted into {@link #FP_INDEX} at open. */
    static final String LEGACY_INDEX = "index";
    /** The value of every {@link #FP_INDEX} entry. */
    static final ByteBuffer EMPTY = ByteBuffer.allocateDirect(0);
    /** Reset read transactions kept for reuse (MDB_NOTLS: not bound to a thread). */
    private final java.util.concurrent.ConcurrentLinkedDeque<org.lmdbjava.Txn<ByteBuffer>> idle =
            new java.util.concurrent.ConcurrentLinkedDeque<>();
    private final Path dir;
    private volatile long mapSize;
    /** What the last integrity check found (never null; empty when sound). */
    private volatile MetaDamage damage = new MetaDamage();
    private volatile LmdbVerifier.Report lastCheck;
    /** Smallest reserve kept allocated past the last used page of {@code data.mdb}. */
    public static final long MIN_RESERVE = 16L << 20;
    private static final int ZERO_CHUNK = 1 << 20;
    /** {@code data.mdb}, written only to extend the reserve (committer thread). */
    private final FileChannel file;
    private final long pageSize;
    private volatile boolean lowSpace;
    /**
     * True when the allocated tail of {@code data.mdb} is below half the reserve target and could
     * not be topped up: the file is about to need pages the file system may not have.
     */
    private volatile boolean tailShort;
    /** The last flush's meta pages, for a rollback after a power loss; null with durable commits. */
    private FlushedMeta flushed;
    /** A read transaction on the last flushed state: LMDB reuses none of its pages (see {@link FlushedMeta}). */
    private org.lmdbjava.Txn<ByteBuffer> flushedPin;
    /** Every commit is durable itself ({@code durable_commits}): no flushed state is kept. */
    private volatile boolean durable;
    /** The transaction {@link #flushed} holds (under this monitor). */
    private long savedTxn = -1;
    /**
     * Serializes the slow part of flushes ({@link #complete}, {@link #sync()}: fsync, saving the
     * meta pages) without holding this monitor, which guards only the pins and is taken by the
     * committer between commits. Order: {@code mapLock}, then this lock, then the monitor.
     */
    private final Object completeLock = new Object();
    /** One {@link #reopenAfterPanic()} at a time. */
    private final java.util.concurrent.locks.ReentrantLock reopenLock = new java.util.concurrent.locks.ReentrantLock();
    /** Set by {@link #close()} (under the map lock's write side). */
    private volatile boolean closed;
    /** Flush points captured and not yet completed or dropped (under this monitor). */
    private final java.util.Set<FlushPoint> pending = new java.util.HashSet<>();
    private long lastTopUpFailure;
    private long lastLook;

    private MetaStore(Path dir, Env<ByteBuffer> env, long mapSize, FileChannel file, boolean sound)
            throws IOException {
        this.dir = dir;
        this.env = env;
        this.file = file;
        this.pageSize = env.stat().pageSize;
        this.mapSize = Math.max(mapSize, env.info().mapSize);
        this.volumes = env.openDbi("volumes", DbiFlags.MDB_CREATE);
        this.pages = env.openDbi(BLOCK_PAGES, DbiFlags.MDB_CREATE);
        boolean legacy = false;
        boolean legacyIndex = false;
        boolean legacyChunks = false;
        boolean hasGroups = false;
        boolean legacyFpIndex = false;
        boolean hasRuns = false;
        for (byte[] n : env.getDbiNames()) {
            String name = new String(n, java.nio.charset.StandardCharsets.UTF_8);
            legacy |= name.equals(LEGACY_BLOCKS);
            legacyIndex |= name.equals(LEGACY_INDEX);
            legacyChunks |= name.equals(LEGACY_CHUNKS);
            hasGroups |= name.equals(CHUNK_GROUPS);
            legacyFpIndex |= name.equals(FP_INDEX);
            hasRuns |= name.equals(FP_RUNS);
        }
        this.counters = env.openDbi("counters", DbiFlags.MDB_CREATE);
        // A pool whose counters already say it was converted may still show an old table: an older
        // build creates `blocks` and `index` (empty) when it opens the environment, before it reads
        // the format and refuses. Converting "again" would empty the new tables; such a table is
        // dropped when empty, and a non-empty one refuses the open.
        int version = sound ? storedFormatVersion() : -1;
        if (legacy && version >= 2) {
            legacy = !dropEmptyLegacy(LEGACY_BLOCKS, version);
        }
        if (legacyIndex && version >= 3) {
            legacyIndex = !dropEmptyLegacy(LEGACY_INDEX, version);
        }
        if (legacyChunks && version >= 5) {
            legacyChunks = !dropEmptyLegacy(LEGACY_CHUNKS, version);
        }
        if (legacyFpIndex && version >= 6) {
            legacyFpIndex = !dropEmptyLegacy(FP_INDEX, version);
        }
        this.blocks = legacy ? env.openDbi(LEGACY_BLOCKS) : null;
        this.chunks = legacyChunks ? env.openDbi(LEGACY_CHUNKS) : null;
        // created in a sound pool only (a damaged one is never written); a damaged pool without
        // either table has no chunk (its `chunks` was never created)
        this.groups = hasGroups ? env.openDbi(CHUNK_GROUPS) : sound ? env.openDbi(CHUNK_GROUPS, DbiFlags.MDB_CREATE)
                : null;
        this.index = legacyIndex ? env.openDbi(LEGACY_INDEX) : null;
        this.fpindex = legacyFpIndex ? env.openDbi(FP_INDEX) : null;
        this.runs = hasRuns ? env.openDbi(FP_RUNS) : sound ? env.openDbi(FP_RUNS, DbiFlags.MDB_CREATE) : null;
        // created in a sound pool only: a damaged one is never written (it opens read-only)
        boolean hasLog = false;
        for (byte[] n : env.getDbiNames()) {
            hasLog |= new String(n, java.nio.charset.StandardCharsets.UTF_8).equals(FP_LOG);
        }
        this.fplog = hasLog ? env.openDbi(FP_LOG) : sound ? env.openDbi(FP_LOG, DbiFlags.MDB_CREATE) : null;
        this.containers = env.openDbi("containers", DbiFlags.MDB_CREATE);
        this.reservations = env.openDbi("reservations", DbiFlags.MDB_CREATE);
        boolean hasStaged = false;
        for (byte[] n : env.getDbiNames()) {
            hasStaged |= new String(n, java.nio.charset.StandardCharsets.UTF_8).equals(STAGED);
        }
        this.staged = hasStaged ? env.openDbi(STAGED) : null;
    }

    /** True once the pool has a {@code staged} table (a post-process volume wrote). */
    public boolean hasStaged() {
        return staged != null;
    }

    /**
     * Creates the {@code staged} table if the pool has none yet. Called by a post-process write
     * before it commits (outside any transaction of the calling thread: LMDB creates the table in a
     * write transaction of its own, after the committer's current one).
     */
    public void ensureStaged() {
        if (staged == null) {
            synchronized (this) {
                if (staged == null) {
                    staged = env.openDbi(STAGED, DbiFlags.MDB_CREATE);
                }
            }
        }
    }

    /** The format version the pool counters record, or -1 when there are none (a new pool). */
    private int storedFormatVersion() throws IOException {
        try (org.lmdbjava.Txn<ByteBuffer> t = env.txnRead()) {
            ByteBuffer k = ByteBuffer.allocateDirect(MetaCodec.COUNTERS_KEY.length);
            k.put(MetaCodec.COUNTERS_KEY).flip();
            ByteBuffer cv = counters.get(t, k);
            if (cv == null) {
                return -1;
            }
            cv = MetaCodec.be(cv);
            MetaCodec.check("pool counters", k, cv, MetaCodec.COUNTERS_VAL);
            return MetaCodec.counters(cv).formatVersion();
        } catch (MetaCorruptException e) {
            return -1;
        }
    }

    /**
     * Drops the old table {@code name} of a pool already at {@code version} if it is empty (true);
     * refuses the open if it holds entries.
     */
    private boolean dropEmptyLegacy(String name, int version) throws IOException {
        Dbi<ByteBuffer> d = env.openDbi(name);
        long entries;
        try (org.lmdbjava.Txn<ByteBuffer> t = env.txnRead()) {
            entries = d.stat(t).entries;
        }
        if (entries != 0) {
            throw new IOException("metadata in " + dir + " is at format " + version + " but also holds " + entries
                    + " entries of the old table '" + name + "'; refusing to open (restore a backup, or ask for help)");
        }
        try (org.lmdbjava.Txn<ByteBuffer> t = env.txnWrite()) {
            d.drop(t, true);
            t.commit();
        }
        LOG.info("metadata in {}: dropped the empty old table '{}' (format {}; an older build created it)", dir, name,
                version);
        return true;
    }

    /** {@link LmdbVerifier#check} of {@code dir}'s closed file, every page, with its log line. */
    private static LmdbVerifier.Report fullCheck(Path dir) throws IOException {
        LmdbVerifier.Report check = LmdbVerifier.check(dir.resolve("data.mdb"), -1);
        if (!check.damage().isEmpty()) {
            List<String> p = check.damage().problems();
            LOG.error("metadata in {} is damaged ({} ms to check {} pages), {} problem(s){}: {}", dir, check.millis(),
                    check.pages(), p.size(), p.size() > 20 ? ", the first 20" : "", p.subList(0, Math.min(20, p.size())));
        } else {
            LOG.info("metadata in {} checked: {} pages, {} entries, {} ms", dir, check.pages(), check.entries(),
                    check.millis());
        }
        return check;
    }

    /**
     * Opens (creating if needed) the environment in {@code dir}. The file is checked first
     * ({@link LmdbVerifier}): damage to what everything hangs on (meta pages, the main database) is
     * reported as {@link MetaCorruptException} before LMDB maps it; damage inside the databases
     * opens the store with {@link #damage()} telling which key ranges cannot be trusted (lookups
     * there fail with {@link MetaCorruptException}, and LMDB is never led into a damaged page).
     */
    public static MetaStore open(Path dir, long mapSize) throws IOException {
        return open(dir, mapSize, false);
    }

    /**
     * As {@link #open(Path, long)}; with {@code durableCommits} LMDB syncs every commit itself
     * (no MDB_NOSYNC), so each commit is durable against power loss.
     */
    public static MetaStore open(Path dir, long mapSize, boolean durableCommits) throws IOException {
        PrivateFiles.directory(dir);
        // a power loss since the last flush: back to the flushed state before anything reads the file
        FlushedMeta.rollBackAfterPowerLoss(dir);
        // unchanged since a clean stop sealed it: only its top is checked (see CleanSeal)
        long sealedAt = CleanSeal.take(dir);
        LmdbVerifier.Report check = null;
        if (sealedAt >= 0) {
            check = LmdbVerifier.checkTop(dir.resolve("data.mdb"));
            if (check.damage().isEmpty()) {
                LOG.info("metadata in {} unchanged since its clean stop at transaction {}: meta pages and database"
                        + " records checked ({} pages, {} entries, {} ms); scrub checks every page", dir, sealedAt,
                        check.pages(), check.entries(), check.millis());
            } else {
                check = null;
            }
        }
        check = check != null ? check : fullCheck(dir);
        if (check.damage().fatal() != null) {
            throw new MetaCorruptException("metadata file " + dir.resolve("data.mdb") + " is damaged: "
                    + check.damage().fatal());
        }
        MetaStore m;
        try {
            // no MDB_WRITEMAP: see "Space" above
            Env<ByteBuffer> env = Env.create().setMapSize(mapSize).setMaxDbs(16).setMaxReaders(1024)
                    .open(dir.toFile(), durableCommits
                            ? new EnvFlags[] {EnvFlags.MDB_NOTLS}
                            : new EnvFlags[] {EnvFlags.MDB_NOSYNC, EnvFlags.MDB_NOTLS});
            FileChannel file = null;
            FlushedMeta flushed = null;
            org.lmdbjava.Txn<ByteBuffer> pin = null;
            try {
                PrivateFiles.restrictFiles(dir); // data.mdb, lock.mdb: LMDB creates them 0664 & ~umask
                file = FileChannel.open(dir.resolve("data.mdb"), StandardOpenOption.READ, StandardOpenOption.WRITE);
                io.orion.dedup.blockdev.UninterruptibleChannels.apply(file);
                int ps = env.stat().pageSize;
                if (durableCommits) {
                    FlushedMeta.remove(dir); // every commit is durable: nothing to roll back to
                } else {
                    // the state found at open becomes the one a power loss rolls back to, before any
                    // commit (tables created, conversions) can reuse pages of an older flushed state
                    flushed = openFlushed(dir, file, ps, (env.info().lastPageNumber + 1) * ps);
                    pin = pinAndSave(env, file, dir, flushed, ps);
                }
                m = new MetaStore(dir, env, mapSize, file, check.damage().isEmpty());
                m.flushed = flushed;
                m.flushedPin = pin;
                m.durable = durableCommits;
                m.savedTxn = pin == null ? -1 : pin.getId();
                m.damage = check.damage();
                m.lastCheck = check;
            } catch (LmdbException | IOException | java.io.UncheckedIOException e) {
                if (pin != null) {
                    pin.close();
                }
                if (flushed != null) {
                    flushed.close();
                }
                if (file != null) {
                    file.close();
                }
                env.close();
                throw e;
            }
        } catch (LmdbException e) {
            throw new MetaCorruptException("cannot open metadata in " + dir + ": " + e.getMessage(), e);
        }
        m.openReserve();
        m.convertBlockMap();
        m.convertIndex();
        try {
            m.upgradeFingerprintLog();
            m.convertChunks();
            m.convertFpIndex();
            m.loadFingerprintLog();
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    /**
     * What converting a format 1 block map at this open did: old entries read, pages written,
     * transactions, milliseconds; null when there was nothing to convert (or it did not complete).
     */
    public record Conversion(long entries, long pages, int transactions, long millis) {
    }

    private volatile Conversion conversion;

    /** The conversion done at this open, or null. */
    public Conversion conversion() {
        return conversion;
    }

    /** True while the pool keeps the format 1 block map (see {@link #blocks}). */
    public boolean legacyBlockMap() {
        return blocks != null;
    }

    /** True while the pool keeps the format 1/2 fingerprint index (see {@link #index}). */
    public boolean legacyIndex() {
        return index != null;
    }

    /**
     * The pool format version of the layout in use (1: one block-map entry per block; 2: block-map
     * pages; 3: and the fingerprint index keyed by a fingerprint prefix).
     */
    public int formatVersion() {
        return versionWithout("");
    }

    /**
     * The format of the layout in use once the old table {@code gone} is converted (its last
     * conversion transaction sets it): 1 while the block map is {@code blocks}, 2 while the index is
     * {@code index}, 3 without the index change log, 4 while the chunk records are {@code chunks},
     * 5 while the index is {@code fpindex}, else the current one.
     */
    private int versionWithout(String gone) {
        return blocks != null && !gone.equals(LEGACY_BLOCKS) ? 1
                : index != null && !gone.equals(LEGACY_INDEX) ? 2
                : fplog == null ? 3
                : chunks != null && !gone.equals(LEGACY_CHUNKS) ? 4
                : (fpindex != null || gone.equals(LEGACY_INDEX)) && !gone.equals(FP_INDEX) ? 5
                : PoolCounters.FORMAT_VERSION;
    }

    /**
     * Converts a format 1 block map (one {@code blocks} entry per mapped block) into block-map
     * pages, in transactions of about {@code orion.meta.convertEntries} (default 262 144) old
     * entries each, so no transaction grows with the pool. The old table stays the one in use
     * until the last transaction, which drops it and sets the counters' format version to 2 in one
     * commit; a conversion cut short (crash, full file system) leaves the pool in format 1 with a
     * partial copy that the next attempt empties first. Not attempted while the metadata is
     * damaged (the damaged ranges are known in the old table's keys only): such a pool keeps
     * format 1, read-only as any damaged pool.
     */
    private void convertBlockMap() throws IOException {
        if (blocks == null) {
            return;
        }
        if (!damage.isEmpty()) {
            LOG.warn("metadata in {} is damaged: its block map is kept in the format 1 layout (not converted)", dir);
            return;
        }
        int batch = Math.max(1, Integer.getInteger("orion.meta.convertEntries", 1 << 18));
        long t0 = System.nanoTime();
        long entries = 0;
        long written = 0;
        int txns = 0;
        byte[] from = null;
        ByteBuffer k = ByteBuffer.allocateDirect(64);
        ByteBuffer v = ByteBuffer.allocateDirect(MetaCodec.PAGE_VAL_MAX + 16);
        long[] e = new long[MetaCodec.PAGE_ENTRIES];
        boolean last = false;
        boolean dropped = false;
        try {
            while (!last) {
                try (org.lmdbjava.Txn<ByteBuffer> t = env.txnWrite()) {
                    if (from == null) {
                        pages.drop(t); // a copy left by a conversion cut short
                    }
                    int n = 0;
                    last = true;
                    int vol = 0;
                    long page = -1;
                    java.util.Arrays.fill(e, -1L);
                    try (org.lmdbjava.Cursor<ByteBuffer> c = blocks.openCursor(t)) {
                        boolean ok;
                        if (from == null) {
                            ok = c.first();
                        } else {
                            k.clear();
                            k.put(from).flip();
                            ok = c.get(k, org.lmdbjava.GetOp.MDB_SET_RANGE);
                        }
                        while (ok) {
                            ByteBuffer ck = MetaCodec.be(c.key());
                            ByteBuffer cv = MetaCodec.be(c.val());
                            if (ck.remaining() != MetaCodec.BLOCK_KEY) {
                                throw new MetaCorruptException("block map key has " + ck.remaining() + " bytes");
                            }
                            int cvol = ck.getInt(0);
                            long db = ck.getLong(4);
                            MetaCodec.check("block map entry " + cvol + "/" + db, ck, cv, MetaCodec.BLOCK_VAL);
                            long p = db / MetaCodec.PAGE_ENTRIES;
                            if (page >= 0 && (cvol != vol || p != page)) {
                                MetaCodec.pageKey(k, vol, page);
                                MetaCodec.pageValue(k, v, e);
                                pages.put(t, k, v);
                                written++;
                                java.util.Arrays.fill(e, -1L);
                                if (n >= batch) {
                                    from = MetaDamage.bytes(ck);
                                    last = false;
                                    page = -1;
                                    break;
                                }
                            }
                            vol = cvol;
                            page = p;
                            e[(int) (db % MetaCodec.PAGE_ENTRIES)] = cv.getLong(0);
                            n++;
                            entries++;
                            ok = c.next();
                        }
                    }
                    if (last && page >= 0) {
                        MetaCodec.pageKey(k, vol, page);
                        MetaCodec.pageValue(k, v, e);
                        pages.put(t, k, v);
                        written++;
                    }
                    if (from == null) {
                        from = new byte[0];
                    }
                    if (last) {
                        setFormatVersion(t, k, v, versionWithout(LEGACY_BLOCKS));
                        dropped = true;
                        blocks.drop(t, true);
                    }
                    t.commit();
                    txns++;
                }
            }
        } catch (MetaCorruptException | RuntimeException ex) {
            if (dropped) {
                // the old table's handle is closed with the drop: nothing to go on with
                close();
                throw new IOException("converting the block map of " + dir + " failed in its last step (" + ex
                        + "); the pool is unchanged, open it again", ex);
            }
            LOG.error("block map of {} not converted ({}): the pool keeps the format 1 layout", dir, ex.toString());
            return;
        }
        blocks = null;
        conversion = new Conversion(entries, written, txns, (System.nanoTime() - t0) / 1_000_000);
        LOG.info("block map of {} converted to pages: {} entries into {} pages in {} transactions, {} ms", dir,
                entries, written, txns, (System.nanoTime() - t0) / 1_000_000);
    }

    /** One transaction's share of a conversion ({@link #convertInBatches}). */
    private interface ConversionBatch {
        /** Copies the next batch in {@code t} ({@code first}: the first transaction); true when it was the last. */
        boolean copy(org.lmdbjava.Txn<ByteBuffer> t, boolean first) throws MetaCorruptException;
    }

    /**
     * Runs a conversion in bounded transactions: the first empties {@code target} (a copy left by a
     * conversion cut short), each copies one batch, and the one that copies the last batch also
     * sets the counters' format version to {@code version} and drops {@code old}, in the same
     * commit, so the old table stays the one in use until then. Returns the transactions, or -1 when
     * the conversion failed before its last step (logged: the pool keeps its {@code layout}); a
     * failure in the last step closes the store and throws (nothing changed, a new open retries).
     */
    private int convertInBatches(String what, String layout, Dbi<ByteBuffer> target, Dbi<ByteBuffer> old, int version,
            ConversionBatch batch) throws IOException {
        ByteBuffer k = ByteBuffer.allocateDirect(64);
        ByteBuffer v = ByteBuffer.allocateDirect(128);
        int txns = 0;
        boolean last = false;
        boolean dropped = false;
        try {
            while (!last) {
                try (org.lmdbjava.Txn<ByteBuffer> t = env.txnWrite()) {
                    if (txns == 0) {
                        target.drop(t);
                    }
                    last = batch.copy(t, txns == 0);
                    if (last) {
                        setFormatVersion(t, k, v, version);
                        dropped = true;
                        old.drop(t, true);
                    }
                    t.commit();
                    txns++;
                }
            }
        } catch (MetaCorruptException | RuntimeException ex) {
            if (dropped) {
                close();
                throw new IOException("converting the " + what + " of " + dir + " failed in its last step (" + ex
                        + "); the pool is unchanged, open it again", ex);
            }
            LOG.error("{} of {} not converted ({}): the pool keeps the {} layout", what, dir, ex.toString(), layout);
            return -1;
        }
        return txns;
    }

    private volatile Conversion indexConversion;

    /** The fingerprint-index conversion done at this open (entries, keys written, ...), or null. */
    public Conversion indexConversion() {
        return indexConversion;
    }

    /**
     * Converts a format 1/2 fingerprint index (one {@code index} entry per fingerprint: 32-byte key,
     * chunk id and CRC value) into {@code fpindex} (fingerprint prefix ‖ chunk id keys, empty
     * values), in transactions of about {@code orion.meta.convertEntries} entries, as
     * {@link #convertBlockMap()} does: the old index stays the one in use until the last
     * transaction, which drops it and sets the counters' format version to 3 in one commit; a
     * conversion cut short leaves a partial copy that the next attempt empties first. Not attempted
     * while the metadata is damaged or the block map is still in format 1.
     */
    private void convertIndex() throws IOException {
        if (index == null || blocks != null) {
            return;
        }
        if (!damage.isEmpty()) {
            LOG.warn("metadata in {} is damaged: its fingerprint index is kept in the format 2 layout (not converted)",
                    dir);
            return;
        }
        if (fpindex == null) {
            fpindex = env.openDbi(FP_INDEX, DbiFlags.MDB_CREATE); // converted again into fpruns below
        }
        int batch = Math.max(1, Integer.getInteger("orion.meta.convertEntries", 1 << 18));
        long t0 = System.nanoTime();
        long[] entries = {0};
        byte[][] from = {new byte[0]};
        ByteBuffer k = ByteBuffer.allocateDirect(64);
        byte[] fp = new byte[MetaCodec.INDEX_KEY];
        int txns = convertInBatches("fingerprint index", "format 2", fpindex, index, versionWithout(LEGACY_INDEX),
                (t, first) -> {
                    int n = 0;
                    try (org.lmdbjava.Cursor<ByteBuffer> c = index.openCursor(t)) {
                        boolean ok;
                        if (from[0].length == 0) {
                            ok = c.first();
                        } else {
                            k.clear();
                            k.put(from[0]).flip();
                            ok = c.get(k, org.lmdbjava.GetOp.MDB_SET_RANGE);
                        }
                        while (ok) {
                            ByteBuffer ck = MetaCodec.be(c.key());
                            ByteBuffer cv = MetaCodec.be(c.val());
                            if (n >= batch) {
                                from[0] = MetaDamage.bytes(ck);
                                return false;
                            }
                            if (ck.remaining() != MetaCodec.INDEX_KEY) {
                                throw new MetaCorruptException("fingerprint index key has " + ck.remaining() + " bytes");
                            }
                            MetaCodec.check("fingerprint index entry", ck, cv, MetaCodec.INDEX_VAL);
                            ck.duplicate().get(fp);
                            MetaCodec.fpKey(k, fp, cv.getLong(0));
                            fpindex.put(t, k, EMPTY);
                            n++;
                            entries[0]++;
                            ok = c.next();
                        }
                    }
                    return true;
                });
        if (txns < 0) {
            return;
        }
        index = null;
        indexConversion = new Conversion(entries[0], entries[0], txns, (System.nanoTime() - t0) / 1_000_000);
        LOG.info("fingerprint index of {} converted: {} entries in {} transactions, {} ms", dir, entries[0], txns,
                (System.nanoTime() - t0) / 1_000_000);
    }

    /**
     * A format 3 pool becomes format 4 (it gains the empty {@code fplog} table, created at open):
     * only the counters' version changes. An older build then refuses the pool instead of ignoring
     * the index changes held in {@code fplog}.
     */
    private void upgradeFingerprintLog() throws IOException {
        if (index != null || blocks != null || fplog == null || !damage.isEmpty() || storedFormatVersion() != 3) {
            return;
        }
        try (org.lmdbjava.Txn<ByteBuffer> t = env.txnWrite()) {
            setFormatVersion(t, ByteBuffer.allocateDirect(64), ByteBuffer.allocateDirect(128),
                    versionWithout(""));
            t.commit();
        }
        LOG.info("metadata in {}: format 3 upgraded to {} (fingerprint index change log)", dir, versionWithout(""));
    }

    private volatile Conversion chunkConversion;

    /** The chunk-record conversion done at this open (records, groups written, ...), or null. */
    public Conversion chunkConversion() {
        return chunkConversion;
    }

    /**
     * Converts the chunk records of a format 4 pool (one {@code chunks} entry per chunk) into
     * {@code chunkgroups} ({@link MetaCodec#GROUP} ids per value), in transactions of about
     * {@code orion.meta.convertEntries} records ending at a group boundary, as
     * {@link #convertIndex()} does: the old table stays the one in use until the last transaction,
     * which drops it and sets the counters' format version to 5 in one commit; a conversion cut
     * short leaves a partial copy that the next attempt empties first. Not attempted while the
     * metadata is damaged or an older conversion is still due.
     */
    private void convertChunks() throws IOException {
        if (chunks == null || groups == null || blocks != null || index != null || fplog == null) {
            return;
        }
        if (!damage.isEmpty()) {
            LOG.warn("metadata in {} is damaged: its chunk records are kept in the format 4 layout (not converted)",
                    dir);
            return;
        }
        int batch = Math.max(1, Integer.getInteger("orion.meta.convertEntries", 1 << 18));
        long t0 = System.nanoTime();
        long[] records = {0};
        long[] written = {0};
        long[] from = {0}; // the first chunk id of the next transaction's first group
        ByteBuffer k = ByteBuffer.allocateDirect(64);
        ByteBuffer v = ByteBuffer.allocateDirect(MetaCodec.GROUP_VAL_MAX + 16);
        ChunkRecord[] group = new ChunkRecord[MetaCodec.GROUP];
        int txns = convertInBatches("chunk records", "format 4", groups, chunks, versionWithout(LEGACY_CHUNKS),
                (t, first) -> {
                    int n = 0;
                    long g = -1;
                    try (org.lmdbjava.Cursor<ByteBuffer> c = chunks.openCursor(t)) {
                        boolean ok;
                        if (from[0] <= 0) {
                            ok = c.first();
                        } else {
                            MetaCodec.chunkKey(k, from[0]);
                            ok = c.get(k, org.lmdbjava.GetOp.MDB_SET_RANGE);
                        }
                        while (ok) {
                            ByteBuffer ck = MetaCodec.be(c.key());
                            ByteBuffer cv = MetaCodec.be(c.val());
                            if (ck.remaining() != MetaCodec.CHUNK_KEY) {
                                throw new MetaCorruptException("chunk key has " + ck.remaining() + " bytes");
                            }
                            long id = ck.getLong(0);
                            long cg = Long.divideUnsigned(id, MetaCodec.GROUP);
                            if (cg != g) {
                                if (g >= 0) {
                                    written[0] += putGroup(t, k, v, g, group) ? 1 : 0;
                                }
                                if (n >= batch) {
                                    from[0] = id; // the next transaction starts at this group's first record
                                    return false;
                                }
                                g = cg;
                            }
                            MetaCodec.check("chunk " + id, ck, cv, MetaCodec.CHUNK_VAL);
                            group[(int) Long.remainderUnsigned(id, MetaCodec.GROUP)] = MetaCodec.chunk(id, cv);
                            n++;
                            records[0]++;
                            ok = c.next();
                        }
                    }
                    if (g >= 0) {
                        written[0] += putGroup(t, k, v, g, group) ? 1 : 0;
                    }
                    return true;
                });
        if (txns < 0) {
            return;
        }
        chunks = null;
        chunkConversion = new Conversion(records[0], written[0], txns, (System.nanoTime() - t0) / 1_000_000);
        LOG.info("chunk records of {} converted: {} records into {} groups in {} transactions, {} ms", dir, records[0],
                written[0], txns, (System.nanoTime() - t0) / 1_000_000);
    }

    /** Writes the records of group {@code g} (converting), then empties {@code group}; false when it held none. */
    private boolean putGroup(org.lmdbjava.Txn<ByteBuffer> t, ByteBuffer k, ByteBuffer v, long g, ChunkRecord[] group) {
        MetaCodec.groupKey(k, g);
        boolean any = MetaCodec.groupValue(k, v, group);
        if (any) {
            groups.put(t, k, v);
        }
        java.util.Arrays.fill(group, null);
        return any;
    }

    private volatile Conversion runConversion;

    /** The fingerprint-index conversion into runs done at this open (entries, runs written, ...), or null. */
    public Conversion runConversion() {
        return runConversion;
    }

    /**
     * Converts the fingerprint index of formats 3 to 5 ({@code fpindex}: one key per entry) into
     * runs ({@code fpruns}, {@link MetaCodec#RUN_FILL} entries per value, written in key order), in
     * transactions of about {@code orion.meta.convertEntries} entries that end where the 5-byte
     * prefix changes, as the other conversions: {@code fpindex} stays the index in use until the last
     * transaction, which drops it and sets the counters' format version to 6 in one commit; a copy
     * cut short is emptied by the next attempt. The change log is not touched (it merges into
     * whichever index is in use). Not attempted while the metadata is damaged or an earlier
     * conversion is still due.
     */
    private void convertFpIndex() throws IOException {
        if (fpindex == null || runs == null || blocks != null || index != null || fplog == null || chunks != null) {
            return;
        }
        if (!damage.isEmpty()) {
            LOG.warn("metadata in {} is damaged: its fingerprint index is kept in the format 5 layout (not converted)",
                    dir);
            return;
        }
        int batch = Math.max(1, Integer.getInteger("orion.meta.convertEntries", 1 << 18));
        long t0 = System.nanoTime();
        long[] entries = {0};
        long[] written = {0};
        long[] from = {0}; // the 5-byte prefix the next transaction starts at
        ByteBuffer k = ByteBuffer.allocateDirect(64);
        ByteBuffer v = ByteBuffer.allocateDirect(MetaCodec.RUN_VAL_MAX + 16);
        long[][] pid = {new long[1024], new long[1024]};
        int txns = convertInBatches("fingerprint index", "format 5", runs, fpindex, versionWithout(FP_INDEX),
                (t, first) -> {
                    long[] p = pid[0];
                    long[] id = pid[1];
                    int n = 0;
                    boolean last = true;
                    try (org.lmdbjava.Cursor<ByteBuffer> c = fpindex.openCursor(t)) {
                        boolean ok;
                        if (first) {
                            ok = c.first();
                        } else {
                            k.clear();
                            k.put((byte) (from[0] >>> 32)).putInt((int) from[0]).flip();
                            ok = c.get(k, org.lmdbjava.GetOp.MDB_SET_RANGE);
                        }
                        while (ok) {
                            ByteBuffer ck = MetaCodec.be(c.key());
                            if (ck.remaining() != MetaCodec.FP_KEY) {
                                throw new MetaCorruptException("fingerprint index key has " + ck.remaining() + " bytes");
                            }
                            long ep = MetaCodec.u40(ck, 0);
                            long eid = MetaCodec.fpKeyId(ck);
                            if (n >= batch && ep != p[n - 1]) {
                                from[0] = ep;
                                last = false;
                                break;
                            }
                            if (n == p.length) {
                                pid[0] = p = java.util.Arrays.copyOf(p, 2 * n);
                                pid[1] = id = java.util.Arrays.copyOf(id, 2 * n);
                            }
                            // fpindex orders by 8 prefix bytes, then id: within one 5-byte prefix, by id
                            int at = n;
                            while (at > 0 && p[at - 1] == ep && id[at - 1] > eid) {
                                p[at] = p[at - 1];
                                id[at] = id[at - 1];
                                at--;
                            }
                            p[at] = ep;
                            id[at] = eid;
                            n++;
                            ok = c.next();
                        }
                    }
                    for (int i = 0; i < n; i += MetaCodec.RUN_FILL) {
                        int m = Math.min(MetaCodec.RUN_FILL, n - i);
                        MetaCodec.runKey(k, p[i], id[i]);
                        MetaCodec.runValue(k, v, p, id, i, m);
                        runs.put(t, k, v, org.lmdbjava.PutFlags.MDB_APPEND);
                        written[0]++;
                    }
                    entries[0] += n;
                    return last;
                });
        if (txns < 0) {
            return;
        }
        fpindex = null;
        runConversion = new Conversion(entries[0], written[0], txns, (System.nanoTime() - t0) / 1_000_000);
        LOG.info("fingerprint index of {} converted into runs: {} entries into {} runs in {} transactions, {} ms", dir,
                entries[0], written[0], txns, (System.nanoTime() - t0) / 1_000_000);
    }

    /** Reads {@code fplog} into {@link #fpLog} (sound records only; damaged ones are left out). */
    private void loadFingerprintLog() throws IOException {
        if (fplog == null) {
            return;
        }
        if (damage.isEmpty()) {
            Dbi<ByteBuffer> d = chunks != null ? chunks : groups;
            if (d != null) {
                try (org.lmdbjava.Txn<ByteBuffer> t = env.txnRead();
                     org.lmdbjava.Cursor<ByteBuffer> c = d.openCursor(t)) {
                    if (c.last() && c.key().remaining() == MetaCodec.CHUNK_KEY) {
                        lastChunkKey = MetaCodec.be(c.key()).getLong(0);
                    }
                }
            }
        } else {
            lastChunkKey = Long.MAX_VALUE; // no cursor steps into damaged pages: no appends
        }
        long[] last = {0};
        try (MetaTxn t = read()) {
            t.scanFingerprintLog((seq, fp, id) -> {
                FingerprintLog.Entry e = new FingerprintLog.Entry(id, seq);
                fpLog.map.put(FingerprintLog.key(fp), e);
                last[0] = Math.max(last[0], seq);
            });
        }
        fpLog.nextSeq = last[0] + 1;
        if (!fpLog.map.isEmpty()) {
            LOG.info("metadata in {}: {} fingerprint index changes held in fplog (merged at {})", dir,
                    fpLog.map.size(), fpLog.mergeAt);
        }
    }

    /**
     * Merges the fingerprint log into {@code fpindex} now, in a write transaction of its own (the
     * pool's writes must be idle: the committer's buffers are shared). For figures and checks that
     * want the merged layout.
     */
    public void mergeFingerprintLog() {
        if (fplog == null) {
            return;
        }
        int at = fpLog.mergeAt;
        fpLog.mergeAt = 1;
        try (MetaWriteTxn w = write()) {
            w.commit();
        } finally {
            fpLog.mergeAt = at;
        }
    }

    /** Sets when the fingerprint log merges into {@code fpindex} (tests; 1: at every commit). */
    void fpLogMergeAt(int n) {
        fpLog.mergeAt = Math.max(1, n);
    }

    /** What the last integrity check found: empty when the metadata is sound. */
    public MetaDamage damage() {
        return damage;
    }

    /** Figures of the last integrity check. */
    public LmdbVerifier.Report lastCheck() {
        return lastCheck;
    }

    /**
     * Checks the whole file again against one read snapshot (its pages cannot be reused while the
     * check runs, so writes may go on). Damage found is kept for every later lookup; returns it.
     */
    public MetaDamage verify() throws IOException {
        for (int attempt = 0; attempt < 5; attempt++) {
            LmdbVerifier.Report r;
            try (MetaTxn t = read()) {
                r = LmdbVerifier.check(dir.resolve("data.mdb"), t.txn.getId());
            }
            if (!r.stable()) {
                continue; // commits kept rewriting the meta pages while they were read
            }
            lastCheck = r;
            if (!r.damage().isEmpty() || damage.isEmpty()) {
                damage = r.damage();
            }
            return damage;
        }
        LOG.warn("metadata integrity check skipped: the meta pages kept changing under 5 attempts");
        return damage;
    }

    public Path dir() {
        return dir;
    }

    /** Current map size in bytes. */
    public long mapSize() {
        return mapSize;
    }

    /** Up to {@code max} chunk records with ids from {@code fromId} on, in id order, from one snapshot. */
    public List<ChunkRecord> chunkPage(long fromId, int max) throws IOException {
        List<ChunkRecord> page = new java.util.ArrayList<>(max);
        try (MetaTxn t = read()) {
            t.scanChunks(fromId, r -> {
                page.add(r);
                return page.size() < max;
            });
        }
        return page;
    }

    /** Opens a short read transaction (a reset one is renewed when available); close it promptly. */
    public MetaTxn read() {
        try {
            return readOnce();
        } catch (org.lmdbjava.LmdbNativeException.PanicException e) {
            // LMDB failed (a meta-page write): opened again read-only, if no other thread is at it
            if (reopenAfterPanic()) {
                return readOnce();
            }
            throw e;
        }
    }

    private MetaTxn readOnce() {
        mapLock.readLock().lock();
        try {
            Dbi<ByteBuffer> stagedBefore = staged;
            org.lmdbjava.Txn<ByteBuffer> t = idle.pollFirst();
            if (t != null) {
                try {
                    t.renew();
                } catch (RuntimeException e) {
                    t.close();
                    t = null;
                }
            }
            if (t == null) {
                t = env.txnRead();
            }
            MetaTxn m = new MetaTxn(this, t, true);
            m.stagedDb = stagedBefore;
            return m;
        } catch (RuntimeException e) {
            mapLock.readLock().unlock();
            throw e;
        }
    }

    /** Takes back a finished read transaction: reset (its snapshot released) and kept for reuse. */
    /**
     * The last step of a conversion: the pool counters say {@code version} (in the transaction that
     * drops the old table). {@code k} and {@code v} are scratch buffers.
     */
    private void setFormatVersion(org.lmdbjava.Txn<ByteBuffer> t, ByteBuffer k, ByteBuffer v, int version)
            throws MetaCorruptException {
        k.clear();
        k.put(MetaCodec.COUNTERS_KEY).flip();
        ByteBuffer cv = counters.get(t, k);
        if (cv != null) {
            cv = MetaCodec.be(cv);
            MetaCodec.check("pool counters", k, cv, MetaCodec.COUNTERS_VAL);
            PoolCounters pc = MetaCodec.counters(cv);
            MetaCodec.countersValue(k, v, new PoolCounters(version, pc.poolUuid(), pc.slotSize(), pc.nextChunkId(),
                    pc.nextContainerId(), pc.nextVolumeId(), pc.uniqueChunks(), pc.uniqueBytes(), pc.storedBytes()));
            counters.put(t, k, v);
        }
    }

    void release(org.lmdbjava.Txn<ByteBuffer> t) {
        try {
            t.reset();
            idle.offerFirst(t);
        } catch (RuntimeException e) {
            t.close();
        }
    }

    /** Opens the write transaction of one batch; committer thread only. */
    public MetaWriteTxn write() {
        // a null flag array: lmdbjava computes the mask of a non-null one with a stream per call
        Dbi<ByteBuffer> stagedBefore = staged;
        MetaWriteTxn m = new MetaWriteTxn(this, env.txn(null, (org.lmdbjava.TxnFlags[]) null));
        m.stagedDb = stagedBefore;
        return m;
    }

    /**
     * Doubles the map size (after MDB_MAP_FULL); waits for open read transactions to finish. LMDB
     * wants no transaction open in the process, so the read transaction pinning the last flushed
     * state is closed too, and the state synced and pinned again right after (the caller, the
     * committer between two commits, has forced the devices first, so that it is a flush).
     */
    public void grow() {
        mapLock.writeLock().lock();
        try {
            // under the complete lock throughout: a flush point completing later (its pin closed
            // here) finds the newer state saved by the sync below, or that it failed
            synchronized (completeLock) {
                synchronized (this) {
                    closePins();
                }
                long next = mapSize * 2;
                env.setMapSize(next);
                mapSize = next;
                LOG.info("metadata map grown to {} bytes", next);
                if (flushed != null) {
                    sync();
                }
            }
        } finally {
            mapLock.writeLock().unlock();
        }
    }

    /**
     * True when LMDB has marked the environment failed (MDB_PANIC: a write of its meta page, the
     * last step of a commit, failed): it then refuses every transaction, reads included.
     */
    public boolean panicked() {
        mapLock.readLock().lock();
        try (org.lmdbjava.Txn<ByteBuffer> t = env.txnRead()) {
            return false;
        } catch (org.lmdbjava.LmdbNativeException.PanicException e) {
            return true;
        } catch (RuntimeException e) {
            return false;
        } finally {
            mapLock.readLock().unlock();
        }
    }

    /**
     * After MDB_PANIC ({@link #panicked()}), so that reads go on without a restart: closes the
     * environment and opens it again <em>read-only</em> (MDB_RDONLY: nothing can be written to it
     * any more; the pool is read-only with the reason already). LMDB left the meta page of the
     * commit that failed unwritten (or wrote the older one back over it), so the environment opens
     * at the last commit that completed, which is the state the pool's memory describes (the failed
     * commit was rolled back). The file is checked first, as at open; when the check finds the meta
     * pages or the main database damaged, nothing is opened and reads keep failing until a restart.
     * Every later flush fails (a flush cannot vouch for anything after the failure). Committer
     * thread, between commits (no write transaction open); waits for open read transactions, as a
     * growth does. Returns true when the environment was opened again.
     */
    public boolean reopenAfterPanic() {
        // one attempt at a time; a reader that finds another thread at it fails its own read
        if (!reopenLock.tryLock()) {
            return false;
        }
        try {
            if (closed || !panicked()) {
                return false;
            }
            LmdbVerifier.Report check;
            try {
                check = LmdbVerifier.check(dir.resolve("data.mdb"), -1);
            } catch (IOException | RuntimeException e) {
                LOG.error("metadata in {}: LMDB failed and the file cannot be checked ({}); reads fail until a"
                        + " restart", dir, e.toString());
                return false;
            }
            if (check.damage().fatal() != null) {
                LOG.error("metadata in {}: LMDB failed and the file is damaged ({}); reads fail until a restart", dir,
                        check.damage().fatal());
                return false;
            }
            // bounded: a long read transaction opened before the failure (a scrub's, say) must not
            // hold every new reader queued behind this waiting writer; tried again by the next read
            try {
                if (!mapLock.writeLock().tryLock(2, java.util.concurrent.TimeUnit.SECONDS)) {
                    return false;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            try {
                synchronized (completeLock) {
                    synchronized (this) {
                        if (closed || env.isClosed()) {
                            return false;
                        }
                        return swapToReadOnly(check);
                    }
                }
            } finally {
                mapLock.writeLock().unlock();
            }
        } finally {
            reopenLock.unlock();
        }
    }

    /**
     * The swap of {@link #reopenAfterPanic()}, under every lock: the read-only environment and its
     * tables are opened first, and the fields replaced only once all of them are (so no field ever
     * names a closed environment but one that failed to open: {@link #env} then stays the closed
     * old one, which every call refuses).
     */
    private boolean swapToReadOnly(LmdbVerifier.Report check) {
        if (syncFailure == null) {
            syncFailure = new IllegalStateException("LMDB marked the metadata environment failed (a write of its"
                    + " meta page failed)");
        }
        org.lmdbjava.Txn<ByteBuffer> t;
        while ((t = idle.pollFirst()) != null) {
            t.close();
        }
        closePins();
        env.close();
        Env<ByteBuffer> ro = null;
        try {
            ro = Env.create().setMapSize(mapSize).setMaxDbs(16).setMaxReaders(1024)
                    .open(dir.toFile(), EnvFlags.MDB_RDONLY_ENV, EnvFlags.MDB_NOTLS);
            java.util.Set<String> names = new java.util.HashSet<>();
            for (byte[] n : ro.getDbiNames()) {
                names.add(new String(n, java.nio.charset.StandardCharsets.UTF_8));
            }
            Env<ByteBuffer> e = ro;
            java.util.function.Function<String, Dbi<ByteBuffer>> open = name -> names.contains(name)
                    ? e.openDbi(name) : null;
            Dbi<ByteBuffer> v = open.apply("volumes");
            Dbi<ByteBuffer> pg = open.apply(BLOCK_PAGES);
            Dbi<ByteBuffer> co = open.apply("counters");
            Dbi<ByteBuffer> ch = chunks != null ? open.apply(LEGACY_CHUNKS) : null;
            Dbi<ByteBuffer> gr = groups != null ? open.apply(CHUNK_GROUPS) : null;
            Dbi<ByteBuffer> fi = fpindex != null ? open.apply(FP_INDEX) : null;
            Dbi<ByteBuffer> ru = runs != null ? open.apply(FP_RUNS) : null;
            Dbi<ByteBuffer> cn = open.apply("containers");
            Dbi<ByteBuffer> rs = open.apply("reservations");
            Dbi<ByteBuffer> bl = blocks != null ? open.apply(LEGACY_BLOCKS) : null;
            Dbi<ByteBuffer> ix = index != null ? open.apply(LEGACY_INDEX) : null;
            Dbi<ByteBuffer> fl = fplog != null ? open.apply(FP_LOG) : null;
            Dbi<ByteBuffer> st = staged != null ? open.apply(STAGED) : null;
            if (v == null || pg == null || co == null || (ch == null) == (chunks != null) || (gr == null) == (groups != null)
                    || (fi == null) == (fpindex != null) || (ru == null) == (runs != null) || cn == null || rs == null) {
                throw new IllegalStateException("a table is missing");
            }
            env = ro;
            volumes = v;
            pages = pg;
            counters = co;
            chunks = ch;
            groups = gr;
            fpindex = fi;
            runs = ru;
            containers = cn;
            reservations = rs;
            blocks = bl;
            index = ix;
            fplog = fl;
            staged = st;
            damage = check.damage();
            lastCheck = check;
        } catch (RuntimeException e) {
            if (ro != null) {
                ro.close();
            }
            LOG.error("metadata in {}: opening it again after LMDB failed did not succeed ({}); reads fail until a"
                    + " restart", dir, e.toString());
            return false;
        }
        LOG.warn("metadata in {}: LMDB had failed; opened again read-only at the newest commit on disk: reads go"
                + " on, writes and flushes are refused until a restart", dir);
        return true;
    }

    /**
     * Closes the pins of pending flush points the saved state covers: their flushes succeed without
     * more work, and a point whose caller never completes it (interrupted while waiting) pins
     * nothing for long.
     */
    private void dropCovered() {
        for (java.util.Iterator<FlushPoint> it = pending.iterator(); it.hasNext(); ) {
            FlushPoint p = it.next();
            if (p.txn <= savedTxn) {
                p.pin.close();
                p.dropped = true;
                it.remove();
            }
        }
    }

    /** Drops {@code p} if it is still pending: for a flush that failed before {@link #complete}. */
    public synchronized void release(FlushPoint p) {
        if (!p.dropped) {
            pending.remove(p);
            p.pin.close();
            p.dropped = true;
        }
    }

    /** Flush points captured and not completed or dropped (tests: none may outlive its flush). */
    public synchronized int pendingFlushPoints() {
        return pending.size();
    }

    /** Closes the flushed state's pin and every pending point's (LMDB wants no transaction open to grow or close). */
    private void closePins() {
        if (flushedPin != null) {
            flushedPin.close();
            flushedPin = null;
        }
        dropPending();
    }

    /** Closes the pins of every pending flush point (LMDB wants no transaction open to grow or close). */
    private void dropPending() {
        for (FlushPoint p : pending) {
            p.pin.close();
            p.dropped = true;
        }
        pending.clear();
    }

    /**
     * A committed state captured for a flush ({@link #capture()}): a read transaction pinning its
     * pages and a copy of data.mdb's meta pages naming it. {@link #complete(FlushPoint)} makes it
     * durable and the state a power loss rolls back to.
     */
    public static final class FlushPoint {
        final org.lmdbjava.Txn<ByteBuffer> pin;
        final long txn;
        final byte[] metaPages;
        boolean dropped;

        private FlushPoint(org.lmdbjava.Txn<ByteBuffer> pin, long txn, byte[] metaPages) {
            this.pin = pin;
            this.txn = txn;
            this.metaPages = metaPages;
        }
    }

    /**
     * Pins the newest commit and copies its meta pages, for a flush completed later by {@link
     * #complete(FlushPoint)} on any thread while commits go on: the fsyncs no longer hold up the
     * committer. Committer thread, between commits (no write transaction open: the meta pages must
     * name the pinned transaction); reads only the page cache. Null when commits are durable
     * themselves ({@code durable_commits}): there is no flushed state to keep.
     */
    public synchronized FlushPoint capture() throws IOException {
        if (durable) {
            return null;
        }
        if (flushed == null) {
            throw new IOException("the metadata store is closed");
        }
        failIfSyncFailedIo();
        org.lmdbjava.Txn<ByteBuffer> pin = env.txnRead();
        try {
            long id = pin.getId();
            byte[] metaPages = readMetaPages(file, (int) pageSize);
            long newest = Math.max(FlushedMeta.txnId(metaPages, (int) pageSize, 0),
                    FlushedMeta.txnId(metaPages, (int) pageSize, 1));
            if (newest != id) {
                throw new IOException("the meta pages of data.mdb name transaction " + newest + ", not the pinned "
                        + id + " (a commit ran during the capture)");
            }
            FlushPoint p = new FlushPoint(pin, id, metaPages);
            pending.add(p);
            return p;
        } catch (IOException | RuntimeException e) {
            pin.close();
            throw e;
        }
    }

    /**
     * Makes {@code p} durable and the state a power loss rolls back to: syncs data.mdb (its pages
     * were written before the capture and are pinned since), saves its meta pages, and moves the
     * pin of the flushed state to it. The caller forces the devices first (after the capture: the
     * chunks of every commit up to it were written before it). A newer state saved meanwhile covers
     * {@code p} (its sync covered p's pages): {@code p} is then dropped. Any thread.
     */
    public void complete(FlushPoint p) throws IOException {
        synchronized (completeLock) {
            synchronized (this) {
                if (p.dropped) {
                    // dropped by a map growth or close: the growth saved a newer state, unless it failed
                    if (savedTxn >= p.txn) {
                        return;
                    }
                    throw new IOException("the flush was cut short: the metadata store grew or closed meanwhile");
                }
                if (savedTxn >= p.txn) {
                    pending.remove(p);
                    if (flushedPin == null && p.txn == savedTxn) {
                        flushedPin = p.pin; // a growth closed the pin of the saved state: p pins it again
                    } else {
                        p.pin.close();
                    }
                    p.dropped = true;
                    return;
                }
            }
            // p stays pinned meanwhile: only a growth or close drops it, and both take this lock
            try {
                syncLatched();
                flushed.save(dir.resolve("data.mdb"), file, p.txn, p.metaPages);
            } catch (IOException | RuntimeException e) {
                synchronized (this) {
                    pending.remove(p);
                    p.pin.close();
                    p.dropped = true;
                }
                throw e instanceof IOException io ? io
                        : new IOException("saving the flushed metadata state failed: " + e, e);
            }
            synchronized (this) {
                pending.remove(p);
                org.lmdbjava.Txn<ByteBuffer> old = flushedPin;
                flushedPin = p.pin;
                savedTxn = p.txn;
                if (old != null) {
                    old.close();
                }
                dropCovered();
            }
        }
    }

    private static byte[] readMetaPages(FileChannel file, int ps) throws IOException {
        byte[] metaPages = new byte[2 * ps];
        ByteBuffer b = ByteBuffer.wrap(metaPages);
        while (b.hasRemaining()) {
            if (file.read(b, b.position()) < 0) {
                throw new IOException("data.mdb is shorter than its two meta pages");
            }
        }
        return metaPages;
    }

    /** Bytes of {@code data.mdb} up to its last used page (as of the last commit). */
    private long usedEnd() {
        return (env.info().lastPageNumber + 1) * pageSize;
    }

    /** The reserve kept past {@code used} bytes: 1/16 of the metadata, at least {@link #MIN_RESERVE}. */
    static long reserveTarget(long used) {
        long t = Math.max(MIN_RESERVE, used / 16);
        return (t + ZERO_CHUNK - 1) / ZERO_CHUNK * ZERO_CHUNK;
    }

    /**
     * At open: a file written by an older build with MDB_WRITEMAP is as large as the map and sparse
     * past its used pages (holes reserve nothing), so it is cut back to its used pages and the
     * reserve written afresh. Pages past the last used one are never read by LMDB.
     */
    private void openReserve() throws IOException {
        long used = usedEnd();
        try {
            if (file.size() > used + reserveTarget(used)) {
                file.truncate(used);
            }
        } catch (IOException e) {
            close();
            throw e;
        }
        lastTopUpFailure = System.nanoTime() - 2_000_000_000L;
        lastLook = lastTopUpFailure;
        keepReserve();
    }

    /**
     * Keeps {@code data.mdb} allocated {@link #reserveTarget(long)} bytes past its last used page:
     * called after every commit, on the committer thread (the only LMDB writer, so nothing else
     * extends the file meanwhile). When the file system cannot give the space (retried at most once
     * a second) and less than half the target is left, {@link #lowSpace()} turns true; it turns
     * false again once the reserve is back.
     */
    public void keepReserve() {
        long now = System.nanoTime();
        if (!lowSpace && now - lastLook < 50_000_000L) {
            // at most 20 looks a second: the reserve (>= 16 MiB) outlasts the commits in between,
            // and one that finds no space anyway fails cleanly (ENOSPC) and marks the store low
            return;
        }
        lastLook = now;
        long used;
        long size;
        try {
            used = usedEnd();
            size = file.size();
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot check the metadata reserve: {}", e.toString());
            return;
        }
        long target = reserveTarget(used);
        if (size - used >= target / 2 && !lowSpace) {
            return;
        }
        if (size - used < target && now - lastTopUpFailure >= 1_000_000_000L) {
            try {
                ByteBuffer zeros = ByteBuffer.allocate(ZERO_CHUNK);
                long pos = size;
                while (pos < used + target) {
                    zeros.clear().limit((int) Math.min(ZERO_CHUNK, used + target - pos));
                    pos += file.write(zeros, pos);
                }
            } catch (IOException e) {
                lastTopUpFailure = now;
                if (!io.orion.dedup.blockdev.OutOfSpaceException.isNoSpace(e)) {
                    LOG.warn("cannot extend the metadata reserve in {}: {}", dir, e.toString());
                }
            }
        }
        long have;
        try {
            long tail = file.size() - used;
            tailShort = tail < target / 2;
            // room left: the allocated tail plus the pages LMDB has freed (reused before the file grows;
            // those the flushed state pins only after the next flush, see flushWouldFreeSpace)
            have = tail + freePages() * pageSize;
        } catch (IOException | RuntimeException e) {
            have = 0;
        }
        boolean low = have < target / 2;
        if (low != lowSpace) {
            lowSpace = low;
            if (low) {
                LOG.error("metadata file system of {} is full: {} bytes of reserve left (target {}); writes that need"
                        + " new space are refused until space is freed (UNMAP, cleanup, deleting LUNs)", dir, have,
                        target);
            } else {
                LOG.info("metadata reserve in {} restored ({} bytes); writes accepted again", dir, have);
            }
        }
    }

    /**
     * Pages of {@code data.mdb} below its last used page that no database holds: LMDB's free list
     * (slightly over-counted by the free list's own few pages).
     */
    private long freePages() {
        long inUse = 2; // the two meta pages
        org.lmdbjava.Stat main = env.stat();
        inUse += main.branchPages + main.leafPages + main.overflowPages;
        try (org.lmdbjava.Txn<ByteBuffer> t = env.txnRead()) {
            List<Dbi<ByteBuffer>> all = new java.util.ArrayList<>(List.of(volumes, pages, containers, counters,
                    reservations));
            if (fpindex != null) {
                all.add(fpindex);
            }
            if (runs != null) {
                all.add(runs);
            }
            if (chunks != null) {
                all.add(chunks);
            }
            if (groups != null) {
                all.add(groups);
            }
            if (fplog != null) {
                all.add(fplog);
            }
            Dbi<ByteBuffer> old = blocks;
            if (old != null) {
                all.add(old);
            }
            Dbi<ByteBuffer> stagedDb = staged;
            if (stagedDb != null) {
                all.add(stagedDb);
            }
            Dbi<ByteBuffer> oldIndex = index;
            if (oldIndex != null) {
                all.add(oldIndex);
            }
            for (Dbi<ByteBuffer> d : all) {
                org.lmdbjava.Stat st = d.stat(t);
                inUse += st.branchPages + st.leafPages + st.overflowPages;
            }
        }
        return Math.max(0, env.info().lastPageNumber + 1 - inUse);
    }

    /**
     * True when the metadata file system is full and the reserve is below half its target: only
     * changes that free space (or need none) should be committed.
     */
    public boolean lowSpace() {
        return lowSpace;
    }

    /**
     * True when a flush may give the next commits room they would otherwise not find: the file
     * system cannot extend {@code data.mdb}'s reserve, and the read transaction pinning the last
     * flushed state ({@link #sync()}) keeps every page freed since from reuse. The committer then
     * flushes after each batch, and once more before it gives up on a commit that found no space.
     */
    public synchronized boolean flushWouldFreeSpace() {
        return flushedPin != null && tailShort;
    }

    /** True when a read transaction pins the last flushed state (pages freed since wait for a flush). */
    public synchronized boolean pinsFlushedState() {
        return flushedPin != null;
    }

    /** The error for work that needs new space while {@link #lowSpace()} (answered 07/27/07). */
    public io.orion.dedup.blockdev.OutOfSpaceException noSpaceError() {
        return new io.orion.dedup.blockdev.OutOfSpaceException("metadata file system of " + dir
                + " is full (its reserve is kept for freeing space)");
    }

    /** Notes that a commit failed for want of space (ENOSPC): low until a top-up succeeds. */
    public void markLowSpace() {
        if (!lowSpace) {
            lowSpace = true;
            lastTopUpFailure = System.nanoTime();
            LOG.error("metadata commit in {} failed: no space left on its file system; writes that need new"
                    + " space are refused until space is freed", dir);
        }
    }

    /**
     * True for an LMDB failure that means the file system is full: ENOSPC or EDQUOT, or EIO while
     * the file system has less free space than the reserve target (LMDB reports a short
     * {@code pwrite}, which is how a nearly full file system answers, as EIO).
     */
    public boolean isNoSpace(RuntimeException e) {
        if (!(e instanceof org.lmdbjava.LmdbNativeException n)) {
            return false;
        }
        int rc = n.getResultCode();
        if (rc == 28 || rc == 122) {
            return true;
        }
        if (rc == 5) {
            try {
                return Files.getFileStore(dir).getUsableSpace() < MIN_RESERVE;
            } catch (IOException io) {
                return false;
            }
        }
        return false;
    }

    /**
     * Opens {@code flushed.meta}; on a full file system, takes the room it needs from the zeros of
     * {@code data.mdb}'s reserve (past its last used page; topped up again once there is space).
     */
    private static FlushedMeta openFlushed(Path dir, FileChannel file, int ps, long used) throws IOException {
        try {
            return FlushedMeta.open(dir, ps);
        } catch (IOException e) {
            long size = file.size();
            if (size - (1L << 20) < used) {
                throw e;
            }
            LOG.warn("{}: no room for {} ({}); taking 1 MiB of the metadata reserve", dir, FlushedMeta.FILE,
                    e.toString());
            // pages past the last used one are never read by LMDB (see "Space" above)
            file.truncate(size - (1L << 20));
            return FlushedMeta.open(dir, ps);
        }
    }

    /**
     * Copies the environment into the empty directory {@code dir} as {@code data.mdb}, compacted (free
     * pages left out, pages renumbered), from one read snapshot ({@code mdb_env_copy2} with
     * {@code MDB_CP_COMPACT}): commits go on meanwhile and are not in the copy. The map is not grown
     * during the copy (a commit that needs a larger map waits for it).
     */
    public void copyCompacted(Path dir) {
        mapLock.readLock().lock();
        try {
            if (env.isClosed()) {
                // lmdbjava's copy does not check: it would use a freed environment
                throw new IllegalStateException("the metadata environment of " + this.dir + " is closed");
            }
            env.copy(dir.toFile(), org.lmdbjava.CopyFlags.MDB_CP_COMPACT);
        } finally {
            mapLock.readLock().unlock();
        }
    }

    /**
     * Forces every committed transaction to disk. Without durable commits, the synced state then
     * becomes the one a power loss rolls back to ({@link FlushedMeta}): its meta pages are saved and
     * a read transaction pins its pages. Called by the committer between commits (no write
     * transaction runs meanwhile); the caller forces the chunk data to the devices first.
     */
    public void sync() {
        synchronized (completeLock) {
            if (durable) {
                syncLatched();
                return;
            }
            // the pin and the meta pages under the monitor (a staging table's own write transaction
            // takes it too), the fsync and the save outside it
            try {
                complete(capture());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    /**
     * Once a sync failed, every later one fails with it: after a failed fdatasync the kernel may
     * have dropped the pages of {@code data.mdb} it could not write and the next one reports
     * success, so no later flush may vouch for the commits the failed one covered (until the
     * store is opened again, at a restart).
     */
    /** {@code fdatasync} of data.mdb, failing as the first failed one did once one failed. */
    private void syncLatched() {
        failIfSyncFailed();
        try {
            env.sync(true);
        } catch (RuntimeException e) {
            syncFailure = e;
            throw e;
        }
    }

    private void failIfSyncFailedIo() throws IOException {
        try {
            failIfSyncFailed();
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private void failIfSyncFailed() {
        RuntimeException failed = syncFailure;
        if (failed != null) {
            throw new java.io.UncheckedIOException(new IOException("an earlier sync of " + dir.resolve("data.mdb")
                    + " failed (" + failed.getMessage() + "): no later flush can make up for it until a restart",
                    failed));
        }
    }

    /**
     * Pins the newest committed state with a read transaction, syncs {@code data.mdb}, and saves its
     * meta pages in {@code flushed}; returns the pin. No write transaction may run meanwhile (the
     * committer's flush, or the open): a meta page that does not name the pinned transaction fails
     * the flush rather than leave a power loss to roll back to an older state than the caller
     * believes durable.
     */
    private static org.lmdbjava.Txn<ByteBuffer> pinAndSave(Env<ByteBuffer> env, FileChannel file, Path dir,
            FlushedMeta flushed, int ps) {
        org.lmdbjava.Txn<ByteBuffer> pin = env.txnRead();
        try {
            long id = pin.getId();
            env.sync(true);
            byte[] metaPages = readMetaPages(file, ps);
            long newest = Math.max(FlushedMeta.txnId(metaPages, ps, 0), FlushedMeta.txnId(metaPages, ps, 1));
            if (newest != id) {
                throw new IOException("the meta pages of data.mdb name transaction " + newest + ", not the synced "
                        + id);
            }
            flushed.save(dir.resolve("data.mdb"), file, id, metaPages);
            return pin;
        } catch (IOException | RuntimeException e) {
            pin.close();
            throw new java.io.UncheckedIOException("saving the flushed metadata state failed: " + e.getMessage(),
                    e instanceof IOException io ? io : new IOException(e));
        }
    }

    /**
     * Bytes of the metadata file in use (up to its last used page; the file itself is larger by the
     * reserve, see "Space" above).
     */
    public long fileSize() throws IOException {
        mapLock.readLock().lock();
        try {
            return (env.info().lastPageNumber + 1) * (long) env.stat().pageSize;
        } finally {
            mapLock.readLock().unlock();
        }
    }

    /**
     * {@link #close()} at a clean stop: the caller has flushed and nothing commits any more. The
     * file is synced, closed and sealed ({@link CleanSeal}) so that the next open need not read
     * every page; a store that found damage, failed a sync or turned read-only is closed unsealed
     * (the next open checks it in full).
     */
    public void closeClean() {
        long txn = -1;
        int ps = 0;
        mapLock.writeLock().lock();
        try {
            if (!closed && !env.isClosed() && damage.isEmpty() && syncFailure == null && !panicked()) {
                try {
                    env.sync(true);
                    txn = env.info().lastTransactionId;
                    ps = env.stat().pageSize;
                } catch (RuntimeException e) {
                    LOG.warn("metadata in {}: final sync failed ({}); closed unsealed", dir, e.toString());
                    txn = -1;
                }
            }
            close();
        } finally {
            mapLock.writeLock().unlock();
        }
        if (txn >= 0) {
            try {
                CleanSeal.write(dir, ps, txn);
            } catch (IOException | RuntimeException e) {
                LOG.warn("metadata in {}: not sealed ({}); the next open checks every page", dir, e.toString());
                try {
                    CleanSeal.remove(dir);
                } catch (IOException ignored) {
                    // no seal or a stale one: a stale seal no longer matches the file
                }
            }
        }
    }

    @Override
    public void close() {
        mapLock.writeLock().lock();
        try {
            closed = true;
            org.lmdbjava.Txn<ByteBuffer> t;
            while ((t = idle.pollFirst()) != null) {
                t.close();
            }
            synchronized (completeLock) {
                synchronized (this) {
                    closePins();
                    if (flushed != null) {
                        flushed.close();
                        flushed = null;
                    }
                }
            }
            if (!env.isClosed()) {
                env.close();
            }
            try {
                file.close();
            } catch (IOException e) {
                LOG.warn("closing {}: {}", dir, e.toString());
            }
        } finally {
            mapLock.writeLock().unlock();
        }
    }
}
