package io.orion.dedup.dedup;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaCorruptException;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import io.orion.dedup.blockdev.DeviceWaits;
import io.orion.dedup.blockdev.IoBatch;
import io.orion.dedup.blockdev.LbaStatus;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * A thin, deduplicating volume (LUN) of a {@link DedupPool}, implementing the {@link BlockDevice}
 * contract (SBC-4 block commands map onto it one to one).
 *
 * <p>Geometry: logical blocks of 512 or 4096 bytes; the volume is deduplicated in dedup blocks of
 * 4..64 KiB. A write that covers a dedup block only partly is a read-modify-write of that block.
 *
 * <p>Write path, per call: lock the stripes of the touched dedup blocks; merge partial blocks;
 * detect zero blocks (never hashed, never stored); fingerprint the rest in parallel (SHA-256);
 * resolve each fingerprint through the in-flight claims (concurrent identical writes are
 * coalesced), the fingerprint cache and the LMDB index; compress and append the truly new chunks
 * (one positional write for the whole call when they fit one container); hand the block-map
 * changes to the committer (one LMDB transaction for everything queued) and wait; unlock. With
 * {@code fua} the pool is flushed before returning (SBC-4 §5.40 FUA).
 *
 * <p>Read path: one short LMDB read transaction maps the blocks to chunks; cached chunks come from
 * the block cache; the rest are read (adjacent records with one read), CRC-checked and
 * decompressed. A failed check is {@link ChecksumMismatchException} (MEDIUM ERROR), never wrong data.
 *
 * <p>Threads: every method may be called concurrently. {@link #compareAndWrite} holds the block
 * locks from its compare through its commit, so it is atomic against every other mutation.
 */
public final class DedupVolume implements BlockDevice {
    private static final int PIECE = 1024;
    /** Reads of at most this many dedup blocks put uncompressed chunks into the block cache. */
    private static final int CACHED_READ_BLOCKS = 4;
    private static final byte[] ZEROS = new byte[64 * 1024];

    private final DedupPool pool;
    private final ChunkIo chunkIo;
    private final DedupIndex dedupIndex;
    private final VolumeState st;
    /**
     * Bumped after every block-map change of this volume commits; a remembered status extent is
     * valid only while the generation it was computed under is current.
     */
    private final AtomicLong mapGeneration = new AtomicLong();
    /**
     * The last extents GET LBA STATUS walked, newest first, disjoint, at most
     * {@link #REMEMBERED_EXTENTS}: let the initiator's burst of queries share one walk. More than
     * one, because one query asks about a mapped run and the unmapped one after it (a single
     * remembered extent made every query walk the whole mapped run again).
     */
    private volatile StatusExtent[] extents = new StatusExtent[0];
    private static final int REMEMBERED_EXTENTS = 8;
    private final Object statusWalk = new Object();
    /** Tests only: block-map entries the status walks visited (guarded by {@code statusWalk}). */
    long statusEntriesWalked;

    /** A run of dedup blocks {@code [start, end)} that are all mapped or all unmapped. */
    private record StatusExtent(long generation, long start, long end, boolean mapped) {
    }

    DedupVolume(DedupPool pool, VolumeState st) {
        this.pool = pool;
        this.chunkIo = pool.chunks();
        this.dedupIndex = pool.index();
        this.st = st;
    }

    VolumeState state() {
        return st;
    }

    /** The volume's name in its pool. */
    public String name() {
        return st.name;
    }

    /** Dedup block size in bytes. */
    public int dedupBlockSize() {
        return st.dedupBlockSize;
    }

    /** The pool this volume belongs to. */
    public DedupPool pool() {
        return pool;
    }

    @Override
    public int blockSize() {
        return st.logicalBlockSize;
    }

    @Override
    public long blockCount() {
        return st.capacityBytes / st.logicalBlockSize;
    }

    @Override
    public boolean thin() {
        return true;
    }

    /** Atomic: a write holds its blocks' locks and installs its block-map changes in one transaction. */
    @Override
    public boolean atomicWrites() {
        return true;
    }

    /** The dedup block, the unit the volume stores: hosts that align to it avoid read-modify-write. */
    @Override
    public int physicalBlockSize() {
        return Math.max(st.dedupBlockSize, st.logicalBlockSize);
    }

    /** The pool's space: shared by every volume of the pool. */
    @Override
    public io.orion.dedup.blockdev.Provisioning provisioning() throws IOException {
        return pool.space();
    }

    @Override
    public String uuid() {
        return st.uuid.toString();
    }

    private void checkOpen() throws IOException {
        if (st.deleted) {
            throw new IOException("volume '" + st.name + "' was deleted");
        }
        if (pool.isClosed()) {
            throw new IOException("pool is closed");
        }
    }

    private void checkWritable() throws IOException {
        checkOpen();
        if (st.readOnly) {
            throw new io.orion.dedup.blockdev.ReadOnlyVolumeException("volume '" + st.name + "' is a read-only snapshot");
        }
        pool.checkWritable();
    }

    /** True for a snapshot (a read-only clone): every write is refused. */
    public boolean readOnly() {
        return st.readOnly;
    }

    /** The volume this one was cloned or snapshotted from, or null. */
    public String origin() {
        return st.origin;
    }

    /** When it was cloned (epoch milliseconds), 0 without an origin. */
    public long originMillis() {
        return st.originMillis;
    }

    /** Its block map was replaced as a whole (rollback): remembered extents are stale. */
    void mapChanged() {
        mapGeneration.incrementAndGet();
        extents = new StatusExtent[0];
    }

    // ---- read ------------------------------------------------------------------------------------

    @Override
    public void read(long lba, ByteBuffer dst) throws IOException {
        checkOpen();
        if (dst.remaining() == 0) {
            return;
        }
        readBytes(lba * st.logicalBlockSize, dst);
    }

    private void readBytes(long off, ByteBuffer dst) throws IOException {
        int len = dst.remaining();
        int dbs = st.dedupBlockSize;
        long first = off / dbs;
        long last = (off + len - 1) / dbs;
        ByteBuffer[] data = loadDblocks(first, (int) (last - first + 1));
        long pos = off;
        long end = off + len;
        for (int i = 0; pos < end; i++) {
            long blockStart = (first + i) * dbs;
            int from = (int) (pos - blockStart);
            int n = (int) Math.min(dbs - from, end - pos);
            if (data[i] == null) {
                putZeros(dst, n);
            } else {
                dst.put(dst.position(), data[i], from, n);
                dst.position(dst.position() + n);
            }
            pos += n;
        }
    }

    private static void putZeros(ByteBuffer dst, int n) {
        while (n > 0) {
            int k = Math.min(n, ZEROS.length);
            dst.put(ZEROS, 0, k);
            n -= k;
        }
    }

    /** Contents of dedup blocks {@code [first, first + n)}; null entries read as zeros. */
    private ByteBuffer[] loadDblocks(long first, int n) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                return loadDblocksOnce(first, n);
            } catch (ChunkIo.StaleMapping e) {
                if (attempt >= 4) {
                    throw new IOException("blocks kept changing under a read: " + e.getMessage());
                }
            }
        }
    }

    private ByteBuffer[] loadDblocksOnce(long first, int n) throws IOException {
        long[] refs = new long[n];
        Arrays.fill(refs, MetaTxn.ABSENT);
        ChunkRecord[] recs = new ChunkRecord[n];
        ByteBuffer[] out = new ByteBuffer[n];
        boolean any = false;
        try (MetaTxn t = pool.meta().read()) {
            if (n == 1) {
                refs[0] = t.block(st.id, first);
            } else {
                t.scanBlocks(st.id, first, first + n, (db, c) -> {
                    refs[(int) (db - first)] = c;
                    return true;
                });
            }
            long[] wanted = new long[n]; // the chunks not in the block cache, looked up in one pass
            for (int i = 0; i < n; i++) {
                if (refs[i] > 0) {
                    byte[] hit = chunkIo.blockCache().get(refs[i]);
                    if (hit != null) {
                        out[i] = ByteBuffer.wrap(hit).asReadOnlyBuffer();
                        continue;
                    }
                    wanted[i] = refs[i];
                    any = true;
                }
            }
            if (any) {
                t.chunks(wanted, recs);
                for (int i = 0; i < n; i++) {
                    if (wanted[i] > 0 && recs[i] == null) {
                        throw new MetaCorruptException("block " + (first + i) + " of volume '" + st.name
                                + "' references chunk " + refs[i] + " which does not exist");
                    }
                }
            }
        } catch (MetaCorruptException e) {
            pool.untrust(e.getMessage());
            chunkIo.countChecksumError();
            throw new ChecksumMismatchException("metadata damaged: " + e.getMessage());
        }
        if (any) {
            ByteBuffer[] loaded = chunkIo.load(recs, n <= CACHED_READ_BLOCKS);
            for (int i = 0; i < n; i++) {
                if (recs[i] != null) {
                    out[i] = loaded[i];
                }
            }
        }
        return out;
    }

    // ---- write -----------------------------------------------------------------------------------

    @Override
    public void write(long lba, ByteBuffer src, boolean fua) throws IOException {
        write(lba, src, fua, null);
    }

    /** {@link #write(long, ByteBuffer, boolean)} in {@code scope} (null: none; see {@link #writeAsync}). */
    private void write(long lba, ByteBuffer src, boolean fua, IoBatch.Scope scope) throws IOException {
        checkWritable();
        int len = src.remaining();
        if (len > 0) {
            long off = lba * st.logicalBlockSize;
            try (StripedLocks.Held h = lockBytes(off, off + len, scope)) {
                writeLocked(off, src);
            }
        }
        if (fua) {
            pool.flush();
        }
    }

    /**
     * Asynchronous {@link #write}: the block locks are taken and the data hashed and stored on this
     * thread; the block-map commit goes to the group committer without waiting for it (in {@code
     * scope}, at the scope's end: one commit for the burst), and the future completes (and the locks
     * are released) on the thread that committed the batch. A write-through (FUA) write is
     * synchronous. In an inline scope (a transport thread) a write whose block locks are held by a
     * write of another thread does not wait for them: it goes to the scope's I/O executor.
     */
    @Override
    public CompletableFuture<Void> writeAsync(long lba, ByteBuffer src, boolean fua, IoBatch.Scope scope) {
        if (fua) {
            try {
                write(lba, src, true, scope);
                return CompletableFuture.completedFuture(null);
            } catch (IOException | RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            checkWritable();
            int len = src.remaining();
            if (len == 0) {
                return CompletableFuture.completedFuture(null);
            }
            long off = lba * st.logicalBlockSize;
            StripedLocks.Held h;
            if (scope != null && scope.inline()) {
                h = tryLockBytes(off, off + len, scope);
                if (h == null) {
                    scope.handOff(s -> writeAsync(lba, src, false, s).whenComplete((v, e) -> {
                        if (e == null) {
                            done.complete(null);
                        } else {
                            done.completeExceptionally(e);
                        }
                    }));
                    return done;
                }
            } else {
                h = lockBytes(off, off + len, scope);
            }
            List<BlockOp> ops;
            try {
                ops = prepareLocked(off, src);
            } catch (IOException | RuntimeException e) {
                h.close();
                throw e;
            }
            pool.committer().commitOpsAsync(ops, failure -> {
                mapGeneration.incrementAndGet();
                h.close();
                if (failure == null) {
                    done.complete(null);
                } else {
                    done.completeExceptionally(failure);
                }
            }, scope);
        } catch (IOException | RuntimeException e) {
            done.completeExceptionally(e);
        }
        return done;
    }

    /**
     * A write that cannot wait, which a transport may run on its own thread (it serves other
     * connections, other LUNs' reads among them): whole dedup blocks (a partial block is read first,
     * which may wait for the medium), {@code verify} off (it compares stored bytes), commits that do
     * not sync, and no device slow (one of its reads or writes took 200 ms or more in the last 30 s,
     * or a device operation has been waiting that long now: the write's appends may wait for it). A
     * block lock held by another write is found only when the write runs: it then goes to an I/O
     * thread ({@link #writeAsync}).
     */
    @Override
    public boolean quickWrite(long lba, long bytes) {
        long off = lba * st.logicalBlockSize;
        int dbs = st.dedupBlockSize;
        return off % dbs == 0 && bytes % dbs == 0 && !pool.options().verify() && !pool.options().durableCommits()
                && !DeviceWaits.slowNow() && !pool.store().anyDeviceSlowLately();
    }

    /** Locks the dedup blocks that byte range {@code [from, to)} of this volume touches. */
    private StripedLocks.Held lockBytes(long from, long to) {
        return lockBytes(from, to, null);
    }

    /** {@link #lockBytes(long, long)} for a writer running in {@code scope} (null: none). */
    private StripedLocks.Held lockBytes(long from, long to, IoBatch.Scope scope) {
        int dbs = st.dedupBlockSize;
        return pool.locks().lock(st.id, from / dbs, (to - 1) / dbs, scope);
    }

    /**
     * The locks of byte range {@code [from, to)} without waiting, or null: for a write in an inline
     * scope. A lock held by an earlier write of the same burst is freed by committing the scope's
     * deferred work first; only a lock held by another thread's write leaves null.
     */
    private StripedLocks.Held tryLockBytes(long from, long to, IoBatch.Scope scope) {
        int dbs = st.dedupBlockSize;
        StripedLocks.Held h = pool.locks().tryLock(st.id, from / dbs, (to - 1) / dbs);
        if (h == null) {
            scope.runDeferred();
            h = pool.locks().tryLock(st.id, from / dbs, (to - 1) / dbs);
        }
        return h;
    }

    /** Writes {@code src} at byte offset {@code off}; the caller holds the block locks. */
    private void writeLocked(long off, ByteBuffer src) throws IOException {
        commitMapOps(prepareLocked(off, src));
    }

    /**
     * Hashes and stores what writing {@code src} at byte offset {@code off} needs and returns the
     * block-map operations that install it; the caller holds the block locks and commits them.
     */
    private List<BlockOp> prepareLocked(long off, ByteBuffer src) throws IOException {
        int len = src.remaining();
        int dbs = st.dedupBlockSize;
        long first = off / dbs;
        long last = (off + len - 1) / dbs;
        int n = (int) (last - first + 1);
        long end = off + len;
        boolean headPartial = off % dbs != 0 || end < (first + 1) * dbs;
        boolean tailPartial = end % dbs != 0;
        byte[] head = headPartial ? copy(loadDblocks(first, 1)[0]) : null;
        byte[] tail = tailPartial && (last != first || !headPartial) ? copy(loadDblocks(last, 1)[0]) : null;
        ByteBuffer[] contents = new ByteBuffer[n];
        int srcBase = src.position();
        for (int i = 0; i < n; i++) {
            long bs = (first + i) * dbs;
            boolean partial = (i == 0 && headPartial) || (i == n - 1 && tailPartial);
            if (!partial) {
                contents[i] = src.slice(srcBase + (int) (bs - off), dbs);
                continue;
            }
            byte[] old = i == 0 && headPartial ? head : tail;
            byte[] merged = old == null ? new byte[dbs] : old;
            long from = Math.max(bs, off);
            long to = Math.min(bs + dbs, end);
            src.duplicate().position(srcBase + (int) (from - off)).get(merged, (int) (from - bs), (int) (to - from));
            contents[i] = ByteBuffer.wrap(merged);
        }
        List<BlockOp> ops = prepareContents(first, contents);
        src.position(src.limit());
        return ops;
    }

    private static byte[] copy(ByteBuffer view) {
        if (view == null) {
            return null;
        }
        byte[] b = new byte[view.remaining()];
        view.duplicate().get(b);
        return b;
    }

    /** Stores whole dedup blocks {@code [first, first + contents.length)}; the caller holds the locks. */
    private void writeContents(long first, ByteBuffer[] contents) throws IOException {
        commitMapOps(prepareContents(first, contents));
    }

    /**
     * Hashes whole dedup blocks {@code [first, first + contents.length)}, stores the chunks this
     * write claims, waits for chunks other writes are storing, and returns the block-map operations;
     * the caller holds the locks and commits the operations.
     */
    private List<BlockOp> prepareContents(long first, ByteBuffer[] contents) throws IOException {
        int n = contents.length;
        boolean[] zero = new boolean[n];
        for (int i = 0; i < n; i++) {
            zero[i] = i > 0 && contents[i] == contents[i - 1] ? zero[i - 1] : ZeroBlocks.isZero(contents[i]);
        }
        if (st.dedupMode != DedupMode.INLINE) {
            return prepareUnshared(first, contents, zero);
        }
        Fingerprint[] fps = new Fingerprint[n];
        pool.hasher().hashAll(contents, zero, fps);
        List<BlockOp> ops = new ArrayList<>(n);
        Set<PendingChunk> owned = Collections.newSetFromMap(new IdentityHashMap<>());
        List<PendingChunk> ownedList = new ArrayList<>();
        List<ByteBuffer> ownedData = new ArrayList<>();
        List<PendingChunk> waitFor = new ArrayList<>();
        boolean verify = pool.options().verify();
        DedupIndex.Lookup lookup = dedupIndex.lookup();
        try {
            for (int i = 0; i < n; i++) {
                long db = first + i;
                if (zero[i]) {
                    ops.add(BlockOp.zero(st.id, db));
                    continue;
                }
                Fingerprint fp = fps[i];
                PendingChunk p = dedupIndex.inflight(fp);
                if (p != null) {
                    ops.add(BlockOp.pending(st.id, db, p, contents[i]));
                    if (!owned.contains(p)) {
                        waitFor.add(p);
                    }
                    continue;
                }
                Long id = lookup.find(fp);
                boolean found = id != null;
                long heal = 0;
                if (id != null && chunkIo.isDamaged(id)) {
                    // its record is damaged: never shared. Without verify this write stores the
                    // content again and heals the chunk; with verify (which never shares on the
                    // fingerprint alone, and cannot compare a damaged record) it gets a chunk of its own
                    heal = verify ? 0 : id;
                    id = null;
                }
                if (id != null && (!verify || verifyShared(lookup, id, contents[i]))) {
                    ops.add(BlockOp.existing(st.id, db, id, fp, contents[i]));
                    continue;
                }
                PendingChunk mine = heal > 0 ? new PendingChunk(fp, heal, true) : new PendingChunk(fp, pool.newChunkId());
                PendingChunk winner = dedupIndex.claim(mine);
                if (winner == mine && !found) {
                    // A write of this content may have committed between the lookups above and
                    // the claim; it published its chunk to the fingerprint cache before dropping
                    // its claim, so one more look closes the gap. Writers that found this claim
                    // meanwhile resolve to the same chunk through it.
                    Long again = dedupIndex.cached(fp);
                    if (again != null && !chunkIo.isDamaged(again) && (!verify || verifyShared(lookup, again, contents[i]))) {
                        mine.committedId = again;
                        mine.written.complete(null);
                        dedupIndex.settle(mine);
                        ops.add(BlockOp.existing(st.id, db, again, fp, contents[i]));
                        continue;
                    }
                }
                ops.add(BlockOp.pending(st.id, db, winner, contents[i]));
                if (winner == mine) {
                    owned.add(mine);
                    ownedList.add(mine);
                    ownedData.add(contents[i]);
                } else if (!owned.contains(winner)) {
                    waitFor.add(winner);
                }
            }
        } catch (MetaCorruptException e) {
            ownedList.forEach(dedupIndex::abandon);
            pool.untrust(e.getMessage());
            throw new io.orion.dedup.blockdev.ReadOnlyVolumeException("pool is read-only: " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            ownedList.forEach(dedupIndex::abandon);
            throw e;
        } finally {
            lookup.close();
        }
        try {
            if (!ownedList.isEmpty()) {
                chunkIo.append(ownedList, ownedData);
            }
            for (PendingChunk w : waitFor) {
                w.written.get();
            }
        } catch (IOException | RuntimeException e) {
            ownedList.forEach(p -> dedupIndex.abandon(p, e));
            throw e;
        } catch (InterruptedException e) {
            ownedList.forEach(dedupIndex::abandon);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for a coalesced write");
        } catch (ExecutionException e) {
            ownedList.forEach(p -> dedupIndex.abandon(p, e.getCause()));
            if (e.getCause() instanceof io.orion.dedup.blockdev.OutOfSpaceException oos) {
                // the write storing this data found no space: so does this one (07/27/07, not 03/0C/00)
                throw new io.orion.dedup.blockdev.OutOfSpaceException("a concurrent write of the same data found no space: "
                        + oos.getMessage(), oos);
            }
            throw new IOException("a concurrent write of the same data failed", e.getCause());
        }
        return ops;
    }

    /**
     * The write path of a post-process or no-dedup volume: every non-zero block becomes a chunk of
     * its own, with no hashing, fingerprint cache, index lookup or in-flight claim (its record and
     * chunk carry {@link Fingerprint#UNHASHED}); the committer stages the blocks of a post-process
     * volume for the next pass ({@link PostProcessor}), which hashes them.
     */
    private List<BlockOp> prepareUnshared(long first, ByteBuffer[] contents, boolean[] zero) throws IOException {
        int n = contents.length;
        boolean post = st.dedupMode == DedupMode.POST; // decided once: the mode may change meanwhile
        if (post) {
            pool.meta().ensureStaged(); // the first post-process write of the pool creates the table
        }
        List<BlockOp> ops = new ArrayList<>(n);
        List<PendingChunk> mine = new ArrayList<>();
        List<ByteBuffer> data = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (zero[i]) {
                ops.add(BlockOp.zero(st.id, first + i));
                continue;
            }
            // not hashed here: the record says so (FLAG_UNHASHED) and the pass computes the SHA-256
            PendingChunk p = new PendingChunk(Fingerprint.UNHASHED, pool.newChunkId());
            ops.add(BlockOp.staged(st.id, first + i, p, contents[i], post));
            mine.add(p);
            data.add(contents[i]);
        }
        if (!mine.isEmpty()) {
            try {
                chunkIo.append(mine, data);
            } catch (IOException | RuntimeException e) {
                mine.forEach(p -> dedupIndex.abandon(p, e));
                throw e;
            }
        }
        return ops;
    }

    /** Commits block-map operations of this volume, then invalidates remembered status extents. */
    private void commitMapOps(List<BlockOp> ops) throws IOException {
        try {
            pool.committer().commitOps(ops);
        } finally {
            mapGeneration.incrementAndGet();
        }
    }

    private boolean verifyShared(DedupIndex.Lookup lookup, long id, ByteBuffer content) throws IOException {
        ChunkRecord r = lookup.txn().chunk(id);
        return r != null && chunkIo.sameBytes(r, content);
    }

    @Override
    public void flush() throws IOException {
        checkOpen();
        pool.flush();
    }

    // ---- unmap / write same ----------------------------------------------------------------------

    @Override
    public void unmap(long lba, long blocks) throws IOException {
        checkWritable();
        if (blocks <= 0) {
            return;
        }
        long off = lba * st.logicalBlockSize;
        long end = off + blocks * st.logicalBlockSize;
        deallocate(off, end, false);
    }

    /**
     * Makes {@code [off, end)} read as zeros: whole dedup blocks are unmapped (or, with
     * {@code keepMapped}, marked as zero blocks); partial ones are rewritten with zeros.
     */
    private void deallocate(long off, long end, boolean keepMapped) throws IOException {
        int dbs = st.dedupBlockSize;
        long cap = st.capacityBytes;
        long fullFirst = (off + dbs - 1) / dbs;
        long fullEnd = end >= cap ? (cap + dbs - 1) / dbs : end / dbs;
        if (fullFirst >= fullEnd) {
            zeroRange(off, end);
            return;
        }
        if (off < fullFirst * dbs) {
            zeroRange(off, fullFirst * dbs);
        }
        if (fullEnd * dbs < end && end < cap) {
            zeroRange(fullEnd * dbs, end);
        }
        if (keepMapped) {
            for (long a = fullFirst; a < fullEnd; a += PIECE) {
                long b = Math.min(fullEnd, a + PIECE);
                try (StripedLocks.Held h = pool.locks().lock(st.id, a, b - 1)) {
                    List<BlockOp> ops = new ArrayList<>();
                    for (long d = a; d < b; d++) {
                        ops.add(BlockOp.zero(st.id, d));
                    }
                    commitMapOps(ops);
                }
            }
        } else {
            unmapDblocks(fullFirst, fullEnd);
        }
    }

    private void zeroRange(long from, long to) throws IOException {
        if (to <= from) {
            return;
        }
        int dbs = st.dedupBlockSize;
        try (StripedLocks.Held h = lockBytes(from, to)) {
            writeLocked(from, ByteBuffer.allocate((int) (to - from)));
        }
    }

    /** Unmaps every mapped dedup block in {@code [from, to)}, jumping over unmapped stretches. */
    void unmapDblocks(long from, long to) throws IOException {
        long a = from;
        while (a < to) {
            long next = nextMapped(a, to);
            if (next < 0) {
                return;
            }
            long b = Math.min(to, next + PIECE);
            try (StripedLocks.Held h = pool.locks().lock(st.id, next, b - 1)) {
                List<BlockOp> ops = new ArrayList<>();
                try (MetaTxn t = pool.meta().read()) {
                    t.scanBlocks(st.id, next, b, (db, c) -> {
                        ops.add(BlockOp.unmap(st.id, db));
                        return true;
                    });
                }
                if (!ops.isEmpty()) {
                    commitMapOps(ops);
                }
            }
            a = b;
        }
    }

    private long nextMapped(long from, long to) throws IOException {
        long[] found = {-1};
        try (MetaTxn t = pool.meta().read()) {
            t.scanBlocks(st.id, from, to, (db, c) -> {
                found[0] = db;
                return false;
            });
        }
        return found[0];
    }

    /** Unmaps every block of the volume (before deletion). */
    void unmapAll() throws IOException {
        unmapDblocks(0, Long.MAX_VALUE / 2);
    }

    @Override
    public void writeSame(long lba, long blocks, ByteBuffer pattern, boolean unmap) throws IOException {
        checkWritable();
        int lbs = st.logicalBlockSize;
        if (pattern.remaining() != lbs) {
            throw new IllegalArgumentException("WRITE SAME pattern must be one block: " + pattern.remaining());
        }
        if (blocks <= 0) {
            return;
        }
        long off = lba * lbs;
        long end = off + blocks * lbs;
        if (ZeroBlocks.isZero(pattern)) {
            deallocate(off, end, !unmap);
            return;
        }
        int dbs = st.dedupBlockSize;
        long fullFirst = (off + dbs - 1) / dbs;
        long fullEnd = end / dbs;
        if (fullFirst >= fullEnd) {
            patternRange(off, end, pattern);
            return;
        }
        patternRange(off, fullFirst * dbs, pattern);
        patternRange(fullEnd * dbs, end, pattern);
        ByteBuffer block = repeat(pattern, dbs);
        for (long a = fullFirst; a < fullEnd; a += PIECE) {
            long b = Math.min(fullEnd, a + PIECE);
            ByteBuffer[] contents = new ByteBuffer[(int) (b - a)];
            Arrays.fill(contents, block);
            try (StripedLocks.Held h = pool.locks().lock(st.id, a, b - 1)) {
                writeContents(a, contents);
            }
        }
    }

    private void patternRange(long from, long to, ByteBuffer pattern) throws IOException {
        if (to <= from) {
            return;
        }
        try (StripedLocks.Held h = lockBytes(from, to)) {
            writeLocked(from, repeat(pattern, (int) (to - from)));
        }
    }

    private static ByteBuffer repeat(ByteBuffer pattern, int len) {
        ByteBuffer out = ByteBuffer.allocate(len);
        while (out.hasRemaining()) {
            ByteBuffer p = pattern.duplicate();
            p.limit(p.position() + Math.min(p.remaining(), out.remaining()));
            out.put(p);
        }
        return out.flip();
    }

    // ---- compare and write, copy -----------------------------------------------------------------

    @Override
    public long compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data, boolean fua) throws IOException {
        checkWritable();
        int len = expected.remaining();
        if (data.remaining() != len) {
            throw new IllegalArgumentException("compare and write buffers differ in length");
        }
        long off = lba * st.logicalBlockSize;
        try (StripedLocks.Held h = lockBytes(off, off + len)) {
            ByteBuffer current = ByteBuffer.allocate(len);
            readBytes(off, current);
            current.flip();
            int mismatch = current.mismatch(expected.duplicate());
            if (mismatch >= 0) {
                return mismatch;
            }
            writeLocked(off, data);
        }
        if (fua) {
            pool.flush();
        }
        return -1;
    }

    /**
     * Copies blocks; from a volume of the same pool with the same geometry it copies references (no
     * data moves) for the whole dedup blocks of the range, and bytes for the partial ones at either
     * end — when source and destination sit at the same offset within their dedup blocks; otherwise
     * (another pool or device, a different phase, an overlapping copy within one volume that is not
     * aligned) bytes.
     */
    @Override
    public void copyFrom(BlockDevice source, long srcLba, long dstLba, long blocks) throws IOException {
        checkWritable();
        int lbs = st.logicalBlockSize;
        int dbs = st.dedupBlockSize;
        if (!(source instanceof DedupVolume sv) || sv.pool != pool || sv.st.dedupBlockSize != dbs
                || sv.st.logicalBlockSize != lbs) {
            BlockDevice.super.copyFrom(source, srcLba, dstLba, blocks);
            return;
        }
        long per = dbs / lbs;
        if ((srcLba % per != 0 || dstLba % per != 0 || blocks % per != 0)) {
            long head = Math.min(blocks, (per - dstLba % per) % per);
            long mid = (blocks - head) / per * per;
            boolean samePhase = srcLba % per == dstLba % per;
            boolean overlapping = sv == this && srcLba < dstLba + blocks && dstLba < srcLba + blocks;
            if (!samePhase || mid == 0 || overlapping) {
                BlockDevice.super.copyFrom(source, srcLba, dstLba, blocks);
                return;
            }
            BlockDevice.super.copyFrom(source, srcLba, dstLba, head);
            copyFrom(source, srcLba + head, dstLba + head, mid);
            long tail = blocks - head - mid;
            BlockDevice.super.copyFrom(source, srcLba + head + mid, dstLba + head + mid, tail);
            return;
        }
        long src = srcLba * lbs / dbs;
        long dst = dstLba * lbs / dbs;
        long count = blocks * lbs / dbs;
        boolean backwards = sv == this && src < dst && dst < src + count;
        long done = 0;
        while (done < count) {
            long n = Math.min(PIECE, count - done);
            long at = backwards ? count - done - n : done;
            copyRefs(sv, src + at, dst + at, (int) n);
            done += n;
            Runnable hook = afterCopyPiece;
            if (hook != null && done < count) {
                hook.run();
            }
        }
    }

    /** Tests only: runs between two committed pieces of a reference copy into this volume. */
    volatile Runnable afterCopyPiece;

    private void copyRefs(DedupVolume sv, long src, long dst, int n) throws IOException {
        try (StripedLocks.Held h = pool.locks().lock(st.id, dst, dst + n - 1, sv.st.id, src, src + n - 1)) {
            long[] refs = new long[n];
            Arrays.fill(refs, MetaTxn.ABSENT);
            try (MetaTxn t = pool.meta().read()) {
                t.scanBlocks(sv.st.id, src, src + n, (db, c) -> {
                    refs[(int) (db - src)] = c;
                    return true;
                });
            }
            List<BlockOp> ops = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                long r = refs[i];
                ops.add(r == MetaTxn.ABSENT ? BlockOp.unmap(st.id, dst + i)
                        : r == MetaTxn.ZERO ? BlockOp.zero(st.id, dst + i)
                        : BlockOp.existing(st.id, dst + i, r, null, null));
            }
            commitMapOps(ops);
        }
    }

    // ---- status, resize, stats -------------------------------------------------------------------

    @Override
    public LbaStatus status(long lba, long maxBlocks) throws IOException {
        checkOpen();
        int lbs = st.logicalBlockSize;
        int dbs = st.dedupBlockSize;
        long limitLba = Math.min(lba + Math.max(1, maxBlocks), blockCount());
        if (limitLba <= lba) {
            limitLba = lba + 1;
        }
        long db = lba * lbs / dbs;
        long dbEnd = Math.min((limitLba * lbs + dbs - 1) / dbs, db + (1 << 20));
        StatusExtent x = extentAt(db);
        if (x == null) {
            // Initiators (qemu's allocation map, for one) send a burst of GET LBA STATUS for
            // neighbouring LBAs at once; one walk answers them all while the map is unchanged.
            synchronized (statusWalk) {
                x = extentAt(db);
                if (x == null) {
                    long gen = mapGeneration.get();
                    // The burst arrives out of order (qemu sends one query per read in flight):
                    // a query just before a remembered extent walks only up to its start and,
                    // when the run goes on into it, joins it, instead of walking the whole run again.
                    StatusExtent known = null;
                    for (StatusExtent e : extents) {
                        if (e.generation() == gen && e.start() > db && e.start() - db <= (1 << 20)
                                && (known == null || e.start() < known.start())) {
                            known = e;
                        }
                    }
                    x = walkExtent(gen, db, known != null ? known.start() : db + (1 << 20));
                    if (known != null && x.end() == known.start() && x.mapped() == known.mapped()) {
                        x = new StatusExtent(gen, db, known.end(), x.mapped());
                    }
                    remember(x);
                }
            }
        }
        long runEnd = Math.min(x.end(), dbEnd);
        long endLba = Math.min(limitLba, runEnd * dbs / lbs);
        if (endLba <= lba) {
            endLba = lba + 1;
        }
        return new LbaStatus(lba, endLba - lba, x.mapped());
    }

    private StatusExtent extentAt(long db) {
        long gen = mapGeneration.get();
        for (StatusExtent x : extents) {
            if (x.generation() == gen && db >= x.start() && db < x.end()) {
                return x;
            }
        }
        return null;
    }

    /** Puts {@code x} first among the remembered extents, without those it overlaps or outdates. */
    private void remember(StatusExtent x) {
        StatusExtent[] old = extents;
        StatusExtent[] now = new StatusExtent[Math.min(REMEMBERED_EXTENTS, old.length + 1)];
        int n = 0;
        now[n++] = x;
        for (StatusExtent e : old) {
            if (n == now.length) {
                break;
            }
            if (e.generation() == x.generation() && (e.end() <= x.start() || e.start() >= x.end())) {
                now[n++] = e;
            }
        }
        extents = Arrays.copyOf(now, n);
    }

    /** Walks the block map from {@code db}: the run of equally mapped blocks, at most to {@code limit}. */
    private StatusExtent walkExtent(long gen, long db, long limit) throws IOException {
        try (MetaTxn t = pool.meta().read()) {
            boolean mapped = t.block(st.id, db) > 0;
            long[] runEnd = {-1};
            long[] expect = {db};
            t.scanBlocks(st.id, db, limit, (d, c) -> {
                statusEntriesWalked++;
                if (d > expect[0] && mapped) {
                    runEnd[0] = expect[0];
                    return false;
                }
                if ((c > 0) != mapped) {
                    runEnd[0] = d;
                    return false;
                }
                expect[0] = d + 1;
                return true;
            });
            if (runEnd[0] < 0) {
                runEnd[0] = mapped ? expect[0] : limit;
            }
            return new StatusExtent(gen, db, Math.max(db + 1, runEnd[0]), mapped);
        } catch (MetaCorruptException e) {
            pool.untrust(e.getMessage());
            throw new ChecksumMismatchException("metadata damaged: " + e.getMessage());
        }
    }

    @Override
    public void resize(long newBlockCount) throws IOException {
        checkWritable();
        if (newBlockCount <= 0) {
            throw new IllegalArgumentException("capacity must be positive: " + newBlockCount);
        }
        long newBytes = newBlockCount * st.logicalBlockSize;
        long old = st.capacityBytes;
        int dbs = st.dedupBlockSize;
        if (newBytes < old) {
            long keep = (newBytes + dbs - 1) / dbs;
            unmapDblocks(keep, Long.MAX_VALUE / 2);
            if (newBytes % dbs != 0) {
                long partialEnd = Math.min(old, keep * dbs);
                zeroRange(newBytes, partialEnd);
            }
        }
        pool.committer().run(b -> {
            b.capacity.put(st.id, newBytes);
            return null;
        });
        pool.flush();
    }

    /**
     * Exact statistics of this volume from one snapshot of its block map, including its exclusive
     * bytes: the stored bytes of the chunks no other volume references (a chunk whose refcount
     * equals the number of this volume's blocks naming it), i.e. what deleting the volume would
     * free. Costs one walk of the block map and one chunk lookup per distinct chunk; the pool
     * reuses the result until its next metadata commit ({@link DedupPool#volumeStats}).
     */
    public VolumeStats stats() throws IOException {
        checkOpen();
        return pool.volumeStats(this);
    }

    /** {@link #stats()} computed now: one walk of the block map. */
    VolumeStats computeStats() throws IOException {
        checkOpen();
        long[] ids = new long[1024];
        int[] count = {0};
        long[] zero = {0};
        long[][] holder = {ids};
        long unique = 0;
        long uniqueBytes = 0;
        long stored = 0;
        long exclusive = 0;
        try (MetaTxn t = pool.meta().read()) {
            t.scanBlocks(st.id, 0, Long.MAX_VALUE / 2, (db, c) -> {
                if (c == MetaTxn.ZERO) {
                    zero[0]++;
                } else {
                    if (count[0] == holder[0].length) {
                        holder[0] = Arrays.copyOf(holder[0], holder[0].length * 2);
                    }
                    holder[0][count[0]++] = c;
                }
                return true;
            });
            long[] all = holder[0];
            int n = count[0];
            Arrays.sort(all, 0, n);
            for (int i = 0; i < n; ) {
                int j = i + 1;
                while (j < n && all[j] == all[i]) {
                    j++;
                }
                ChunkRecord r = t.chunk(all[i]);
                if (r == null) {
                    throw new MetaCorruptException("volume '" + st.name + "' references missing chunk " + all[i]);
                }
                unique++;
                uniqueBytes += r.originalLength();
                stored += r.length();
                if (r.refCount() <= j - i) {
                    // every reference to this chunk is one of this volume's blocks
                    exclusive += r.length();
                }
                i = j;
            }
        } catch (MetaCorruptException e) {
            pool.untrust(e.getMessage());
            throw e;
        }
        long data = count[0];
        long logical = (data + zero[0]) * st.dedupBlockSize;
        return new VolumeStats(st.name, logical, zero[0], data, unique, uniqueBytes, stored, 0,
                SpaceFigures.dedupRatio(logical, uniqueBytes), SpaceFigures.compressionRatio(uniqueBytes, stored),
                SpaceFigures.savingPercent(logical, stored), st.capacityBytes, st.dedupBlockSize, exclusive);
    }

    /** Flushes the pool (the volume itself holds nothing to release; the pool owns the resources). */
    @Override
    public void close() throws IOException {
        if (!st.deleted && !pool.isClosed() && pool.readOnlyReason() == null) {
            pool.flush();
        }
    }
}
