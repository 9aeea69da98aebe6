package io.orion.dedup.config;

import java.nio.file.Path;

/**
 * The block cache and the fingerprint cache live in the JVM heap. Caches that do not leave the rest
 * of the server a quarter of the heap end in OutOfMemoryError under load, which initiators see as
 * HARDWARE ERROR on their writes; {@code serve} refuses such a configuration at start instead.
 */
public final class HeapFit {

    /** The caches may take at most this share of the heap. */
    static final double MAX_CACHE_SHARE = 0.75;

    private HeapFit() {
    }

    /**
     * @param file the configuration file the cache sizes came from (null: built-in defaults)
     * @param heap the heap the server runs with ({@code Runtime.maxMemory()})
     * @throws ConfigException when {@code cache_size + hash_cache_size} exceed 75 % of {@code heap}
     */
    public static void check(DedupSettings d, Path file, long heap) throws ConfigException {
        long caches = d.cacheSize() + d.hashCacheSize();
        if (caches <= (long) (heap * MAX_CACHE_SHARE)) {
            return;
        }
        long need = (long) Math.ceil(caches / MAX_CACHE_SHARE);
        long needMiB = (need + (1 << 20) - 1) >> 20;
        throw new ConfigException(file, 0, "deduplication.cache_size",
                ByteSize.format(d.cacheSize()),
                "with hash_cache_size = " + ByteSize.format(d.hashCacheSize()) + " the caches need a heap of at least "
                        + needMiB + " MiB (they may take 3/4 of it), but this server's heap is "
                        + (heap >> 20) + " MiB: set ORION_HEAP (e.g. ORION_HEAP=" + ((needMiB + 1023) / 1024)
                        + "g) or lower the cache sizes");
    }
}
