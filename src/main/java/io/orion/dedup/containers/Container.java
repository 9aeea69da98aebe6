package io.orion.dedup.containers;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * In-memory state of one append-only container (one slot of one backing device).
 *
 * <p>Two sides update it: writers reserve space ({@link #end}, guarded by the store's per-device
 * lock) and count their not-yet-committed records in {@link #pending}; the metadata committer
 * alone applies committed state ({@code committedEnd}, {@code liveBytes}, {@code liveCount}) after
 * each LMDB commit. Bytes between the slot header and {@code committedEnd} that no live chunk uses
 * are dead (reclaimable).
 */
public final class Container {
    private final int id;
    private final BackingDevice device;
    private final int slot;
    long end;
    volatile boolean sealed;
    /** Chosen by cleanup to be freed: no record may be appended to it any more. */
    volatile boolean condemned;
    /** A chunk record found no room in it and no free slot: further chunk records are refused. */
    boolean chunkFull;
    /**
     * A record write into this container failed (EIO): its bytes are a hole that a walk of the
     * container cannot pass, so nothing more is appended here (guarded by the device's monitor).
     */
    boolean holed;
    /**
     * Slot-relative offset up to which the container's blocks are known to be allocated on the
     * device ({@link BackingDevice#allocate}); guarded by the device's monitor. 0 for a loaded one.
     */
    long allocatedTo;
    final AtomicInteger pending = new AtomicInteger();
    private volatile long committedEnd;
    private volatile long liveBytes;
    private volatile long liveCount;
    private volatile long records;
    private volatile long journalBytes;
    private volatile String damage;

    Container(int id, BackingDevice device, int slot, long end, boolean sealed) {
        this.id = id;
        this.device = device;
        this.slot = slot;
        this.end = end;
        this.sealed = sealed;
        this.committedEnd = end;
    }

    public int id() {
        return id;
    }

    public BackingDevice device() {
        return device;
    }

    public int slot() {
        return slot;
    }

    public boolean sealed() {
        return sealed;
    }

    public int pending() {
        return pending.get();
    }

    /** Counts one more not-yet-committed record (several records written with one write). */
    public void pendingIncrement() {
        pending.incrementAndGet();
    }

    public long committedEnd() {
        return committedEnd;
    }

    public long liveBytes() {
        return liveBytes;
    }

    public long liveCount() {
        return liveCount;
    }

    /** Committed records (live or dead) below the committed end. */
    public long records() {
        return records;
    }

    /** Bytes of committed journal records (neither live chunks nor garbage; see JournalFormat). */
    public long journalBytes() {
        return journalBytes;
    }

    /** Bytes of committed records neither a live chunk nor the journal uses. */
    public long deadBytes() {
        return Math.max(0, committedEnd - SlotHeader.SIZE - liveBytes - journalBytes);
    }

    /**
     * Live chunk and journal bytes as a fraction of the committed record bytes (1 when empty): what
     * compaction would copy or journal anew.
     */
    public double liveFraction() {
        long used = committedEnd - SlotHeader.SIZE;
        return used <= 0 ? 1.0 : (double) (liveBytes + journalBytes) / used;
    }

    /** Why this container's data cannot be fully trusted (found at open), or null. */
    public String damage() {
        return damage;
    }

    void damage(String why) {
        this.damage = why;
    }

    /** Applies a committed delta; called by the metadata committer only. */
    public void applyCommitted(long liveBytesDelta, long liveCountDelta, long maxEnd, long recordsDelta) {
        applyCommitted(liveBytesDelta, liveCountDelta, maxEnd, recordsDelta, 0);
    }

    /** As {@link #applyCommitted(long, long, long, long)} with journal bytes added. */
    public void applyCommitted(long liveBytesDelta, long liveCountDelta, long maxEnd, long recordsDelta,
                               long journalBytesDelta) {
        journalBytes += journalBytesDelta;
        liveBytes += liveBytesDelta;
        liveCount += liveCountDelta;
        records += recordsDelta;
        if (maxEnd > committedEnd) {
            committedEnd = maxEnd;
        }
    }

    /** Restores committed state while loading the pool. */
    void restore(long committedEnd, long liveBytes, long liveCount, long records) {
        restore(committedEnd, liveBytes, liveCount, records, 0);
    }

    void restore(long committedEnd, long liveBytes, long liveCount, long records, long journalBytes) {
        this.journalBytes = journalBytes;
        this.records = records;
        this.committedEnd = committedEnd;
        this.liveBytes = liveBytes;
        this.liveCount = liveCount;
    }
}
