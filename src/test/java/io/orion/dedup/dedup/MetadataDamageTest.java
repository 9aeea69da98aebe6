package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.orion.dedup.meta.MetaCorruptException;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The seeded LMDB corruption test (defect 4): a pool with a few volumes and several thousand blocks
 * of known content is closed, one bit is flipped in each of 40 pages of {@code data.mdb} that are in
 * use (reachable from the meta pages' roots), and every LBA of every volume is read back. Each read
 * returns exactly what was written (zeros where nothing was) or MEDIUM ERROR, never other bytes and
 * never zeros where data was written; the pool goes read-only, scrub reports the damage, stats works.
 */
class MetadataDamageTest {
    static final int FLIPS = 40;
    static final String[] VOLUMES = {"alpha", "beta", "gamma"};
    static final int BLOCKS = 2048;

    @TempDir
    Path dir;

    /** Outcome of one seed, for the figures in the report. */
    record Outcome(int good, int errors, boolean openFailed, boolean readOnly, int scrubProblems) {
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
    void noReadReturnsWrongOrMissingDataAfterFlippedBits(long seed) throws Exception {
        Outcome o = run(dir, seed);
        System.out.println("seed " + seed + ": " + o);
    }

    /**
     * Many more seeds, by hand: {@code -Ddamage.seeds=200} runs seeds 1000..1199 and prints the totals
     * ({@code -Ddamage.first=N} starts at seed N).
     */
    @org.junit.jupiter.api.Test
    @org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "damage.seeds", matches = "\\d+")
    void manySeeds() throws Exception {
        int n = Integer.getInteger("damage.seeds");
        long good = 0;
        long errors = 0;
        int openFailed = 0;
        long first = Long.getLong("damage.first", 1000);
        for (long seed = first; seed < first + n; seed++) {
            System.out.println("seed " + seed);
            Outcome o = run(java.nio.file.Files.createTempDirectory(dir, "s" + seed), seed);
            good += o.good();
            errors += o.errors();
            openFailed += o.openFailed() ? 1 : 0;
        }
        System.out.println(n + " seeds: " + good + " reads GOOD (all correct), " + errors + " MEDIUM ERROR, "
                + openFailed + " pools refused to open; every opened pool went read-only");
    }

    /** Builds, damages and reads back one pool in {@code dir}; fails on any wrong GOOD read. */
    static Outcome run(Path dir, long seed) throws Exception {
        Map<String, byte[][]> written = build(dir, seed);
        List<Long> used = new ArrayList<>(io.orion.dedup.meta.LmdbPages.of(dir.resolve("meta/data.mdb")).used);
        Random r = new Random(seed * 7919);
        Collections.shuffle(used, r);
        List<Long> hit = used.subList(0, Math.min(FLIPS, used.size()));
        try (FileChannel ch = FileChannel.open(dir.resolve("meta/data.mdb"), StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            for (long pg : hit) {
                long pos = pg * 4096 + r.nextInt(4096);
                ByteBuffer b = ByteBuffer.allocate(1);
                ch.read(b, pos);
                b.put(0, (byte) (b.get(0) ^ (1 << r.nextInt(8))));
                ch.write(b.flip(), pos);
            }
        }
        DedupPool pool;
        try {
            pool = PoolFixture.open(dir);
        } catch (MetaCorruptException e) {
            // the damage hit what the pool needs to exist at all (meta pages, the named databases):
            // it refuses to open, with the reason; no read can return anything
            assertTrue(e.getMessage().contains("damaged") || e.getMessage().contains("metadata"), e.getMessage());
            return new Outcome(0, 0, true, true, 0);
        }
        try (pool) {
            int good = 0;
            int errors = 0;
            for (String name : VOLUMES) {
                DedupVolume v = pool.openVolume(name).orElse(null);
                if (v == null) {
                    assertNotNull(pool.readOnlyReason(), "volume " + name + " vanished but the pool is not read-only");
                    continue;
                }
                byte[][] blocks = written.get(name);
                for (int lba = 0; lba < BLOCKS; lba++) {
                    ByteBuffer b = ByteBuffer.allocate(4096);
                    try {
                        v.read(lba, b);
                    } catch (ChecksumMismatchException e) {
                        errors++;
                        continue;
                    }
                    byte[] want = blocks[lba] == null ? new byte[4096] : blocks[lba];
                    if (!java.util.Arrays.equals(want, b.array())) {
                        fail("seed " + seed + ": volume " + name + " LBA " + lba + " read back GOOD with "
                                + (isZero(b.array()) ? "zeros" : "other bytes") + " instead of "
                                + (blocks[lba] == null ? "zeros" : "its data") + "; read-only: "
                                + pool.readOnlyReason());
                    }
                    good++;
                }
                // multi-block reads: whole or error
                for (int lba = 0; lba < BLOCKS; lba += 64) {
                    ByteBuffer b = ByteBuffer.allocate(64 * 4096);
                    try {
                        v.read(lba, b);
                    } catch (ChecksumMismatchException e) {
                        continue;
                    }
                    for (int i = 0; i < 64; i++) {
                        byte[] want = blocks[lba + i] == null ? new byte[4096] : blocks[lba + i];
                        byte[] got = java.util.Arrays.copyOfRange(b.array(), i * 4096, (i + 1) * 4096);
                        assertArrayEquals(want, got, "seed " + seed + ": " + name + " LBA " + (lba + i)
                                + " in a 64-block read");
                    }
                }
            }
            assertNotNull(pool.readOnlyReason(), "seed " + seed + ": damaged metadata left the pool writable");
            PoolStats stats = pool.stats();
            assertNotNull(stats.readOnlyReason());
            ScrubResult s = pool.verify();
            assertTrue(!s.clean(), "seed " + seed + ": scrub found nothing: " + s);
            assertTrue(s.metadataErrors() > 1, "seed " + seed + ": scrub stopped at the first error: " + s);
            return new Outcome(good, errors, false, true, s.problems().size());
        }
    }

    private static boolean isZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    /** Three volumes, each with written, duplicate, zero-written and never-written LBAs. */
    static Map<String, byte[][]> build(Path dir, long seed) throws IOException {
        Map<String, byte[][]> out = new HashMap<>();
        Random r = new Random(seed);
        try (DedupPool pool = PoolFixture.open(dir)) {
            for (String name : VOLUMES) {
                DedupVolume v = pool.createVolume(name, 4096, (long) BLOCKS * 4096, 4096);
                byte[][] blocks = new byte[BLOCKS][];
                for (int start = 0; start < BLOCKS; start += 32) {
                    ByteBuffer buf = ByteBuffer.allocate(32 * 4096);
                    boolean any = false;
                    for (int i = 0; i < 32; i++) {
                        int kind = r.nextInt(10);
                        byte[] b;
                        if (kind < 2) {
                            b = null; // never written
                        } else if (kind < 4) {
                            b = PoolFixture.random(r.nextInt(50), 4096); // a duplicate
                        } else if (kind == 4) {
                            b = new byte[4096];
                        } else {
                            b = PoolFixture.random(r.nextLong(), 4096);
                        }
                        blocks[start + i] = b;
                    }
                    // write runs of written blocks
                    int i = 0;
                    while (i < 32) {
                        if (blocks[start + i] == null) {
                            i++;
                            continue;
                        }
                        int j = i;
                        ByteBuffer run = ByteBuffer.allocate(32 * 4096);
                        while (j < 32 && blocks[start + j] != null) {
                            run.put(blocks[start + j]);
                            j++;
                        }
                        v.write(start + i, run.flip(), false);
                        any = true;
                        i = j;
                    }
                    if (!any) {
                        buf.clear();
                    }
                }
                out.put(name, blocks);
            }
            pool.flush();
        }
        return out;
    }
}
