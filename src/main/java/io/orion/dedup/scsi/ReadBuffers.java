package io.orion.dedup.scsi;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Direct buffers for READ data, recycled by size class (powers of two from 4 KiB to 8 MiB).
 *
 * <p>A read fills the buffer completely before it is sent, so a recycled buffer is never zeroed;
 * a fresh {@code allocateDirect} zeroes its memory, and Netty's pooled allocator, used from worker
 * threads without a thread cache, kept creating and destroying (and so zeroing) 4 MiB chunks as the
 * queue of outstanding reads rose and fell. Each class keeps at most {@link #CLASS_BYTES} of idle
 * buffers; larger requests use the heap.
 */
final class ReadBuffers {
    static final int MIN_SHIFT = 12;
    static final int MAX_SHIFT = 23;
    static final int CLASS_BYTES = 32 << 20;

    @SuppressWarnings("unchecked")
    private static final ArrayBlockingQueue<ByteBuffer>[] FREE = new ArrayBlockingQueue[MAX_SHIFT - MIN_SHIFT + 1];

    static {
        for (int s = MIN_SHIFT; s <= MAX_SHIFT; s++) {
            FREE[s - MIN_SHIFT] = new ArrayBlockingQueue<>(Math.max(4, CLASS_BYTES >> s));
        }
    }

    private ReadBuffers() {
    }

    /** A buffer for {@code bytes} bytes and the action that gives it back (to run exactly once). */
    record Lease(ByteBuffer buffer, Runnable release) {
    }

    static Lease lease(int bytes) {
        int shift = Math.max(MIN_SHIFT, 32 - Integer.numberOfLeadingZeros(bytes - 1));
        if (shift > MAX_SHIFT) {
            return new Lease(ByteBuffer.allocate(bytes), null);
        }
        ArrayBlockingQueue<ByteBuffer> free = FREE[shift - MIN_SHIFT];
        ByteBuffer b = free.poll();
        if (b == null) {
            b = ByteBuffer.allocateDirect(1 << shift);
        }
        ByteBuffer whole = b;
        AtomicBoolean released = new AtomicBoolean();
        return new Lease(whole.clear().limit(bytes), () -> {
            if (released.compareAndSet(false, true)) {
                free.offer(whole);
            }
        });
    }
}
