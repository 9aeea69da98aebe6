package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.blockdev.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening LUN definitions against the volumes that exist (what a start-up does). */
class VolumesTest {

    @TempDir
    Path dir;

    /** Issue item 2: a definition smaller than its volume never shrinks it silently. */
    @Test
    void aDefinitionSmallerThanItsVolumeIsRefusedAndTheDataStays() throws Exception {
        byte[] tail = new byte[512];
        Arrays.fill(tail, (byte) 0x5A);
        long big = 64L << 20;
        try (Volumes v = new Volumes(OrionConfig.defaults(), dir)) {
            BlockDevice d = v.open(LunDefinition.dedup(0, "vol", big, 512));
            d.write(big / 512 - 1, ByteBuffer.wrap(tail), true);
        }
        try (Volumes v = new Volumes(OrionConfig.defaults(), dir)) {
            IOException e = assertThrows(IOException.class, () -> v.open(LunDefinition.dedup(0, "vol", 1L << 20, 512)));
            assertTrue(e.getMessage().contains("refusing to shrink"), e.getMessage());
            BlockDevice d = v.open(LunDefinition.dedup(0, "vol", 2 * big, 512));
            assertEquals(2 * big / 512, d.blockCount(), "a larger definition grows it");
            ByteBuffer back = ByteBuffer.allocate(512);
            d.read(big / 512 - 1, back);
            assertArrayEquals(tail, back.array(), "the last block written is still there");
        }
    }

    @Test
    void everySeedKeyThatTunesThePoolReachesIt() throws Exception {
        Path conf = dir.resolve("dedup.toml");
        java.nio.file.Files.writeString(conf, """
                [deduplication]
                hash_cache_size = "3MB"
                reference_max_count = 77
                reference_cleanup_interval = 123
                reference_metadata_size = "5MB"
                cache_size = "7MB"
                compression_enabled = false
                compression_level = 6
                compression_threshold = 0.5
                verify = true
                """);
        io.orion.dedup.dedup.PoolOptions o = Volumes.poolOptions(OrionConfig.load(conf), dir.resolve("d"));
        assertEquals(3L << 20, o.hashCacheSize());
        assertEquals(77, o.referenceMaxCount());
        assertEquals(123, o.referenceCleanupIntervalSeconds());
        assertEquals(5L << 20, o.metadataMapSize());
        assertEquals(7L << 20, o.cacheSize());
        assertEquals(false, o.compressionEnabled());
        assertEquals(6, o.compressionLevel());
        assertEquals(0.5, o.compressionThreshold());
        assertTrue(o.verify());
        assertEquals(false, Volumes.poolOptions(OrionConfig.defaults(), dir.resolve("e")).verify(), "verify is off by default");
        java.nio.file.Files.writeString(conf, "[deduplication]\nbackground_processing = false\n");
        assertEquals(0, Volumes.poolOptions(OrionConfig.load(conf), dir.resolve("f")).referenceCleanupIntervalSeconds(),
                "no background cleanup without background_processing");
    }
}
