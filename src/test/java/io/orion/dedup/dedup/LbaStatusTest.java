package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.orion.dedup.blockdev.LbaStatus;
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

    /**
     * qemu sends one GET LBA STATUS per read in flight, so a burst arrives out of order: a query
     * just before the remembered extent walks only up to it and joins it when the run goes on
     * (each block-map entry is walked once), and answers exactly where the run does not go on.
     */
    @Test
    void aQueryJustBeforeTheRememberedExtentJoinsItOnlyWhenTheRunGoesOn() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun0", 512, 1 << 24, 4096);
            v.write(0, random(1, 10 * 4096), false);             // dedup blocks 0..9 mapped
            v.write(20 * 8, random(2, 80 * 4096), false);        // 20..99 mapped, 10..19 not
            assertEquals(new LbaStatus(400, 400, true), v.status(400, 1 << 20));
            assertEquals(50, v.statusEntriesWalked);             // blocks 50..99
            assertEquals(new LbaStatus(160, 640, true), v.status(160, 1 << 20));
            assertEquals(80, v.statusEntriesWalked);             // only 20..49 more: joined
            assertEquals(new LbaStatus(240, 560, true), v.status(240, 1 << 20));
            assertEquals(80, v.statusEntriesWalked);             // inside the joined extent
            // unmapped 15..19 ends where the mapped extent starts: not joined
            assertEquals(new LbaStatus(120, 40, false), v.status(120, 1 << 20));
            assertEquals(new LbaStatus(160, 640, true), v.status(160, 1 << 20));
            // mapped 0..9 stops at the gap before the remembered extent
            assertEquals(new LbaStatus(0, 80, true), v.status(0, 1 << 20));
            assertEquals(new LbaStatus(80, 80, false), v.status(80, 1 << 20));
            assertEquals(new LbaStatus(800, 32768 - 800, false), v.status(800, 1 << 20));
        }
    }

    /**
     * One GET LBA STATUS asks about a mapped run and then the unmapped run after it (to end its
     * descriptor); the next query, a little before the first, must still find the mapped run
     * remembered and walk only the blocks before it.
     */
    @Test
    void theMappedRunStaysRememberedWhileTheUnmappedRunAfterItIsAskedAbout() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun0", 512, 1 << 24, 4096);
            v.write(0, random(1, 100 * 4096), false);            // dedup blocks 0..99 mapped
            for (int q = 90; q >= 10; q -= 10) {                  // the burst, last read first
                assertEquals(new LbaStatus(q * 8, (100 - q) * 8, true), v.status(q * 8, 8192));
                assertEquals(new LbaStatus(800, 8192, false), v.status(800, 8192));
            }
            assertEquals(90, v.statusEntriesWalked);              // blocks 10..99, each once
            v.unmap(0, 8);                                        // a change forgets them all
            assertEquals(new LbaStatus(8, 792, true), v.status(8, 8192));
            assertEquals(new LbaStatus(0, 8, false), v.status(0, 8192));
            assertEquals(new LbaStatus(800, 8192, false), v.status(800, 8192));
        }
    }
}
