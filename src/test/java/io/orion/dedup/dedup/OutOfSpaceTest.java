package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.OutOfSpaceException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pool whose devices have no free container slot refuses new data with {@link OutOfSpaceException}
 * (DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT at the SCSI layer), stays writable, serves
 * reads, and takes new data again once UNMAP and cleanup freed space; all of it survives a reopen.
 */
class OutOfSpaceTest {
    @TempDir
    Path dir;

    private static ByteBuffer run(long seed, int blocks) {
        ByteBuffer b = ByteBuffer.allocate(blocks * 4096);
        for (int i = 0; i < blocks; i++) {
            b.put(PoolFixture.random(seed * 1_000_003L + i, 4096));
        }
        return b.flip();
    }

    @Test
    void aFullPoolRefusesWithOutOfSpaceAndTakesDataAgainAfterUnmapAndCleanup() throws Exception {
        PoolOptions o = PoolOptions.builder(dir.resolve("meta")).device(dir.resolve("data/dev0.img"), 2 << 20)
                .containerSize(1 << 20).metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0)
                .cacheSize(8 << 20).hashCacheSize(1 << 20).compressionEnabled(false).build();
        int written = 0;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", 4096, 64L << 20, 4096);
            IOException refused = null;
            for (int lba = 0; lba < 4096 && refused == null; lba += 16) {
                try {
                    v.write(lba, run(lba, 16), false);
                    written = lba + 16;
                } catch (IOException e) {
                    refused = e;
                }
            }
            assertNotNull(refused, "two 1 MiB slots must run full");
            assertTrue(refused instanceof OutOfSpaceException, "out of space, not a medium error: " + refused);
            assertNull(pool.readOnlyReason(), "a full pool stays writable");
            assertTrue(written > 0);
            assertArrayEquals(run(0, 16).array(), PoolFixture.read(v, 0, 16).array(), "reads still work");
            v.write(0, run(0, 16), false); // an overwrite with data the pool holds needs no space

            v.unmap(16, written - 16);
            pool.flush();
            assertTrue(pool.cleanup().containersCompacted() > 0);
            for (int lba = 16; lba < written / 2; lba += 16) {
                v.write(lba, run(lba + 7777, 16), false);
            }
            pool.flush();
        }
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertArrayEquals(run(0, 16).array(), PoolFixture.read(v, 0, 16).array());
            for (int lba = 16; lba < written / 2; lba += 16) {
                assertArrayEquals(run(lba + 7777, 16).array(), PoolFixture.read(v, lba, 16).array(), "lba " + lba);
            }
        }
    }
}
