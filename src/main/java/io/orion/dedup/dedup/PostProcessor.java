package io.orion.dedup.dedup;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import io.orion.dedup.containers.RecordFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The post-process pass: deduplicates the blocks that post-process volumes ({@link DedupMode#POST})
 * wrote since the last pass. Those writes stored each block as an unindexed chunk of its own and
 * staged the block ({@code staged} table); the pass walks the staged blocks in key order, in slices:
 *
 * <ol>
 *   <li>Plan (a read transaction, outside the committer): for each staged block, the chunk it maps
 *       to; if that chunk is already the index's entry for its fingerprint, nothing to do; if the
 *       index holds another chunk of the same fingerprint (or an earlier block of this slice is
 *       about to become the index's entry), the block will share that chunk (with {@code verify},
 *       only once the stored bytes compared equal); otherwise its chunk becomes the index's entry.
 *       A chunk written without hashing ({@code Fingerprint.UNHASHED}: every post-process write) is
 *       read back and hashed here, outside any write transaction; its fingerprint goes into the
 *       metadata when it is indexed (its record keeps none: {@code RecordFormat.FLAG_UNHASHED}).</li>
 *   <li>Apply (one committer task per slice, in the LMDB write transaction): each planned change is
 *       made only if the block still maps to the chunk it was planned for, and the chunk to share
 *       still exists with the same fingerprint and room for a reference; a block changed by a write
 *       meanwhile is left alone (the write staged it again if it needed to be), and a plan that no
 *       longer holds is staged again for the next pass. Sharing moves the block's reference (the
 *       journal records the new mapping), and a chunk losing its last reference is freed as an
 *       overwrite would free it.</li>
 * </ol>
 *
 * The accounting after a pass equals inline mode's for the same data: one chunk per distinct
 * content, the same references. The pass holds a slice's block locks while it applies (as a write
 * does), and the compare-and-set in the committer orders it against writes prepared before.
 */
final class PostProcessor {
    /** Staged blocks planned and applied together. */
    static final int SLICE = 512;

    private enum Action { DROP, SHARE, INDEX, RETRY }

    /**
     * What to do with one staged block; {@code chunk} is the block-map entry the plan saw (a chunk
     * id, {@link MetaTxn#ZERO} or {@link MetaTxn#ABSENT}), {@link #GONE} when its volume was deleted.
     */
    private record Plan(int volume, long dblock, long chunk, Action action, long target, byte[] fp) {
        Plan(int volume, long dblock, long chunk, Action action, long target) {
            this(volume, dblock, chunk, action, target, null);
        }
    }

    private static final long GONE = Long.MIN_VALUE;

    private final PoolOptions options;
    private final MetaStore meta;
    private final ChunkIo chunkIo;
    private final DedupIndex index;
    private final Committer committer;
    private final PoolHealth health;
    private final StripedLocks locks;
    /** The pool's volume catalogue: a volume's state by id (null once deleted). */
    private final IntFunction<VolumeState> volumes;

    PostProcessor(PoolOptions options, MetaStore meta, ChunkIo chunkIo, DedupIndex index, Committer committer,
                  PoolHealth health, StripedLocks locks, IntFunction<VolumeState> volumes) {
        this.options = options;
        this.meta = meta;
        this.chunkIo = chunkIo;
        this.index = index;
        this.committer = committer;
        this.health = health;
        this.locks = locks;
        this.volumes = volumes;
    }

