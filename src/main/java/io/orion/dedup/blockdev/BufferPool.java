package io.orion.dedup.blockdev;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import java.util.function.ToIntFunction;

/**
 * Recycled I/O buffers by size class: powers of two from 4 KiB to 8 MiB. A recycled buffer is not
 * zeroed (what it held before is still in it), which is the point: a fresh large buffer is zeroed by
 * the JVM and faulted in by the kernel. Callers must only expose bytes they wrote themselves.
 * Idle buffers are bounded in all by {@code idleBytes}; requests above 8 MiB are not pooled.
 *
 * @param <T> the buffer type (a heap array, a direct ByteBuffer)
 */
public final class BufferPool<T> {
    static final int MIN_SHIFT = 12;
    static final int MAX_SHIFT = 23;

    private final ArrayBlockingQueue<T>[] free;
    private final AtomicLong idle = new AtomicLong();
    private final long idleBytes;
    private final IntFunction<T> allocate;
    private final ToIntFunction<T> capacity;

    /**
     * @param idleBytes most bytes of idle buffers kept
     * @param allocate a new buffer of exactly the given capacity
     * @param capacity a buffer's capacity
     */
    @SuppressWarnings("unchecked")
    public BufferPool(long idleBytes, IntFunction<T> allocate, ToIntFunction<T> capacity) {
        this.idleBytes = idleBytes;
        this.allocate = allocate;
        this.capacity = capacity;
        this.free = new ArrayBlockingQueue[MAX_SHIFT - MIN_SHIFT + 1];
        for (int s = MIN_SHIFT; s <= MAX_SHIFT; s++) {
            free[s - MIN_SHIFT] = new ArrayBlockingQueue<>(Math.max(2, (int) Math.min(1 << 20, idleBytes >> s)));
        }
    }

    /** True if requests of {@code len} bytes come from the pool (else {@link #take} allocates exactly). */
    public static boolean pooled(int len) {
        return shift(len) <= MAX_SHIFT;
    }

    private static int shift(int len) {
        return Math.max(MIN_SHIFT, 32 - Integer.numberOfLeadingZeros(len - 1));
    }

    /** A buffer of at least {@code len} bytes (contents not zeroed when recycled). */
    public T take(int len) {
        int s = shift(len);
        if (s > MAX_SHIFT) {
            return allocate.apply(len);
        }
        T b = free[s - MIN_SHIFT].poll();
        if (b == null) {
            return allocate.apply(1 << s);
        }
        idle.addAndGet(-capacity.applyAsInt(b));
        return b;
    }

    /** Gives back a buffer from {@link #take} that nothing uses any more (others are dropped). */
    public void give(T b) {
        int cap = capacity.applyAsInt(b);
        int s = 31 - Integer.numberOfLeadingZeros(cap);
        if (cap != 1 << s || s < MIN_SHIFT || s > MAX_SHIFT) {
            return;
        }
        if (idle.addAndGet(cap) > idleBytes || !free[s - MIN_SHIFT].offer(b)) {
            idle.addAndGet(-cap);
        }
    }
}
