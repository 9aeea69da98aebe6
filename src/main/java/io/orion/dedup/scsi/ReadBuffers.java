package io.orion.dedup.scsi;

import io.orion.dedup.blockdev.BufferPool;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Direct buffers for READ data, recycled ({@link BufferPool}, at most 64 MiB idle).
 *
 * <p>A read fills the buffer completely before it is sent, so a recycled buffer is never zeroed;
 * a fresh {@code allocateDirect} zeroes its memory, and Netty's pooled allocator, used from worker
 * threads without a thread cache, kept creating and destroying (and so zeroing) 4 MiB chunks as the
 * queue of outstanding reads rose and fell. Requests above 8 MiB use the heap.
 */
final class ReadBuffers {
    private static final BufferPool<ByteBuffer> POOL =
            new BufferPool<>(64L << 20, ByteBuffer::allocateDirect, ByteBuffer::capacity);

    private ReadBuffers() {
    }

    /** A buffer for {@code bytes} bytes and the action that gives it back (to run exactly once). */
    record Lease(ByteBuffer buffer, Runnable release) {
    }

    static Lease lease(int bytes) {
        if (!BufferPool.pooled(bytes)) {
            return new Lease(ByteBuffer.allocate(bytes), null);
        }
        ByteBuffer whole = POOL.take(bytes);
        AtomicBoolean released = new AtomicBoolean();
        return new Lease(whole.clear().limit(bytes), () -> {
            if (released.compareAndSet(false, true)) {
                POOL.give(whole);
            }
        });
    }
}
