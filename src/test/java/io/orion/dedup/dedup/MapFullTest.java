package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MDB_MAP_FULL is an expected condition: the map grows and the batch is replayed. */
class MapFullTest {
    @TempDir
    Path dir;

    @Test
    void tinyMapGrowsAndEveryWriteLands() throws Exception {
        PoolOptions o = PoolFixture.options(dir).metadataMapSize(128 << 10).compressionEnabled(false).build();
        int blocks = 6000;
        try (DedupPool pool = DedupPool.open(o)) {
            long initial = pool.meta().mapSize();
            DedupVolume v = pool.createVolume("lun", 4096, blocks * 4096L, 4096);
            for (int lba = 0; lba < blocks; lba += 8) {
                ByteBuffer buf = ByteBuffer.allocate(8 * 4096);
                for (int i = 0; i < 8; i++) {
                    buf.put(PoolFixture.random(lba + i, 4096));
                }
                v.write(lba, buf.flip(), false);
            }
            assertTrue(pool.meta().mapSize() > initial, "map grew");
            assertNull(pool.readOnlyReason());
            assertEquals(blocks, pool.stats().uniqueChunks());
        }
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 0; lba < blocks; lba += 97) {
                assertArrayEquals(PoolFixture.random(lba, 4096), PoolFixture.read(v, lba, 1).array());
            }
            v.write(0, ByteBuffer.wrap(PoolFixture.random(-1, 4096)), true);
            assertEquals(blocks, pool.stats().uniqueChunks());
        }
    }
}
