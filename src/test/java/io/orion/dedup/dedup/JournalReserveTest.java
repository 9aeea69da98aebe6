package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.orion.dedup.blockdev.OutOfSpaceException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal reserve: operations that free space (UNMAP, cleanup) journal their changes even when
 * the devices are full, and when even the reserve is gone an UNMAP fails with SPACE ALLOCATION
 * FAILED (OutOfSpaceException) and changes nothing; it never fails silently.
 */
class JournalReserveTest {
    @TempDir
    Path dir;

    /** One device only (the fixture's default device would take whatever does not fit). */
    private PoolOptions options(Path device, long sizeLimit) {
        return PoolOptions.builder(dir.resolve("meta")).device(device, sizeLimit).containerSize(1 << 20)
                .metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0).cacheSize(8 << 20)
                .hashCacheSize(1 << 20).build();
    }

    private static ByteBuffer block(long seed) {
        return ByteBuffer.wrap(PoolFixture.random(seed, 4096));
    }

    /** Writes unique blocks from 0 until the pool refuses one for want of space; returns how many went in. */
    private static int fill(DedupVolume v, long seed) throws IOException {
        for (int lba = 0; lba < v.blockCount(); lba++) {
            try {
                v.write(lba, block(seed + lba), false);
            } catch (IOException e) {
                assertTrue(OutOfSpaceException.isNoSpace(e), e.toString());
                return lba;
            }
        }
        throw new AssertionError("the pool never ran full");
    }

    @Test
    void anUnmapWhoseJournalFindsNoRoomFailsWithOutOfSpaceAndChangesNothing() throws Exception {
        // one device of two 1 MiB container slots, full of chunks: no slot left for journal records
        PoolOptions o = options(dir.resolve("data/small.img"), 2L << 20);
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("v", 4096, 16L << 20, 4096);
            DedupVolume w = pool.createVolume("w", 4096, 16L << 20, 4096);
            int written = fill(v, 1);
            assertTrue(written > 100, "written " + written);
            w.copyFrom(v, 1, 1, 1); // block 1 of w: mapped until the end
            // on the full pool, block 0 of w comes and goes by reference (no new chunk, only
            // journal records) until the journal room is used up
            IOException refused = null;
            int refusedLba = 0;
            int unmaps = 0;
            for (int round = 0; round < 100_000 && refused == null; round++) {
                try {
                    w.copyFrom(v, 0, 0, 1);
                } catch (IOException e) {
                    assertTrue(OutOfSpaceException.isNoSpace(e), e.toString());
                    // no room for the copy's record: none for an UNMAP's either (block 1 is mapped)
                    refusedLba = 1;
                    refused = assertThrows(IOException.class, () -> w.unmap(1, 1));
                    break;
                }
                try {
                    w.unmap(0, 1);
                    unmaps++;
                } catch (IOException e) {
                    refused = e;
                }
            }
            assertTrue(unmaps > 20, "the reserve journaled the UNMAPs of a full pool: " + unmaps);
            assertTrue(refused != null, "once the reserve is used up an UNMAP is refused, never dropped silently");
            assertTrue(OutOfSpaceException.isNoSpace(refused), refused.toString());
            ByteBuffer got = ByteBuffer.allocate(4096);
            w.read(refusedLba, got);
            assertArrayEquals(block(1 + refusedLba).array(), got.array(), "the refused UNMAP changed nothing");
        }
    }

    @Test
    void onAFullFileSystemUnmapAndCleanupStillJournalAndFreeTheSpace() throws Exception {
        Path fs = Files.createDirectories(dir.resolve("fs"));
        assumeTrue(run("id", "-u").trim().equals("0"), "needs root to mount a tmpfs");
        Process m = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", fs.toString())
                .redirectErrorStream(true).start();
        assumeTrue(m.waitFor(30, TimeUnit.SECONDS) && m.exitValue() == 0, "cannot mount a tmpfs");
        try {
            // the device is limited by the file system alone (no size limit of its own)
            PoolOptions o = options(fs.resolve("dev.img"), 0);
            try (DedupPool pool = DedupPool.open(o)) {
                DedupVolume v = pool.createVolume("v", 4096, 64L << 20, 4096);
                int written = fill(v, 1);
                assertTrue(written > 500, "written " + written);
                ByteBuffer again = ByteBuffer.allocate(4096);
                IOException full = assertThrows(IOException.class, () -> v.write(written, block(999_999), false));
                assertTrue(OutOfSpaceException.isNoSpace(full), full.toString());
                for (int lba = 0; lba < written; lba += 1024) { // UNMAPs of 4 MiB each, as a host sends them
                    v.unmap(lba, Math.min(1024, written - lba));
                }
                pool.flush();
                CleanupResult c = pool.cleanup();
                assertTrue(c.containersCompacted() > 0, c.toString());
                assertEquals(written / 2, fill2(v, written / 2), "the freed space takes new data");
                pool.flush();
                v.read(0, again);
                assertArrayEquals(block(7).array(), again.array());
            }
        } finally {
            new ProcessBuilder("umount", fs.toString()).start().waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** Writes {@code n} unique blocks from 0 (seed 7); returns how many went in. */
    private static int fill2(DedupVolume v, int n) throws IOException {
        for (int lba = 0; lba < n; lba++) {
            v.write(lba, block(7 + lba), false);
        }
        return n;
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor(10, TimeUnit.SECONDS);
        return out;
    }
}
