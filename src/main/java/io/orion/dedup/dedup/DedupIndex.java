package io.orion.dedup.dedup;

import io.orion.dedup.cache.WeightedCache;
import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.blockdev.OutOfSpaceException;
import io.orion.dedup.containers.ChunkStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The dedup index component: which chunk already holds a fingerprint's content. It owns the
 * fingerprint cache (fingerprint → chunk id), the in-flight claims that coalesce concurrent writes of
 * the same new content ({@link PendingChunk}: the first writer claims the fingerprint and stores the
 * record, the others reference the same chunk), and the lookups in LMDB's fingerprint index, one
 * read transaction per write ({@link Lookup}). The committer publishes what a commit indexed or freed
 * ({@link #publish}, {@link #forget}) and drops the claims it committed ({@link #settle}).
 * Collaborators: {@link MetaStore} (the index table), {@link ChunkStore} (an abandoned claim gives
 * back the bytes its record took).
 */
final class DedupIndex {
    private final MetaStore meta;
    private final ChunkStore store;
    private final WeightedCache<Fingerprint, Long> cache;
    private final ConcurrentHashMap<Fingerprint, PendingChunk> inflight = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.LongAdder verifyMismatches = new java.util.concurrent.atomic.LongAdder();
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(DedupIndex.class);

    DedupIndex(MetaStore meta, ChunkStore store, long cacheBytes) {
        this.meta = meta;
        this.store = store;
        // every entry weighs the same: the number it holds once full is known, and its table is made that large
        this.cache = new WeightedCache<>(cacheBytes, (k, v) -> DedupPool.FP_ENTRY_BYTES,
                (int) Math.min(1 << 24, cacheBytes / DedupPool.FP_ENTRY_BYTES));
    }

    WeightedCache<Fingerprint, Long> cache() {
        return cache;
    }

    /** Counts and logs a block that {@code verify} kept from sharing chunk {@code existingId}. */
    void noteVerifyMismatch(long existingId, Fingerprint fp, ChunkIo.StoredMatch why) {
        verifyMismatches.increment();
        LOG.warn("verify: a written block has fingerprint {} of chunk {} but {}; it is stored as a new chunk, not shared",
                fp, existingId, why == ChunkIo.StoredMatch.DAMAGED ? "that chunk's stored record is damaged"
                        : "different bytes (a fingerprint collision)");
    }

    /** Blocks {@code verify} stored as new chunks because their fingerprint's chunk held other (or damaged) bytes. */
    long verifyMismatches() {
        return verifyMismatches.sum();
    }

    /** The chunk the cache holds for {@code fp}, or null (no index lookup). */
    Long cached(Fingerprint fp) {
        return cache.get(fp);
    }

    /** After a commit: {@code fp}'s content is chunk {@code id}. */
    void publish(Fingerprint fp, long id) {
        cache.put(fp, id);
    }

    /** After a commit that freed chunk {@code id}: {@code fp} no longer leads to it. */
    void forget(Fingerprint fp, long id) {
        cache.remove(fp, id);
    }

    /** The lookups of one write: the cache, then the index through one read transaction opened on the first miss. */
    Lookup lookup() {
        return new Lookup();
    }

    /** See {@link #lookup()}; closing it closes its read transaction. */
    final class Lookup implements AutoCloseable {
        private MetaTxn txn;

        /** The chunk holding {@code fp}'s content (cache, else index; an index hit enters the cache), or null. */
        Long find(Fingerprint fp) throws IOException {
            Long id = cache.get(fp);
            if (id == null) {
                long x = txn().index(fp.bytes());
                if (x > 0) {
                    id = x;
                    cache.put(fp, x);
                }
            }
            return id;
        }

        /** The read transaction of this lookup (opened now if no lookup needed it yet). */
        MetaTxn txn() throws IOException {
            if (txn == null) {
                txn = meta.read();
            }
            return txn;
        }

        /** The read transaction if one was opened, else null. */
        MetaTxn openTxn() {
            return txn;
        }

        @Override
        public void close() {
            if (txn != null) {
                txn.close();
                txn = null;
            }
        }
    }

    /** The in-flight claim for a fingerprint, or null. */
    PendingChunk inflight(Fingerprint fp) {
        return inflight.get(fp);
    }

    /** Claims a fingerprint; returns the winner (which is {@code p} if the claim succeeded). */
    PendingChunk claim(PendingChunk p) {
        PendingChunk prev = inflight.putIfAbsent(p.fingerprint, p);
        return prev == null ? p : prev;
    }

    /** Drops a claim after its commit. */
    void settle(PendingChunk p) {
        inflight.remove(p.fingerprint, p);
    }

    /** Drops a claim that will never commit. */
    void abandon(PendingChunk p) {
        abandon(p, null);
    }

    /**
     * Drops a claim that will never commit because of {@code cause} (may be null). Writers waiting
     * for the chunk fail too; when the cause is a want of space, they fail with that, so their
     * initiators get SPACE ALLOCATION FAILED WRITE PROTECT rather than a MEDIUM ERROR.
     */
    void abandon(PendingChunk p, Throwable cause) {
        inflight.remove(p.fingerprint, p);
        p.release(store);
        p.written.completeExceptionally(cause instanceof OutOfSpaceException
                ? new OutOfSpaceException("the write that stored this chunk found no space: " + cause.getMessage(), cause)
                : new IOException("the write that stored this chunk failed"));
    }

    /**
     * {@code dedup-hash-optimize}: fills the fingerprint cache with the index entries of the most
     * referenced chunks (the likeliest duplicates of the next writes), as many as the cache holds.
     * Reads the chunk database in pages of short read transactions; loads only fingerprints the
     * index still maps to that chunk (a saturated chunk's newer copy takes the index entry).
     */
    DedupPool.WarmResult warm() throws IOException {
        long capacity = Math.max(0, cache.stats().limitBytes() / DedupPool.FP_ENTRY_BYTES);
        java.util.PriorityQueue<ChunkRecord> top =
                new java.util.PriorityQueue<>(java.util.Comparator.comparingInt(ChunkRecord::refCount));
        long scanned = 0;
        long from = 0;
        while (capacity > 0) {
            List<ChunkRecord> page = new ArrayList<>(4096);
            try (MetaTxn t = meta.read()) {
                t.scanChunks(from, c -> {
                    page.add(c);
                    return page.size() < 4096;
                });
            }
            if (page.isEmpty()) {
                break;
            }
            for (ChunkRecord c : page) {
                scanned++;
                if (top.size() < capacity) {
                    top.add(c);
                } else if (top.peek().refCount() < c.refCount()) {
                    top.poll();
                    top.add(c);
                }
            }
            from = page.get(page.size() - 1).id() + 1;
        }
        long loaded = 0;
        long minRef = top.isEmpty() ? 0 : top.peek().refCount();
        try (MetaTxn t = meta.read()) {
            for (ChunkRecord c : top) {
                if (t.index(c.fingerprint()) == c.id()) {
                    cache.put(new Fingerprint(c.fingerprint()), c.id());
                    loaded++;
                }
            }
        }
        return new DedupPool.WarmResult(scanned, loaded, capacity, minRef);
    }
}
