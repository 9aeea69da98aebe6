package io.orion.dedup.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.function.ToIntBiFunction;

/**
 * A Caffeine cache bounded by bytes: each entry weighs what the given weigher says (the block
 * cache weighs decompressed chunk bytes; the fingerprint cache a fixed per-entry estimate). A
 * limit of 0 disables the cache (every lookup misses, nothing is kept).
 */
public final class WeightedCache<K, V> {
    private final Cache<K, V> cache;
    private final long limit;

    public WeightedCache(long limitBytes, ToIntBiFunction<K, V> weigher) {
        this(limitBytes, weigher, 0);
    }

    /**
     * @param expectedEntries the entries the cache holds once full (0: unknown): its hash table is
     *     made that large at once, so filling it does not rehash it table by table under load
     */
    public WeightedCache(long limitBytes, ToIntBiFunction<K, V> weigher, int expectedEntries) {
        this.limit = Math.max(0, limitBytes);
        Caffeine<Object, Object> b = Caffeine.newBuilder();
        if (expectedEntries > 0 && limit > 0) {
            // Caffeine hands this to ConcurrentHashMap, which makes its table the power of two above
            // 1.5 times it: two thirds gives the table a full cache grows into anyway
            b.initialCapacity(Math.max(16, expectedEntries / 3 * 2));
        }
        this.cache = b.maximumWeight(limit)
                .weigher((K k, V v) -> weigher.applyAsInt(k, v)).executor(Runnable::run).recordStats().build();
    }

    public V get(K key) {
        return limit == 0 ? null : cache.getIfPresent(key);
    }

    public void put(K key, V value) {
        if (limit > 0) {
            cache.put(key, value);
        }
    }

    /** Removes {@code key} only while it still maps to {@code value}. */
    public void remove(K key, V value) {
        cache.asMap().remove(key, value);
    }

    public void invalidate(K key) {
        cache.invalidate(key);
    }

    public void clear() {
        cache.invalidateAll();
        cache.cleanUp();
    }

    public CacheStats stats() {
        cache.cleanUp();
        com.github.benmanes.caffeine.cache.stats.CacheStats s = cache.stats();
        long weight = cache.policy().eviction().map(e -> e.weightedSize().orElse(0)).orElse(0L);
        return new CacheStats(s.hitCount(), s.missCount(), s.requestCount() == 0 ? 0 : s.hitRate(),
                s.evictionCount(), weight, limit);
    }
}
