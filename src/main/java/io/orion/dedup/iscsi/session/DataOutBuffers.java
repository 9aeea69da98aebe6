package io.orion.dedup.iscsi.session;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Heap arrays for the data of write commands, recycled by size class (powers of two from 4 KiB to
 * 8 MiB).
 *
 * <p>Why: initiators write in large requests (qemu-img convert sends 2 MiB). A fresh array that
 * large is a humongous G1 allocation: the JVM zeroes it and the kernel faults in and clears fresh
 * pages, which together cost a quarter of the server's CPU in a sequential write. A recycled array is
 * not zeroed: every byte the command layer sees has been written by this command's data, because
 * a command runs only after all of its data arrived, in order (DataPDUInOrder and
 * DataSequenceInOrder are always Yes here), and it sees exactly the bytes received.
 *
 * <p>Idle arrays are bounded: at most {@link #IDLE_BYTES} in all.
 */
final class DataOutBuffers {
    static final int MIN_SHIFT = 12;
    static final int MAX_SHIFT = 23;
    static final long IDLE_BYTES = 64L << 20;

    @SuppressWarnings("unchecked")
    private static final ArrayBlockingQueue<byte[]>[] FREE = new ArrayBlockingQueue[MAX_SHIFT - MIN_SHIFT + 1];
    private static final AtomicLong IDLE = new AtomicLong();

    static {
        for (int s = MIN_SHIFT; s <= MAX_SHIFT; s++) {
            FREE[s - MIN_SHIFT] = new ArrayBlockingQueue<>(Math.max(2, (int) (IDLE_BYTES >> s)));
        }
    }

    private DataOutBuffers() {
    }

    /** An array of at least {@code len} bytes (its contents are not zeroed). */
    static byte[] take(int len) {
        int shift = Math.max(MIN_SHIFT, 32 - Integer.numberOfLeadingZeros(len - 1));
        if (shift > MAX_SHIFT) {
            return new byte[len];
        }
        byte[] a = FREE[shift - MIN_SHIFT].poll();
        if (a == null) {
            return new byte[1 << shift];
        }
        IDLE.addAndGet(-a.length);
        return a;
    }

    /** Gives back an array from {@link #take} that nothing uses any more. */
    static void give(byte[] a) {
        int shift = 31 - Integer.numberOfLeadingZeros(a.length);
        if (a.length != 1 << shift || shift < MIN_SHIFT || shift > MAX_SHIFT) {
            return;
        }
        if (IDLE.addAndGet(a.length) > IDLE_BYTES || !FREE[shift - MIN_SHIFT].offer(a)) {
            IDLE.addAndGet(-a.length);
        }
    }
}
