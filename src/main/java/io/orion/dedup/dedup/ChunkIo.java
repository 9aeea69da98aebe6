package io.orion.dedup.dedup;

import io.orion.dedup.cache.WeightedCache;
import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import io.orion.dedup.containers.ChunkStore;
import io.orion.dedup.containers.Compression;
import io.orion.dedup.containers.Location;
import io.orion.dedup.containers.RecordFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chunk I/O component: the one place that writes chunk records and reads them back. It owns
 * the record format on the way in and out (seal, compress; read, check identity, decompress), the
 * block cache of original bytes, and the ledger of damaged chunks (found damaged since the pool
 * opened, healed by a write of the same content or repaired by scrub).
 *
 * <p>Every reader of a stored record (the volumes' reads, {@code verify}, cleanup, recompression,
 * scrub, recovery of a copy) checks it with {@link #check(ByteBuffer, ChunkRecord)}: the record's
 * CRC32C, magic, version and lengths, its chunk id, and its fingerprint against the chunk record's
 * (like BookKeeper's {@code EntryLogger.readEntry(ledger, entry, location)}, which checks the
 * identity of what it read). Collaborators: {@link ChunkStore} (positional I/O on containers),
 * {@link Compression}, {@link MetaStore} (only to look a chunk up again when its record moved
 * while being read).
 */
final class ChunkIo {
    private static final Logger LOG = LoggerFactory.getLogger(ChunkIo.class);

    /** Refuses an append when the commit that would reference it would be refused (space). */
    @FunctionalInterface
    interface AppendGuard {
        void check() throws IOException;
    }

    private final ChunkStore store;
    private final Compression compression;
    private final WeightedCache<Long, byte[]> blockCache;
    private final MetaStore meta;
    private final AppendGuard guard;
    private final LongAdder checksumErrors = new LongAdder();
    /**
     * Chunks whose stored record failed its check since the pool opened (a read, scrub, cleanup or
     * recompression found it): the next write of the same content heals them (see
     * {@code Committer.resolveNew}); empty almost always, so the write path's look is one isEmpty.
     */
    private final Set<Long> damagedChunks = ConcurrentHashMap.newKeySet();
    private final LongAdder healedChunks = new LongAdder();
    private final LongAdder repairedChunks = new LongAdder();

    /** The next chunk id (ids also number journal records: each is used once). */
    private final java.util.concurrent.atomic.AtomicLong chunkIds;

    ChunkIo(ChunkStore store, Compression compression, WeightedCache<Long, byte[]> blockCache, MetaStore meta,
            AppendGuard guard, long nextChunkId) {
        this.store = store;
        this.compression = compression;
        this.blockCache = blockCache;
        this.meta = meta;
        this.guard = guard;
        this.chunkIds = new java.util.concurrent.atomic.AtomicLong(Math.max(1, nextChunkId));
    }

    /** A new chunk id, never handed out before. */
    long newChunkId() {
        return chunkIds.getAndIncrement();
    }

    /** The id {@link #newChunkId()} hands out next (the counters' next chunk id). */
    long peekChunkId() {
        return chunkIds.get();
    }

    /** Compresses and appends one new chunk under a new id (the committer's fresh copies). */
    PendingChunk storeNew(Fingerprint fp, ByteBuffer data) throws IOException {
        PendingChunk p = new PendingChunk(fp, newChunkId());
        append(List.of(p), List.of(data));
        return p;
    }

    Compression compression() {
        return compression;
    }

    WeightedCache<Long, byte[]> blockCache() {
        return blockCache;
    }

    /**
     * What is wrong with stored record {@code rec} as the record of chunk {@code r} (null if
     * nothing): its own check (CRC32C, magic, version, lengths, chunk id) and its fingerprint
     * against the chunk record's.
     */
    static String check(ByteBuffer rec, ChunkRecord r) {
        String why = RecordFormat.check(rec, r.id());
        if (why == null && !RecordFormat.fingerprintMatches(rec, r.fingerprint())) {
            why = "record fingerprint differs from the chunk's";
        }
        return why;
    }

    /**
     * What a whole-record read of chunk {@code r} found: the record if it passed {@link #check}
     * (and its original bytes, when asked for), else the problem. A failed decompression is a
     * problem too. A device error other than a failed check is thrown, for the caller to judge
     * (cleanup keeps the container, scrub counts an unreadable record, recompression stops).
     */
    record Checked(ByteBuffer record, byte[] data, String problem) {
        boolean sound() {
            return problem == null;
        }
    }

    /** Reads chunk {@code r}'s record where {@code r} says it is and checks it; {@code content}: also decompress it. */
    Checked read(ChunkRecord r, boolean content) throws IOException {
        try {
            ByteBuffer rec = store.readRaw(r.containerId(), r.offset(), r.length());
            String why = check(rec, r);
            if (why != null) {
                return new Checked(null, null, why);
            }
            return new Checked(rec, content ? compression.payload(rec) : null, null);
        } catch (ChecksumMismatchException e) {
            return new Checked(null, null, e.getMessage());
        }
    }

    /**
     * Null if {@code data} (a checked record's payload) is chunk {@code r}'s content: its original
     * length and, unless the chunk is unhashed, its SHA-256 fingerprint; else the problem.
     */
    static String contentProblem(byte[] data, ChunkRecord r, MessageDigest sha256) {
        if (data.length != r.originalLength()
                || !RecordFormat.unhashed(r.fingerprint()) && !Arrays.equals(sha256.digest(data), r.fingerprint())) {
            return "content does not match its SHA-256 fingerprint";
        }
        return null;
    }


    /**
     * Builds the records of claimed chunks and appends them with as few positional writes as
     * possible (records of one call land back to back in one container when they fit).
     */
    void append(List<PendingChunk> claims, List<ByteBuffer> data) throws IOException {
        guard.check(); // the commit would refuse these chunks (see Committer.applyOps): don't append them
        int n = claims.size();
        // room each record may need: the header and the larger of LZ4's bound and the raw payload
        int[] worst = new int[n];
        for (int k = 0; k < n; k++) {
            int orig = data.get(k).remaining();
            claims.get(k).originalLength = orig;
            worst[k] = RecordFormat.HEADER
                    + (compression.enabled() ? Math.max(orig, compression.maxCompressedLength(orig)) : orig);
        }
        int room = (int) Math.min(store.slotSize() / 4, MAX_JOINED);
        int[] lens = new int[n];
        int i = 0;
        while (i < n) {
            int j = i;
            int bound = 0;
            while (j < n && (j == i || bound + worst[j] <= room)) {
                bound += worst[j];
                j++;
            }
            // each payload is compressed straight into the joined buffer (no scratch array, no copy)
            ByteBuffer joined = scratch(WRITE_SCRATCH, bound);
            int off = 0;
            for (int k = i; k < j; k++) {
                PendingChunk p = claims.get(k);
                ByteBuffer d = data.get(k);
                int plen = compression.compressInto(d, joined, off + RecordFormat.HEADER);
                int unhashed = RecordFormat.unhashed(p.fingerprint.bytes()) ? RecordFormat.FLAG_UNHASHED : 0;
                if (plen >= 0) {
                    p.flags = RecordFormat.FLAG_LZ4 | unhashed;
                } else {
                    plen = d.remaining();
                    p.flags = unhashed;
                    joined.put(off + RecordFormat.HEADER, d, d.position(), plen);
                }
                RecordFormat.seal(joined, off, p.chunkId, p.fingerprint.bytes(), p.flags, p.originalLength, plen);
                lens[k] = RecordFormat.HEADER + plen;
                off += lens[k];
            }
            Location at = store.append(joined.limit(off).position(0));
            off = at.offset();
            for (int k = i; k < j; k++) {
                claims.get(k).location = new Location(at.containerId(), off, lens[k]);
                off += lens[k];
            }
            // the store counted one pending record for the joined write; count the rest
            for (int k = i + 1; k < j; k++) {
                store.container(at.containerId()).pendingIncrement();
            }
            i = j;
        }
        // cache_optimization: the chunks of a small write (up to SMALL_WRITE_CHUNKS new chunks) are
        // admitted to the block cache (their id is never reused, so an entry of a chunk whose metadata
        // never commits is merely dead weight); those of larger writes are not: a copy, an allocation
        // and an eviction per block for data a streaming writer rarely reads back at once, and
        // served, when it is, from the store (page cache) like any other block
        if (n <= SMALL_WRITE_CHUNKS) {
            for (int k = 0; k < n; k++) {
                if (claims.get(k).heals) {
                    continue; // its id is a live chunk's: the cache entry would stand for a record not yet committed
                }
                ByteBuffer d = data.get(k);
                byte[] copy = new byte[d.remaining()];
                d.duplicate().get(copy);
                blockCache.put(claims.get(k).chunkId, copy);
            }
        }
        for (PendingChunk p : claims) {
            p.written.complete(null);
        }
    }

    private static final int MAX_JOINED = 4 << 20;
    /** The most new chunks a write may store and still admit them to the block cache. */
    static final int SMALL_WRITE_CHUNKS = 4;
    private static final ThreadLocal<ByteBuffer[]> WRITE_SCRATCH = ThreadLocal.withInitial(() -> new ByteBuffer[1]);
    private static final ThreadLocal<ByteBuffer[]> READ_SCRATCH = ThreadLocal.withInitial(() -> new ByteBuffer[1]);

    /** A per-thread direct buffer of at least {@code len} bytes (cleared), or a heap buffer for huge requests. */
    private static ByteBuffer scratch(ThreadLocal<ByteBuffer[]> holder, int len) {
        if (len > MAX_JOINED * 2) {
            return ByteBuffer.allocate(len);
        }
        ByteBuffer[] h = holder.get();
        if (h[0] == null || h[0].capacity() < len) {
            h[0] = ByteBuffer.allocateDirect(Math.max(len, 256 * 1024));
        }
        return h[0].clear();
    }

    /** The original bytes of a chunk: block cache, else read, check and decompress. */
    byte[] bytes(ChunkRecord r) throws IOException {
        byte[] hit = blockCache.get(r.id());
        if (hit != null) {
            return hit;
        }
        ByteBuffer v = load(new ChunkRecord[] {r}, true)[0];
        byte[] out = new byte[v.remaining()];
        v.duplicate().get(out);
        return out;
    }

    /** True if chunk {@code r} holds exactly the remaining bytes of {@code data} (false when it cannot be read back intact). */
    boolean sameBytes(ChunkRecord r, ByteBuffer data) throws IOException {
        return compareStored(r, data) == StoredMatch.SAME;
    }

    /** What {@code verify} found comparing a stored chunk with the block about to share it. */
    enum StoredMatch {
        /** The stored bytes equal the block's: it may share the chunk. */
        SAME,
        /** The stored record is intact but holds other bytes: a fingerprint collision. */
        DIFFERENT,
        /** The stored record failed its check (CRC, identity): damaged data, not to be shared. */
        DAMAGED
    }

    /**
     * Compares chunk {@code r}'s stored bytes with the remaining bytes of {@code data} (the
     * {@code verify} check before a block shares a chunk). A record that fails its check is
     * {@link StoredMatch#DAMAGED} (and counted as a checksum error), not an I/O failure of the write.
     */
    StoredMatch compareStored(ChunkRecord r, ByteBuffer data) throws IOException {
        if (data == null) {
            return StoredMatch.SAME;
        }
        try {
            return ByteBuffer.wrap(bytes(r)).equals(data.duplicate()) ? StoredMatch.SAME : StoredMatch.DIFFERENT;
        } catch (ChecksumMismatchException e) {
            return StoredMatch.DAMAGED;
        }
    }

    /**
     * Loads the chunks {@code recs[i] != null}: adjacent records of one container are read with one
     * positional read into a per-thread buffer; every record is CRC-checked; a record that fails is
     * looked up again (garbage collection may have just moved it) and read once more before the
     * failure is reported as {@link ChecksumMismatchException}.
     *
     * @param cacheRaw also put uncompressed chunks into the block cache (decompressed ones always go
     *     there); large streaming reads skip it
     * @return read-only views of the original bytes, valid until this thread's next call
     */
    ByteBuffer[] load(ChunkRecord[] recs, boolean cacheRaw) throws IOException {
        int n = recs.length;
        ByteBuffer[] out = new ByteBuffer[n];
        long total = 0;
        for (ChunkRecord r : recs) {
            if (r != null) {
                total += r.length();
            }
        }
        ByteBuffer buf = scratch(READ_SCRATCH, (int) Math.min(Integer.MAX_VALUE, total));
        int used = 0;
        int i = 0;
        while (i < n) {
            if (recs[i] == null) {
                i++;
                continue;
            }
            int j = i + 1;
            long end = recs[i].location().end();
            while (j < n && recs[j] != null && recs[j].containerId() == recs[i].containerId()
                    && recs[j].offset() == end) {
                end = recs[j].location().end();
                j++;
            }
            int len = (int) (end - recs[i].offset());
            ByteBuffer raw = buf.duplicate().limit(used + len).position(used).slice();
            used += len;
            boolean ok;
            try {
                store.readRawInto(recs[i].containerId(), recs[i].offset(), raw.duplicate());
                ok = true;
            } catch (ChecksumMismatchException e) {
                ok = false;
            }
            for (int k = i; k < j; k++) {
                ChunkRecord r = recs[k];
                ByteBuffer view = null;
                if (ok) {
                    int from = r.offset() - recs[i].offset();
                    ByteBuffer rec = raw.duplicate().limit(from + r.length()).position(from).slice();
                    if (check(rec, r) == null) {
                        if ((RecordFormat.flags(rec) & RecordFormat.FLAG_LZ4) == 0
                                && RecordFormat.originalLength(rec) == r.length() - RecordFormat.HEADER) {
                            view = rec.position(RecordFormat.HEADER).slice().asReadOnlyBuffer();
                            if (cacheRaw) {
                                byte[] copy = new byte[view.remaining()];
                                view.duplicate().get(copy);
                                blockCache.put(r.id(), copy);
                            }
                        } else {
                            byte[] data = compression.payload(rec);
                            blockCache.put(r.id(), data);
                            view = ByteBuffer.wrap(data).asReadOnlyBuffer();
                        }
                    }
                }
                if (view == null) {
                    byte[] data = reload(r);
                    blockCache.put(r.id(), data);
                    view = ByteBuffer.wrap(data).asReadOnlyBuffer();
                }
                out[k] = view;
            }
            i = j;
        }
        return out;
    }

    private byte[] reload(ChunkRecord r) throws IOException {
        ChunkRecord now;
        try (MetaTxn t = meta.read()) {
            now = t.chunk(r.id());
        }
        if (now == null) {
            throw new StaleMapping(r.id());
        }
        ChunkRecord use = now;
        Checked c = read(use, true);
        if (c.sound()) {
            return c.data();
        }
        String why = c.problem();
        countChecksumError(use);
        String msg = "chunk " + use.id() + " in container " + use.containerId() + " at offset " + use.offset()
                + " failed its check: " + why;
        LOG.error(msg);
        throw new ChecksumMismatchException(msg);
    }

    /**
     * The chunk a read resolved was freed (its block overwritten) and its space reused before the
     * bytes were read: the read must resolve its blocks again.
     */
    static final class StaleMapping extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StaleMapping(long chunkId) {
            super("chunk " + chunkId + " was freed while being read", null, false, false);
        }
    }

    void countChecksumError() {
        checksumErrors.increment();
    }

    /** Records that failed their check since the pool opened (reads, verify, scrub, cleanup, recompression). */
    long checksumErrors() {
        return checksumErrors.sum();
    }

    /** Counts a damaged chunk record and remembers the chunk for healing. */
    void countChecksumError(ChunkRecord r) {
        checksumErrors.increment();
        damagedChunks.add(r.id());
        store.holed(r.containerId());
    }

    /**
     * A chunk record the device could not read (scrub): remembered as damaged like a record that
     * failed its check (the next write of its content re-stores it, scrub --repair rewrites it),
     * and its container takes no more records; not counted as a checksum error.
     */
    void noteUnreadable(ChunkRecord r) {
        damagedChunks.add(r.id());
        store.holed(r.containerId());
    }

    /** True if chunk {@code id}'s record was found damaged and not healed since. */
    boolean isDamaged(long id) {
        return !damagedChunks.isEmpty() && damagedChunks.contains(id);
    }

    /** Chunk {@code id} now lives in a sound record (after the commit that moved it there). */
    void healed(long id) {
        if (damagedChunks.remove(id)) {
            healedChunks.increment();
            blockCache.invalidate(id);
            LOG.warn("chunk {} healed: a write of the same content replaced its damaged record", id);
        }
    }

    /** Chunk {@code id} was rewritten by {@code scrub --repair} from a good copy (after the commit). */
    void repaired(long id) {
        damagedChunks.remove(id);
        repairedChunks.increment();
        blockCache.invalidate(id);
        LOG.warn("chunk {} repaired: scrub rewrote its damaged record from a good copy of its content", id);
    }

    /** Damaged chunks rewritten by {@code scrub --repair} since the pool opened. */
    long repairedChunks() {
        return repairedChunks.sum();
    }

    /** Damaged chunks known and not healed yet (found since the pool opened). */
    int damagedChunks() {
        return damagedChunks.size();
    }

    /** Damaged chunks healed by a write of the same content since the pool opened. */
    long healedChunks() {
        return healedChunks.sum();
    }
}
