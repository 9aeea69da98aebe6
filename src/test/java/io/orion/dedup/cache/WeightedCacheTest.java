package io.orion.dedup.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The byte-weighted cache keeps within its limit and counts hits and misses. */
class WeightedCacheTest {
    @Test
    void staysWithinItsByteLimitAndCountsHits() {
        WeightedCache<Long, byte[]> c = new WeightedCache<>(64 * 1024, (k, v) -> v.length);
        for (long i = 0; i < 100; i++) {
            c.put(i, new byte[4096]);
        }
        assertTrue(c.stats().weightBytes() <= 64 * 1024, c.stats().toString());
        WeightedCache<Long, byte[]> d = new WeightedCache<>(64 * 1024, (k, v) -> v.length);
        d.put(1000L, new byte[10]);
        d.get(1000L);
        d.get(-5L);
        CacheStats s = d.stats();
        assertEquals(0.5, s.hitRate(), 1e-9);
        assertTrue(s.hits() >= 1);
        assertTrue(s.misses() >= 1);
        c.remove(1000L, new byte[10]);
        c.clear();
        assertEquals(0, c.stats().weightBytes());
    }

    @Test
    void zeroLimitDisablesTheCache() {
        WeightedCache<Long, Long> c = new WeightedCache<>(0, (k, v) -> 96);
        c.put(1L, 2L);
        assertNull(c.get(1L));
    }
}
