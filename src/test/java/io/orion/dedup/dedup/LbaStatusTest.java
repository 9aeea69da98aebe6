package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.orion.dedup.storage.LbaStatus;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GET LBA STATUS answers (SBC-4 §5.6) stay exact while the volume remembers the last extent it
 * walked: every kind of block-map change (write, zero write, UNMAP, WRITE SAME, reference copy,
 * resize) is visible in the next answer, also for LBAs inside the remembered extent.
 */
class LbaStatusTest {
    @TempDir
    Path dir;

    private static ByteBuffer random(int seed, int bytes) {
        return ByteBuffer.wrap(PoolFixture.random(seed, bytes));
    }

    @Test
    void everyMapChangeIsSeenByTheNextQuery() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun0", 512, 1 << 24, 4096);
            // 800 sectors = 100 dedup blocks mapped from LBA 0
            v.write(0, random(1, 800 * 512), false);
            assertEquals(new LbaStatus(0, 800, true), v.status(0, 1 << 20));
            // answered from the remembered extent: same end, any start inside it
            assertEquals(new LbaStatus(400, 400, true), v.status(400, 1 << 20));
            assertEquals(new LbaStatus(400, 16, true), v.status(400, 16));

            v.unmap(400, 80);
            assertEquals(new LbaStatus(0, 400, true), v.status(0, 1 << 20));
            assertEquals(new LbaStatus(400, 80, false), v.status(400, 1 << 20));
            assertEquals(new LbaStatus(480, 320, true), v.status(480, 1 << 20));

            v.write(440, random(2, 8 * 512), false);
            assertEquals(new LbaStatus(400, 40, false), v.status(400, 1 << 20));
            assertEquals(new LbaStatus(440, 8, true), v.status(440, 1 << 20));

            v.write(0, ByteBuffer.allocate(16 * 512), false);     // zeros: no longer mapped
            assertEquals(new LbaStatus(0, 16, false), v.status(0, 1 << 20));

            v.writeSame(400, 40, random(3, 512), false);
            assertEquals(new LbaStatus(16, 432, true), v.status(16, 1 << 20));

            v.copyFrom(v, 16, 1600, 64);                          // reference copy into unmapped space
            assertEquals(new LbaStatus(1600, 64, true), v.status(1600, 1 << 20));
            assertEquals(new LbaStatus(1664, 64, false), v.status(1664, 64));

            v.resize(1200);                                       // shrink unmaps the tail
            v.resize(32768);
            assertEquals(new LbaStatus(1200, 32768 - 1200, false), v.status(1200, 1 << 20));
            assertEquals(new LbaStatus(480, 320, true), v.status(480, 1 << 20));
        }
    }
}
