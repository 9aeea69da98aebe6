package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The read transaction that pins the last flushed state (power-loss rollback) keeps every page
 * freed since from reuse, so between two flushes data.mdb grows by every page the commits copy.
 * On a metadata file system with room for the metadata but not for that growth, the committer
 * flushes to free the pinned pages instead of refusing writes: FullFileSystemIT's "metadata alone
 * on its own full file system" failed with DATA PROTECT at 34 MiB of 48 under load for this.
 * Needs root (mount); skipped otherwise.
 */
class PinnedSpaceTest {
    @TempDir
    Path dir;
    private Path fs;

    @BeforeEach
    void mount() throws Exception {
        fs = Files.createDirectories(dir.resolve("metafs"));
        assumeTrue(run("id", "-u").trim().equals("0"), "needs root to mount a tmpfs");
        Process m = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", fs.toString())
                .redirectErrorStream(true).start();
        assumeTrue(m.waitFor(30, TimeUnit.SECONDS) && m.exitValue() == 0, "cannot mount a tmpfs");
        // no flush by time or by count during the test: only what space asks for
        System.setProperty("orion.flushEveryOps", "100000000");
        System.setProperty("orion.flushEveryMillis", "600000");
    }

    @AfterEach
    void umount() throws Exception {
        System.clearProperty("orion.flushEveryOps");
        System.clearProperty("orion.flushEveryMillis");
        if (fs != null) {
            new ProcessBuilder("umount", fs.toString()).start().waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static ByteBuffer block(long seed) {
        return ByteBuffer.wrap(PoolFixture.random(seed, 4096));
    }

    @Test
    void writesBetweenFlushesFreeThePinnedPagesInsteadOfRunningTheMetadataFull() throws Exception {
        PoolOptions o = PoolOptions.builder(fs.resolve("meta")).device(dir.resolve("data/dev.img"), 0)
                .containerSize(1 << 20).metadataMapSize(256L << 20).referenceCleanupIntervalSeconds(0)
                .cacheSize(8 << 20).hashCacheSize(1 << 20).build();
        int n = 6000; // about 1.5 MiB of metadata; one commit each, a few pages copied per commit
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("v", 4096, 64L << 20, 4096);
            for (int lba = 0; lba < n; lba++) {
                try {
                    v.write(lba, block(lba), false);
                } catch (IOException e) {
                    throw new AssertionError("write " + lba + " of " + n + " refused: " + e, e);
                }
            }
            pool.flush();
            ByteBuffer got = ByteBuffer.allocate(4096);
            for (int lba = 0; lba < n; lba += 97) {
                got.clear();
                v.read(lba, got);
                assertArrayEquals(block(lba).array(), got.array(), "block " + lba);
            }
            assertTrue(!pool.meta().lowSpace(), "the metadata file system has room for the metadata itself");
        }
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.openVolume("v").orElseThrow();
            ByteBuffer got = ByteBuffer.allocate(4096);
            v.read(n - 1, got);
            assertArrayEquals(block(n - 1).array(), got.array(), "after reopening");
        }
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor(10, TimeUnit.SECONDS);
        return out;
    }
}