    /**
     * Runs one pass over every staged block (blocks staged during the pass ahead of its cursor are
     * included); returns what it did. Cancelling stops it between slices.
     */
    PostProcessResult run(WorkMonitor monitor) throws IOException {
        health.checkWritable();
        long total;
        try (MetaTxn t = meta.read()) {
            total = t.stagedCount();
        }
        monitor.begin(total * 4096L);
        long started = System.nanoTime();
        long examined = 0;
        long shared = 0;
        long indexed = 0;
        long freed = 0;
        long freedBytes = 0;
        long done = 0;
        int atVolume = 0;
        long atBlock = 0;
        boolean cancelled = false;
        while (true) {
            if (monitor.cancelled()) {
                cancelled = true;
                break;
            }
            List<Plan> plans = plan(atVolume, atBlock);
            if (plans.isEmpty()) {
                break;
            }
            Plan last = plans.get(plans.size() - 1);
            int[] vols = new int[plans.size()];
            long[] dbs = new long[plans.size()];
            for (int i = 0; i < vols.length; i++) {
                vols[i] = plans.get(i).volume;
                dbs[i] = plans.get(i).dblock;
            }
            long[] r;
            // the blocks' locks, as a write holds them: a reference copy reading one of these blocks
            // as its source finishes before the block's chunk may lose its reference here
            try (StripedLocks.Held h = locks.lockEach(vols, dbs)) {
                r = committer.run(b -> apply(b, plans));
            }
            examined += plans.size();
            shared += r[0];
            indexed += r[1];
            freed += r[2];
            freedBytes += r[3];
            done += plans.size() * 4096L; // progress counts 4 KiB per staged block, whatever its size
            monitor.advance(plans.size() * 4096L);
            monitor.pace(done, started, monitor.rate(0), "post-process pass");
            if (last.dblock == Long.MAX_VALUE) {
                if (last.volume == Integer.MAX_VALUE) {
                    break;
                }
                atVolume = last.volume + 1;
                atBlock = 0;
            } else {
                atVolume = last.volume;
                atBlock = last.dblock + 1;
            }
        }
        long remaining;
        try (MetaTxn t = meta.read()) {
            remaining = t.stagedCount();
        }
        return new PostProcessResult(examined, shared, indexed, freed, freedBytes, remaining, cancelled);
    }

