package io.orion.dedup.config;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class HeapFitTest {

    private static final long MIB = 1L << 20;

    @Test
    void theDefaultCachesNeedMoreThanAOneGibHeap() {
        DedupSettings d = OrionConfig.defaults().deduplication();
        ConfigException e = assertThrows(ConfigException.class,
                () -> HeapFit.check(d, Path.of("conf/dedup.toml"), 1024 * MIB));
        assertTrue(e.getMessage().startsWith("conf/dedup.toml: deduplication.cache_size = 1.0 GiB: "), e.getMessage());
        assertTrue(e.getMessage().contains("hash_cache_size = 256.0 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("at least 1707 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("ORION_HEAP=2g"), e.getMessage());
        assertDoesNotThrow(() -> HeapFit.check(d, null, 2048 * MIB));
        assertDoesNotThrow(() -> HeapFit.check(d, null, 4096 * MIB));
    }

    @Test
    void smallCachesFitASmallHeap() {
        DedupSettings d = OrionConfig.defaults().deduplication();
        DedupSettings small = new DedupSettings(d.hashAlgorithm(), d.hashBlockSize(), 16 * MIB, d.hashOptimization(),
                d.referenceMaxCount(), d.referenceCleanupIntervalSeconds(), d.referenceOptimization(),
                d.referenceMetadataSize(), 16 * MIB, d.cachePolicy(), d.cacheOptimization(), d.cacheCompression(),
                d.compressionEnabled(), d.compressionAlgorithm(), d.compressionLevel(), d.compressionThreshold(),
                d.backgroundProcessing(), d.backgroundIntervalSeconds(), d.performanceOptimization(),
                d.realTimeDeduplication(), d.verify());
        assertDoesNotThrow(() -> HeapFit.check(small, null, 256 * MIB));
        assertThrows(ConfigException.class, () -> HeapFit.check(small, null, 40 * MIB));
    }
}
