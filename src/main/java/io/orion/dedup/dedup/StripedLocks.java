package io.orion.dedup.dedup;

import io.orion.dedup.blockdev.IoBatch;
import java.util.BitSet;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Striped per-dedup-block locks. A write (and a compare-and-write, copy, unmap) holds the stripes
 * of every dedup block it touches from its read-modify-write until its batch committed, so
 * overlapping mutations are serialised and sub-block writes never lose each other's bytes. Stripes
 * are taken in ascending order, so two lockers never deadlock. A stripe is a binary semaphore, not
 * an owned lock: an asynchronous write takes its stripes on an I/O thread and the thread that
 * committed its batch releases them. Not reentrant.
 */
final class StripedLocks {
    private static final int STRIPES = 4096;
    private final Semaphore[] locks = new Semaphore[STRIPES];

    StripedLocks() {
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new Semaphore(1);
        }
    }

    private static int stripe(int volume, long dblock) {
        long h = (dblock + volume * 0x9E3779B97F4A7C15L) * 0xBF58476D1CE4E5B9L;
        return (int) (h >>> 52) & (STRIPES - 1);
    }

    /** Locks the stripes of dedup blocks {@code [first, last]} of {@code volume} (and an optional second range). */
    Held lock(int volume, long first, long last, int volume2, long first2, long last2) {
        if (first == last && volume2 < 0) {
            int s = stripe(volume, first);
            try {
                acquire(locks[s]);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for a block lock", e);
            }
            return new Held(new int[] {s});
        }
        BitSet set = new BitSet(STRIPES);
        add(set, volume, first, last);
        if (volume2 >= 0) {
            add(set, volume2, first2, last2);
        }
        return take(set);
    }

    /** Takes the stripes of {@code set} in ascending order (the one order every caller uses). */
    private Held take(BitSet set) {
        int[] order = new int[set.cardinality()];
        for (int i = set.nextSetBit(0), k = 0; i >= 0; i = set.nextSetBit(i + 1)) {
            order[k++] = i;
        }
        int taken = 0;
        try {
            for (int s : order) {
                acquire(locks[s]);
                taken++;
            }
        } catch (InterruptedException e) {
            for (int i = 0; i < taken; i++) {
                locks[order[i]].release();
            }
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a block lock", e);
        }
        return new Held(order);
    }

    /**
     * Takes a stripe; before waiting for one, commits what this thread deferred (IoBatch), since the
     * holder may be an earlier write of this thread's own batch waiting for that commit.
     */
    private static void acquire(Semaphore stripe) throws InterruptedException {
        if (!stripe.tryAcquire()) {
            IoBatch.runDeferred();
            stripe.acquire();
        }
    }

    Held lock(int volume, long first, long last) {
        return lock(volume, first, last, -1, 0, -1);
    }

    /** Locks the stripes of the dedup blocks {@code (volumes[i], blocks[i])} (any set, in stripe order). */
    Held lockEach(int[] volumes, long[] blocks) {
        BitSet set = new BitSet(STRIPES);
        for (int i = 0; i < volumes.length; i++) {
            set.set(stripe(volumes[i], blocks[i]));
        }
        return take(set);
    }

    private static void add(BitSet set, int volume, long first, long last) {
        if (last - first + 1 >= STRIPES) {
            set.set(0, STRIPES);
            return;
        }
        for (long d = first; d <= last; d++) {
            set.set(stripe(volume, d));
        }
    }

    /** The stripes one caller holds; closing (from any thread, once or more) releases them once. */
    final class Held implements AutoCloseable {
        private final int[] order;
        private final AtomicBoolean released = new AtomicBoolean();

        private Held(int[] order) {
            this.order = order;
        }

        @Override
        public void close() {
            if (!released.compareAndSet(false, true)) {
                return;
            }
            for (int i = order.length - 1; i >= 0; i--) {
                locks[order[i]].release();
            }
        }
    }
}