    /** Step 1: what to do with the next slice of staged blocks, from a read transaction. */
    private List<Plan> plan(int fromVolume, long fromBlock) throws IOException {
        boolean verify = options.verify();
        int max = options.referenceMaxCount();
        List<Plan> plans = new ArrayList<>(SLICE);
        Map<Fingerprint, Long> firstHere = new HashMap<>();
        java.security.MessageDigest sha256;
        try {
            sha256 = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (MetaTxn t = meta.read()) {
            for (MetaTxn.StagedBlock s : t.staged(fromVolume, fromBlock, SLICE)) {
                int vol = s.volume();
                long db = s.dblock();
                VolumeState v = volumes.apply(vol);
                if (v == null || v.deleted) {
                    plans.add(new Plan(vol, db, GONE, Action.DROP, 0));
                    continue;
                }
                long c = t.block(vol, db);
                ChunkRecord own = c > 0 ? t.chunk(c) : null;
                if (own == null) {
                    plans.add(new Plan(vol, db, c, Action.DROP, 0)); // unmapped or zeros since it was staged
                    continue;
                }
                byte[] ownFp = own.fingerprint();
                byte[] ownBytes = null;
                if (RecordFormat.unhashed(ownFp)) {
                    // written without hashing: read the block back and hash it now
                    try {
                        ownBytes = chunkIo.bytes(own);
                    } catch (ChecksumMismatchException damagedOwn) {
                        plans.add(new Plan(vol, db, c, Action.DROP, 0)); // its record is damaged: scrub reports it
                        continue;
                    } catch (IOException | ChunkIo.StaleMapping e) {
                        plans.add(new Plan(vol, db, c, Action.RETRY, 0)); // unreadable now, or moved: the next pass
                        continue;
                    }
                    ownFp = sha256.digest(ownBytes);
                }
                long idx = t.index(ownFp);
                if (idx == c) {
                    plans.add(new Plan(vol, db, c, Action.DROP, 0)); // already the index's entry
                    continue;
                }
                Fingerprint fp = new Fingerprint(ownFp);
                long target = 0;
                if (idx > 0) {
                    ChunkRecord e = t.chunk(idx);
                    if (e != null && e.refCount() < max && !chunkIo.isDamaged(idx)) {
                        target = idx;
                    }
                    // a damaged entry: not shared; this chunk takes over the index entry
                    // a saturated entry: this chunk becomes the index's newer copy, as inline writes do
                } else {
                    Long first = firstHere.get(fp);
                    if (first != null && first != c) {
                        target = first;
                    } else {
                        firstHere.put(fp, c);
                    }
                }
                if (target == 0) {
                    plans.add(new Plan(vol, db, c, Action.INDEX, idx, ownFp));
                    continue;
                }
                if (verify) {
                    ChunkIo.StoredMatch m;
                    try {
                        ChunkRecord e = t.chunk(target);
                        m = e == null ? ChunkIo.StoredMatch.DIFFERENT
                                : chunkIo.compareStored(e, ByteBuffer.wrap(ownBytes != null ? ownBytes : chunkIo.bytes(own)));
                    } catch (ChecksumMismatchException damagedOwn) {
                        plans.add(new Plan(vol, db, c, Action.DROP, 0)); // its own record is damaged: scrub reports it
                        continue;
                    } catch (IOException | ChunkIo.StaleMapping e) {
                        // unreadable now, or moved or freed under the comparison: the next pass
                        plans.add(new Plan(vol, db, c, Action.RETRY, 0));
                        continue;
                    }
                    if (m == ChunkIo.StoredMatch.DIFFERENT) {
                        index.noteVerifyMismatch(target, fp, m);
                        plans.add(new Plan(vol, db, c, Action.DROP, 0)); // a collision: kept unshared, unindexed
                        continue;
                    }
                    if (m == ChunkIo.StoredMatch.DAMAGED) {
                        // the indexed chunk's record is damaged: this intact copy takes over its entry
                        index.noteVerifyMismatch(target, fp, m);
                        plans.add(new Plan(vol, db, c, Action.INDEX, target, ownFp));
                        continue;
                    }
                }
                plans.add(new Plan(vol, db, c, Action.SHARE, target, ownFp));
            }
        }
        return plans;
    }

    /**
     * Step 2, in the committer's transaction: applies the plans that still hold. Returns blocks
     * shared, chunks indexed, chunks freed and their stored bytes. Runs again from scratch if the
     * committer replays the batch, so it changes nothing outside {@code b}.
     */
    private long[] apply(Committer.Batch b, List<Plan> plans) throws IOException {
        boolean verify = options.verify();
        int max = options.referenceMaxCount();
        long shared = 0;
        long indexed = 0;
        int freedBefore = b.freed.size();
        for (Plan p : plans) {
            if (p.action == Action.RETRY) {
                continue; // stays staged
            }
            if (p.chunk == GONE) {
                b.txn.deleteStaged(p.volume, p.dblock); // its volume was deleted
                continue;
            }
            if (b.txn.block(p.volume, p.dblock) != p.chunk) {
                continue; // written since the plan: it stays staged for the next pass
            }
            b.txn.deleteStaged(p.volume, p.dblock);
            if (p.action == Action.DROP) {
                continue;
            }
            ChunkRecord own = b.chunk(p.chunk);
            if (own == null) {
                continue;
            }
            byte[] fp = p.fp; // the block's SHA-256 (computed by the plan when the chunk was unhashed)
            boolean unhashed = RecordFormat.unhashed(own.fingerprint());
            if (!unhashed && !Arrays.equals(own.fingerprint(), fp)) {
                continue; // cannot happen (a chunk's content never changes); left as it is
            }
            long target = p.target;
            if (p.action == Action.INDEX) {
                long x = b.txn.index(fp);
                if (x == p.chunk) {
                    continue;
                }
                if (x == p.target) {
                    // the index's entry is still the one the plan saw (none, saturated or damaged)
                    if (unhashed) {
                        b.putChunk(own.withFingerprint(fp)); // the chunk's fingerprint, in the metadata only
                    }
                    b.txn.putIndex(fp, p.chunk);
                    b.indexed.put(new Fingerprint(fp), p.chunk);
                    indexed++;
                    continue;
                }
                if (verify) {
                    b.txn.putStaged(p.volume, p.dblock); // indexed meanwhile: compared in the next pass
                    continue;
                }
                target = x;
            }
            ChunkRecord e = b.chunk(target);
            if (e == null || !Arrays.equals(e.fingerprint(), fp) || e.refCount() >= max) {
                b.txn.putStaged(p.volume, p.dblock); // changed since the plan: the next pass looks again
                continue;
            }
            b.putChunk(e.withRefCount(e.refCount() + 1));
            b.decRef(p.chunk);
            b.txn.putBlock(p.volume, p.dblock, target);
            b.journal.map(p.volume, p.dblock, target);
            shared++;
        }
        long freedBytes = 0;
        for (int i = freedBefore; i < b.freed.size(); i++) {
            freedBytes += b.freed.get(i).length();
        }
        return new long[] {shared, indexed, b.freed.size() - freedBefore, freedBytes};
    }
}
