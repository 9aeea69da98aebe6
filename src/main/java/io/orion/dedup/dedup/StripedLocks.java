package io.orion.dedup.dedup;

import java.util.BitSet;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Striped per-dedup-block locks. A write (and a compare-and-write, copy, unmap) holds the stripes
 * of every dedup block it touches from its read-modify-write until its batch committed, so
 * overlapping mutations are serialised and sub-block writes never lose each other's bytes. Stripes
 * are taken in ascending order, so two lockers never deadlock.
 */
final class StripedLocks {
    private static final int STRIPES = 4096;
    private final ReentrantLock[] locks = new ReentrantLock[STRIPES];

    StripedLocks() {
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new ReentrantLock();
        }
    }

    private static int stripe(int volume, long dblock) {
        long h = (dblock + volume * 0x9E3779B97F4A7C15L) * 0xBF58476D1CE4E5B9L;
        return (int) (h >>> 52) & (STRIPES - 1);
    }

    /** Locks the stripes of dedup blocks {@code [first, last]} of {@code volume} (and an optional second range). */
    Held lock(int volume, long first, long last, int volume2, long first2, long last2) {
        BitSet set = new BitSet(STRIPES);
        add(set, volume, first, last);
        if (volume2 >= 0) {
            add(set, volume2, first2, last2);
        }
        int[] order = new int[set.cardinality()];
        for (int i = set.nextSetBit(0), k = 0; i >= 0; i = set.nextSetBit(i + 1)) {
            order[k++] = i;
        }
        int taken = 0;
        try {
            for (int s : order) {
                locks[s].lockInterruptibly();
                taken++;
            }
        } catch (InterruptedException e) {
            for (int i = 0; i < taken; i++) {
                locks[order[i]].unlock();
            }
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a block lock", e);
        }
        return new Held(order);
    }

    Held lock(int volume, long first, long last) {
        return lock(volume, first, last, -1, 0, -1);
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

    /** The stripes one caller holds; closing releases them. */
    final class Held implements AutoCloseable {
        private final int[] order;

        private Held(int[] order) {
            this.order = order;
        }

        @Override
        public void close() {
            for (int i = order.length - 1; i >= 0; i--) {
                locks[order[i]].unlock();
            }
        }
    }
}
