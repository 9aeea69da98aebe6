package io.orion.dedup.blockdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BufferPoolTest {
    @Test
    void buffersComeInPowerOfTwoClassesAndAreRecycled() {
        BufferPool<byte[]> pool = new BufferPool<>(1 << 20, byte[]::new, a -> a.length);
        byte[] a = pool.take(5000);
        assertEquals(8192, a.length);
        assertEquals(4096, pool.take(1).length, "the smallest class is 4 KiB");
        pool.give(a);
        assertSame(a, pool.take(8192), "a returned buffer serves the next request of its class");
        assertNotSame(a, pool.take(8192));
    }

    @Test
    void largeRequestsAndForeignBuffersAreNotPooled() {
        BufferPool<byte[]> pool = new BufferPool<>(64 << 20, byte[]::new, a -> a.length);
        assertTrue(BufferPool.pooled(8 << 20));
        assertFalse(BufferPool.pooled((8 << 20) + 1));
        byte[] big = pool.take((8 << 20) + 1);
        assertEquals((8 << 20) + 1, big.length, "exactly the size asked for");
        pool.give(big);
        byte[] odd = new byte[5000];
        pool.give(odd);
        assertNotSame(odd, pool.take(4096));
    }

    @Test
    void idleBuffersAreBounded() {
        BufferPool<byte[]> pool = new BufferPool<>(3 * 4096, byte[]::new, a -> a.length);
        byte[][] taken = new byte[5][];
        for (int i = 0; i < 5; i++) {
            taken[i] = pool.take(4096);
        }
        for (byte[] b : taken) {
            pool.give(b);
        }
        int recycled = 0;
        for (int i = 0; i < 5; i++) {
            byte[] b = pool.take(4096);
            for (byte[] t : taken) {
                if (t == b) {
                    recycled++;
                }
            }
        }
        assertEquals(3, recycled, "only 12 KiB of idle buffers were kept");
    }
}
