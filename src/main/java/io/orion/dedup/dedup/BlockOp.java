package io.orion.dedup.dedup;

import java.nio.ByteBuffer;

/**
 * One block-map change for the committer: map a dedup block of a volume to zeros, unmap it, point
 * it at an existing chunk, at a pending (new) chunk, or at a new chunk of its own that is not looked
 * up in the fingerprint index ({@code STAGED}: volumes in post-process or no-dedup mode). {@code data} (the block's bytes) lets the
 * committer store a fresh copy when the referenced chunk vanished or is saturated.
 */
final class BlockOp {
    enum Kind { ZERO, UNMAP, EXISTING, NEW, STAGED }

    final int volume;
    final long dblock;
    final Kind kind;
    final long chunkId;
    final PendingChunk pending;
    final Fingerprint fingerprint;
    final ByteBuffer data;
    /** A {@code STAGED} op of a post-process write: the committer stages its block for the pass. */
    boolean post;

    private BlockOp(int volume, long dblock, Kind kind, long chunkId, PendingChunk pending, Fingerprint fp,
                    ByteBuffer data) {
        this.volume = volume;
        this.dblock = dblock;
        this.kind = kind;
        this.chunkId = chunkId;
        this.pending = pending;
        this.fingerprint = fp;
        this.data = data;
    }

    static BlockOp zero(int volume, long dblock) {
        return new BlockOp(volume, dblock, Kind.ZERO, 0, null, null, null);
    }

    static BlockOp unmap(int volume, long dblock) {
        return new BlockOp(volume, dblock, Kind.UNMAP, 0, null, null, null);
    }

    static BlockOp existing(int volume, long dblock, long chunkId, Fingerprint fp, ByteBuffer data) {
        return new BlockOp(volume, dblock, Kind.EXISTING, chunkId, null, fp, data);
    }

    static BlockOp pending(int volume, long dblock, PendingChunk p, ByteBuffer data) {
        return new BlockOp(volume, dblock, Kind.NEW, 0, p, p.fingerprint, data);
    }

    /**
     * A new chunk of this block alone, stored without an index lookup (never shared by a claim);
     * {@code post}: the write was prepared in post-process mode and its block is staged.
     */
    static BlockOp staged(int volume, long dblock, PendingChunk p, ByteBuffer data, boolean post) {
        BlockOp op = new BlockOp(volume, dblock, Kind.STAGED, 0, p, p.fingerprint, data);
        op.post = post;
        return op;
    }
}
