package io.orion.dedup.estimate;

/**
 * A compact open-addressing table of 64-bit fingerprint prefixes, each with a reference count and
 * the record bytes its chunk would take: 16 bytes per slot, at most 3/4 full, so about 21 bytes per
 * distinct block. Not thread-safe: callers synchronise.
 *
 * <p>Memory is bounded by {@code maxSlots}. When the table would need more, it keeps only the
 * fingerprints whose top {@link #shift()} bits are zero (one in 2^shift, chosen by content, so a
 * kept block keeps all of its duplicates) and raises the shift by one each time it fills again:
 * content-defined sampling, whose figures are scaled back by 2^shift and stay unbiased.
 *
 * <p>Key 0 marks an empty slot; a fingerprint prefix of 0 is stored as 1 (one more way for two
 * blocks to share a key, counted in the collision bound).
 */
final class FingerprintTable {
    /** Bytes one slot takes (key, count, stored bytes). */
    static final int SLOT_BYTES = 16;
    private static final int MIN_SLOTS = 1 << 10;

    private final int maxSlots;
    private long[] keys;
    private int[] counts;
    private int[] stored;
    private int size;
    private int shift;

    /** @param maxBytes memory the table may take; at least 16 KiB is used */
    FingerprintTable(long maxBytes) {
        long slots = Math.max(MIN_SLOTS, Long.highestOneBit(Math.max(1, maxBytes / SLOT_BYTES)));
        this.maxSlots = (int) Math.min(1 << 30, slots);
        allocate(Math.min(this.maxSlots, 1 << 14));
    }

    private void allocate(int slots) {
        keys = new long[slots];
        counts = new int[slots];
        stored = new int[slots];
        size = 0;
    }

    /** Result of {@link #add}: the block is not in the sample. */
    static final int SKIPPED = -1;
    /** Result of {@link #add}: a further reference to a known block. */
    static final int KNOWN = 0;
    /** Result of {@link #add}: a new distinct block (the caller works out its stored bytes). */
    static final int NEW = 1;

    /** Counts one reference to {@code key}; returns {@link #NEW}, {@link #KNOWN} or {@link #SKIPPED}. */
    int add(long key) {
        key = key == 0 ? 1 : key;
        if (!sampled(key)) {
            return SKIPPED;
        }
        int i = find(key);
        if (keys[i] == key) {
            if (counts[i] != Integer.MAX_VALUE) {
                counts[i]++;
            }
            return KNOWN;
        }
        if ((size + 1) * 4L > keys.length * 3L) {
            makeRoom();
            if (!sampled(key)) {
                return SKIPPED;
            }
            i = find(key);
        }
        keys[i] = key;
        counts[i] = 1;
        size++;
        return NEW;
    }

    /** Records the stored (record) bytes of {@code key}'s chunk; nothing if it left the sample meanwhile. */
    void setStored(long key, int bytes) {
        key = key == 0 ? 1 : key;
        if (!sampled(key)) {
            return;
        }
        int i = find(key);
        if (keys[i] == key) {
            stored[i] = bytes;
        }
    }

    private boolean sampled(long key) {
        return shift == 0 || key >>> (64 - shift) == 0;
    }

    private int find(long key) {
        int mask = keys.length - 1;
        int i = (int) mix(key) & mask;
        while (keys[i] != 0 && keys[i] != key) {
            i = (i + 1) & mask;
        }
        return i;
    }

    /** Spreads the key's low bits (the top bits are the sampling filter and must not decide the slot). */
    private static long mix(long k) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        return k;
    }

    private void makeRoom() {
        long[] oldKeys = keys;
        int[] oldCounts = counts;
        int[] oldStored = stored;
        if (oldKeys.length < maxSlots) {
            allocate(oldKeys.length * 2);
        } else {
            shift++;
            allocate(oldKeys.length);
        }
        for (int j = 0; j < oldKeys.length; j++) {
            long k = oldKeys[j];
            if (k != 0 && sampled(k)) {
                int i = find(k);
                keys[i] = k;
                counts[i] = oldCounts[j];
                stored[i] = oldStored[j];
                size++;
            }
        }
        if ((size + 1) * 4L > keys.length * 3L) {
            makeRoom(); // the halving kept more than fits (a skewed sample): halve again
        }
    }

    /** Sampling shift: one distinct block in 2^shift is kept (0: every block, exact figures). */
    int shift() {
        return shift;
    }

    /** Distinct keys held. */
    int size() {
        return size;
    }

    /** Bytes the arrays take now. */
    long bytes() {
        return (long) keys.length * SLOT_BYTES;
    }

    /** Visits every held key's reference count and stored bytes. */
    void forEach(EntryVisitor v) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != 0) {
                v.visit(counts[i], stored[i]);
            }
        }
    }

    interface EntryVisitor {
        void visit(int references, int storedBytes);
    }
}
