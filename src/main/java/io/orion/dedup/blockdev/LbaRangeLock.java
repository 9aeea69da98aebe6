package io.orion.dedup.blockdev;

import java.util.ArrayList;
import java.util.List;

/**
 * Exclusive locks on ranges of logical blocks. Overlapping ranges exclude each other; disjoint
 * ranges proceed in parallel. Used to make COMPARE AND WRITE (SBC-4 §5.3) atomic against every
 * other command that touches the same blocks.
 *
 * <p>Concurrency: one monitor guards the list of held ranges; a thread whose range overlaps a held
 * one waits on that monitor until a release. Ranges are held for the duration of one block I/O,
 * so the list stays short (bounded by the number of I/O threads).
 */
public final class LbaRangeLock {

    private final List<Range> held = new ArrayList<>();

    /** A held range; closing it releases the range. */
    public final class Range implements AutoCloseable {
        private final long start;
        private final long end;
        private boolean released;

        private Range(long start, long end) {
            this.start = start;
            this.end = end;
        }

        @Override
        public void close() {
            synchronized (held) {
                if (!released) {
                    released = true;
                    held.remove(this);
                    held.notifyAll();
                }
            }
        }
    }

    /**
     * Waits until no held range overlaps {@code [lba, lba + blocks)} and takes it. A range of zero
     * blocks is treated as one block, so it still orders against writers of that block.
     */
    public Range lock(long lba, long blocks) {
        long end = lba + Math.max(1, blocks);
        boolean interrupted = false;
        synchronized (held) {
            while (overlaps(lba, end)) {
                try {
                    held.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            Range r = new Range(lba, end);
            held.add(r);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return r;
        }
    }

    private boolean overlaps(long start, long end) {
        for (Range r : held) {
            if (r.start < end && start < r.end) {
                return true;
            }
        }
        return false;
    }

    /** Number of ranges currently held (for tests and metrics). */
    public int heldCount() {
        synchronized (held) {
            return held.size();
        }
    }
}
