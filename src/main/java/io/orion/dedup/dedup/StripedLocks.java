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
        return lock(volume, first, last, volume2, first2, last2, null);
    }

    /**
     * As {@link #lock(int, long, long, int, long, long)}, for a writer running in {@code scope}
     * (null: none): before it waits for a stripe, it commits what the scope deferred, since the
     * holder may be an earlier write of the same burst waiting for that commit.
     */
    private Held lock(int volume, long first, long last, int volume2, long first2, long last2, IoBatch.Scope scope) {
        if (first == last && volume2 < 0) {
            int s = stripe(volume, first);
            try {
                acquire(locks[s], scope);
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
        return take(set, scope);
    }

    /** Takes the stripes of {@code set} in ascending order (the one order every caller uses). */
    private Held take(BitSet set, IoBatch.Scope scope) {
        int[] order = new int[set.cardinality()];
        for (int i = set.nextSetBit(0), k = 0; i >= 0; i = set.nextSetBit(i + 1)) {
            order[k++] = i;
        }
        int taken = 0;
        try {
            for (int s : order) {
                acquire(locks[s], scope);
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
     * Takes a stripe; before waiting for one, commits what {@code scope} deferred (IoBatch), since
     * the holder may be an earlier write of the same burst waiting for that commit.
     */
    private static void acquire(Semaphore stripe, IoBatch.Scope scope) throws InterruptedException {
        if (!stripe.tryAcquire()) {
            if (scope != null) {
                scope.runDeferred();
            }
            stripe.acquire();
        }
    }

    Held lock(int volume, long first, long last) {
        return lock(volume, first, last, -1, 0, -1, null);
    }

    /** {@link #lock(int, long, long)} for a writer running in {@code scope} (null: none). */
    Held lock(int volume, long first, long last, IoBatch.Scope scope) {
        return lock(volume, first, last, -1, 0, -1, scope);
    }

    /**
     * The stripes of dedup blocks {@code [first, last]} of {@code volume} if every one is free now,
     * else null (none taken): for a writer that must not wait (an inline {@link IoBatch.Scope}).
     */
    Held tryLock(int volume, long first, long last) {
        BitSet set = new BitSet(STRIPES);
        add(set, volume, first, last);
        int[] order = new int[set.cardinality()];
        for (int i = set.nextSetBit(0), k = 0; i >= 0; i = set.nextSetBit(i + 1)) {
            order[k++] = i;
        }
        for (int i = 0; i < order.length; i++) {
            if (!locks[order[i]].tryAcquire()) {
                for (int j = 0; j < i; j++) {
                    locks[order[j]].release();
                }
                return null;
            }
        }
        return new Held(order);
    }

    /** Locks the stripes of the dedup blocks {@code (volumes[i], blocks[i])} (any set, in stripe order). */
    Held lockEach(int[] volumes, long[] blocks) {
        BitSet set = new BitSet(STRIPES);
        for (int i = 0; i < volumes.length; i++) {
            set.set(stripe(volumes[i], blocks[i]));
        }
        return take(set, null);
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
