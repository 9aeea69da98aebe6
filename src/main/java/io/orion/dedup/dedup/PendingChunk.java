package io.orion.dedup.dedup;

import io.orion.dedup.containers.ChunkStore;
import io.orion.dedup.containers.Location;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A new chunk between "claimed" and "committed". The first writer of a fingerprint claims it in
 * {@link DedupIndex}'s in-flight map, writes the record and completes {@link #written}; concurrent writers of
 * the same content find the claim, wait for {@code written} (never for a commit, so no cycles) and
 * reference it. The committer turns it into a chunk (or into a reference to an existing chunk) on
 * its first appearance in a batch, then records the resolved id.
 */
final class PendingChunk {
    final Fingerprint fingerprint;
    final long chunkId;
    final CompletableFuture<Void> written = new CompletableFuture<>();
    private final AtomicBoolean released = new AtomicBoolean();
    volatile Location location;
    int originalLength;
    int flags;
    /**
     * Chunk id this claim resolved to: set by the committer once a batch with it committed, or by
     * the claimer before completing {@link #written} when the content proved to be stored already
     * (then no record is written). 0 before.
     */
    long committedId;

    /**
     * This record re-stores an existing chunk whose record is damaged: {@link #chunkId} is that
     * chunk's id (the record carries it), and the committer moves the chunk here instead of creating
     * one (see {@code Committer.resolveNew}).
     */
    final boolean heals;

    PendingChunk(Fingerprint fingerprint, long chunkId) {
        this(fingerprint, chunkId, false);
    }

    PendingChunk(Fingerprint fingerprint, long chunkId, boolean heals) {
        this.fingerprint = fingerprint;
        this.chunkId = chunkId;
        this.heals = heals;
    }

    /** Lowers the container's pending count exactly once. */
    void release(ChunkStore store) {
        if (location != null && released.compareAndSet(false, true)) {
            store.release(location);
        }
    }
}
