package io.orion.dedup.dedup;

import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.meta.VolumeRecord;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Whole-volume reference copies of a pool: clones, snapshots (read-only clones) and rollback of a
 * volume to one of its snapshots. No data bytes are read or written: the new block map names the
 * source's chunks and each chunk's refcount rises by exactly the entries that now name it, so the
 * pool's stored bytes do not grow. (The one exception is a chunk already at
 * {@code reference_max_count}: as for any duplicate write, the block gets a fresh copy.)
 *
 * <p>Crash safety: each operation is <em>one</em> committer task, so its block-map entries,
 * refcounts, volume record and pool counters commit in one LMDB transaction, or not at all; a
 * crash leaves either the old state or the new one, never a half-copied volume (MDB_MAP_FULL
 * replays the whole task in a grown map). The task walks the maps in pieces of {@link #PIECE}
 * entries and spills each piece's chunk records into the transaction, so its heap stays bounded
 * whatever the volume's size. The price: the single committer, so every write to the pool (not
 * the reads), waits while the transaction runs, about 5 µs per mapped block measured
 * (docs/administration.md).
 *
 * <p>Consistency: a clone sees the source's map as committed at one point in the commit order
 * (writes acknowledged before the clone started are in it; writes still in flight land on one side
 * of that point, whole). A rollback holds every block lock of the volume it rolls back, so no write
 * to it is in flight while its map is swapped (a read-modify-write cannot mix old bytes into the
 * restored blocks); writes that arrive meanwhile wait and then apply to the restored contents.
 */
final class VolumeCopies {
    static final int PIECE = 1024;

    private final DedupPool pool;
    private final Committer committer;

    VolumeCopies(DedupPool pool, Committer committer) {
        this.pool = pool;
        this.committer = committer;
    }

    /** Creates volume {@code name} as a reference copy of {@code source}; see {@link DedupPool#cloneVolume}. */
    VolumeRecord cloneVolume(String source, String name, boolean readOnly) throws IOException {
        DedupPool.checkName(name);
        pool.checkWritable();
        long now = System.currentTimeMillis();
        VolumeRecord rec = committer.run(b -> {
            if (b.txn.volume(name) != null) {
                throw new IllegalArgumentException("volume '" + name + "' already exists");
            }
            VolumeRecord src = b.txn.volume(source);
            if (src == null) {
                throw new IllegalArgumentException("no volume '" + source + "'");
            }
            int id = b.nextVolumeId(committer);
            b.newNextVolumeId = id + 1;
            long from = 0;
            while (true) {
                List<BlockOp> ops = new ArrayList<>(PIECE);
                long[] last = {-1};
                b.txn.scanBlocks(src.id(), from, Long.MAX_VALUE / 2, (db, c) -> {
                    ops.add(c == MetaTxn.ZERO ? BlockOp.zero(id, db) : BlockOp.existing(id, db, c, null, null));
                    last[0] = db;
                    return ops.size() < PIECE;
                });
                if (ops.isEmpty()) {
                    break;
                }
                committer.applyInTask(b, ops);
                b.spillChunks();
                from = last[0] + 1;
            }
            // the new volume has no state yet: its counters go into its record here, not via finish()
            Committer.VolumeDelta d = b.volumeDelta.remove(id);
            long data = d == null ? 0 : d.dataBlocks;
            long zero = d == null ? 0 : d.zeroBlocks;
            VolumeRecord r = new VolumeRecord(name, id, UUID.randomUUID(), src.logicalBlockSize(),
                    src.dedupBlockSize(), src.capacityBytes(), data, zero, readOnly, source, now, src.dedupMode());
            b.txn.putVolume(r);
            b.afterCommit.add(() -> pool.publishVolume(r));
            return r;
        });
        committer.flush();
        return rec;
    }

    /**
     * Replaces the block map of {@code volume} by that of {@code snapshot} (a read-only clone of
     * it); the volume takes the snapshot's capacity. Returns the volume's record afterwards.
     */
    VolumeRecord rollback(String volume, String snapshot) throws IOException {
        pool.checkWritable();
        VolumeState target = pool.liveState(volume);
        VolumeState snap = pool.liveState(snapshot);
        if (target == null) {
            throw new IllegalArgumentException("no volume '" + volume + "'");
        }
        if (snap == null) {
            throw new IllegalArgumentException("no snapshot '" + snapshot + "'");
        }
        if (target.readOnly) {
            throw new IllegalArgumentException("volume '" + volume + "' is a read-only snapshot; it cannot be rolled back");
        }
        if (!snap.readOnly || !volume.equals(snap.origin)) {
            throw new IllegalArgumentException("volume '" + snapshot + "' is not a snapshot of '" + volume + "'"
                    + (snap.origin == null ? "" : " (it is a " + (snap.readOnly ? "snapshot" : "clone") + " of '"
                    + snap.origin + "')"));
        }
        if (snap.logicalBlockSize != target.logicalBlockSize || snap.dedupBlockSize != target.dedupBlockSize) {
            throw new IllegalArgumentException("snapshot '" + snapshot + "' has another block geometry than '" + volume
                    + "'");
        }
        long blocks = Math.max(target.dedupBlocks(), snap.dedupBlocks());
        try (StripedLocks.Held h = pool.locks().lock(target.id, 0, Math.max(0, blocks - 1))) {
            committer.run(b -> {
                long from = 0;
                while (true) {
                    List<long[]> cur = piece(b, target.id, from);
                    List<long[]> want = piece(b, snap.id, from);
                    if (cur.isEmpty() && want.isEmpty()) {
                        break;
                    }
                    // both pieces are complete below the smaller of the last blocks of a full piece
                    long end = Long.MAX_VALUE;
                    if (cur.size() == PIECE) {
                        end = Math.min(end, cur.get(PIECE - 1)[0] + 1);
                    }
                    if (want.size() == PIECE) {
                        end = Math.min(end, want.get(PIECE - 1)[0] + 1);
                    }
                    List<BlockOp> ops = new ArrayList<>();
                    java.util.Set<Long> restored = new java.util.HashSet<>();
                    for (long[] e : want) {
                        if (e[0] < end) {
                            ops.add(e[1] == MetaTxn.ZERO ? BlockOp.zero(target.id, e[0])
                                    : BlockOp.existing(target.id, e[0], e[1], null, null));
                            restored.add(e[0]);
                        }
                    }
                    for (long[] e : cur) {
                        if (e[0] < end && !restored.contains(e[0])) {
                            ops.add(BlockOp.unmap(target.id, e[0]));
                        }
                    }
                    if (!ops.isEmpty()) {
                        committer.applyInTask(b, ops);
                        b.spillChunks();
                    }
                    if (end == Long.MAX_VALUE) {
                        break;
                    }
                    from = end;
                }
                if (snap.capacityBytes != target.capacityBytes) {
                    b.capacity.put(target.id, snap.capacityBytes);
                }
                return null;
            });
            committer.flush();
        } finally {
            pool.mapChanged(volume);
        }
        return target.record(0, 0, target.capacityBytes);
    }

    /** Up to {@link #PIECE} block-map entries {dblock, chunk} of a volume from {@code from} on. */
    private static List<long[]> piece(Committer.Batch b, int volume, long from) throws IOException {
        List<long[]> out = new ArrayList<>(PIECE);
        b.txn.scanBlocks(volume, from, Long.MAX_VALUE / 2, (db, c) -> {
            out.add(new long[] {db, c});
            return out.size() < PIECE;
        });
        return out;
    }
}
