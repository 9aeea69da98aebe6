package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaTxn;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Post-process dedup ({@link DedupMode#POST}): writes store every block as a chunk of its own and
 * stage it; the pass ({@link PostProcessor}) then shares what inline mode would have shared. The
 * same workload (duplicates inside one write and across writes, zeros, overwrites, a partial
 * write, UNMAP, a reference copy) goes to an inline pool and to a post-process pool; after the pass
 * both hold the same data and the same accounting.
 */
class PostProcessTest {
    static final int LBS = 512;
    static final int DBS = 4096;
    static final int BLOCKS = 512; // dedup blocks of the test volume (2 MiB)
    static final long CAPACITY = (long) BLOCKS * DBS;

    @TempDir
    Path dir;

    /** The volume's bytes as the initiator expects them. */
    static final class Model {
        final byte[] bytes = new byte[(int) CAPACITY];

        void write(DedupVolume v, long lba, byte[] data) throws Exception {
            v.write(lba, ByteBuffer.wrap(data), false);
            System.arraycopy(data, 0, bytes, (int) (lba * LBS), data.length);
        }

        void unmap(DedupVolume v, long lba, long blocks) throws Exception {
            v.unmap(lba, blocks);
            Arrays.fill(bytes, (int) (lba * LBS), (int) ((lba + blocks) * LBS), (byte) 0);
        }

        void copy(DedupVolume v, long src, long dst, long blocks) throws Exception {
            v.copyFrom(v, src, dst, blocks);
            System.arraycopy(bytes, (int) (src * LBS), bytes, (int) (dst * LBS), (int) (blocks * LBS));
        }

        void check(DedupVolume v, String when) throws Exception {
            ByteBuffer all = PoolFixture.read(v, 0, (int) (CAPACITY / LBS));
            byte[] got = new byte[all.remaining()];
            all.get(got);
            for (int b = 0; b < BLOCKS; b++) {
                int at = b * DBS;
                assertArrayEquals(Arrays.copyOfRange(bytes, at, at + DBS), Arrays.copyOfRange(got, at, at + DBS),
                        when + ": dedup block " + b + " reads other bytes");
            }
        }
    }

    /** {@code n} dedup blocks, block i holding content {@code seed + i % distinct} (compressible). */
    static byte[] blocks(long seed, int n, int distinct) {
        byte[] out = new byte[n * DBS];
        for (int i = 0; i < n; i++) {
            System.arraycopy(PoolFixture.compressible(seed + i % distinct, DBS), 0, out, i * DBS, DBS);
        }
        return out;
    }

    static long lba(long dblock) {
        return dblock * (DBS / LBS);
    }

    /** The workload: every kind of change the engine makes to a block map. */
    static void workload(DedupVolume v, Model m) throws Exception {
        m.write(v, lba(0), blocks(1000, 64, 16)); // 64 blocks, 16 contents: duplicates inside one write
        m.write(v, lba(64), blocks(1000, 32, 32)); // the same 16 again and 16 more: across writes
        m.write(v, lba(100), new byte[8 * DBS]); // zeros
        m.write(v, lba(10), blocks(2000, 10, 10)); // overwrites with new contents
        byte[] partial = PoolFixture.random(77, 3 * LBS);
        m.write(v, lba(5) + 1, partial); // a partial block: read-modify-write
        m.unmap(v, lba(30), lba(10)); // UNMAP
        m.copy(v, lba(0), lba(300), lba(20)); // a reference copy (XCOPY)
        m.write(v, lba(400), blocks(3000, 40, 40)); // unique
        m.write(v, lba(440), blocks(3000, 40, 40)); // the same again
    }

    private DedupPool open(String name, boolean verify) throws Exception {
        return DedupPool.open(PoolFixture.options(dir.resolve(name)).verify(verify).build());
    }

    /** Sorted reference counts of every chunk: equal multisets mean the same sharing. */
    static List<Integer> refcounts(DedupPool pool) throws Exception {
        List<Integer> out = new ArrayList<>();
        try (MetaTxn t = pool.meta().read()) {
            t.scanChunks(0, c -> {
                out.add(c.refCount());
                return true;
            });
        }
        out.sort(null);
        return out;
    }

    static void crossCheck(DedupPool pool) throws Exception {
        try (MetaTxn t = pool.meta().read()) {
            MetaCrossCheck.Report r = MetaCrossCheck.run(t);
            assertTrue(r.problems().isEmpty(), r.problems().toString());
        }
    }

    @ParameterizedTest(name = "verify={0}")
    @ValueSource(booleans = {false, true})
    void afterThePassTheAccountingEqualsInlineMode(boolean verify) throws Exception {
        Model m = new Model();
        PoolStats inline;
        List<Integer> inlineRefs;
        try (DedupPool pool = open("inline", verify)) {
            DedupVolume v = pool.createVolume("lun", LBS, CAPACITY, DBS);
            workload(v, new Model());
            assertEquals(0, pool.stagedBlocks(), "an inline volume stages nothing");
            inline = pool.stats();
            inlineRefs = refcounts(pool);
        }
        try (DedupPool pool = open("post", verify)) {
            DedupVolume v = pool.createVolume("lun", LBS, CAPACITY, DBS);
            v.state().dedupMode = DedupMode.POST;
            workload(v, m);
            m.check(v, "before the pass");
            PoolStats before = pool.stats();
            assertTrue(before.uniqueChunks() > inline.uniqueChunks(), "writes stored duplicates: " + before.uniqueChunks()
                    + " chunks against " + inline.uniqueChunks());
            assertTrue(pool.stagedBlocks() > 0, "staged blocks");
            crossCheck(pool);

            PostProcessResult r = pool.postProcess(WorkMonitor.NONE);
            assertEquals(0, r.remaining(), r.toString());
            assertEquals(0, pool.stagedBlocks());
            assertTrue(r.blocksShared() > 0 && r.chunksFreed() > 0, r.toString());
            PoolStats after = pool.stats();
            assertEquals(inline.uniqueChunks(), after.uniqueChunks(), "unique chunks");
            assertEquals(inline.uniqueBytes(), after.uniqueBytes(), "unique bytes");
            assertEquals(inline.storedBytes(), after.storedBytes(), "stored bytes");
            assertEquals(inline.logicalBytes(), after.logicalBytes(), "logical bytes");
            assertEquals(inline.zeroBlocks(), after.zeroBlocks(), "zero blocks");
            assertEquals(inlineRefs, refcounts(pool), "reference counts");
            assertEquals(before.uniqueChunks() - after.uniqueChunks(), r.chunksFreed(), "chunks freed");
            assertEquals(before.storedBytes() - after.storedBytes(), r.storedBytesFreed(), "stored bytes freed");
            m.check(v, "after the pass");
            crossCheck(pool);

            // a second pass has nothing to do; cleanup reclaims what the pass freed
            PostProcessResult again = pool.postProcess(WorkMonitor.NONE);
            assertEquals(0, again.blocksExamined(), again.toString());
            pool.cleanup();
            m.check(v, "after cleanup");
        }
        try (DedupPool pool = open("post", verify)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            m.check(v, "after a restart");
            assertEquals(inline.uniqueChunks(), pool.stats().uniqueChunks(), "unique chunks after a restart");
            crossCheck(pool);
        }
    }

    @Test
    void aPassLooksOnlyAtBlocksWrittenSinceTheLastOne() throws Exception {
        try (DedupPool pool = open("post", false)) {
            DedupVolume v = pool.createVolume("lun", LBS, CAPACITY, DBS);
            v.state().dedupMode = DedupMode.POST;
            Model m = new Model();
            m.write(v, 0, blocks(5000, 64, 64));
            PostProcessResult first = pool.postProcess(WorkMonitor.NONE);
            assertEquals(64, first.blocksExamined());
            assertEquals(64, first.chunksIndexed(), "all unique: each chunk is indexed");
            assertEquals(0, first.blocksShared());
            // 16 new blocks: 8 copies of contents already stored and 8 new contents
            byte[] more = new byte[16 * DBS];
            System.arraycopy(blocks(5000, 8, 8), 0, more, 0, 8 * DBS);
            System.arraycopy(blocks(6000, 8, 8), 0, more, 8 * DBS, 8 * DBS);
            m.write(v, lba(100), more);
            assertEquals(16, pool.stagedBlocks());
            PostProcessResult second = pool.postProcess(WorkMonitor.NONE);
            assertEquals(16, second.blocksExamined(), "only the blocks written since: " + second);
            assertEquals(8, second.blocksShared());
            assertEquals(8, second.chunksIndexed());
            assertEquals(72, pool.stats().uniqueChunks());
            m.check(v, "after two passes");
        }
    }

    @Test
    void anOffVolumeNeverShares() throws Exception {
        try (DedupPool pool = open("off", false)) {
            DedupVolume v = pool.createVolume("lun", LBS, CAPACITY, DBS);
            v.state().dedupMode = DedupMode.OFF;
            Model m = new Model();
            m.write(v, 0, blocks(7000, 32, 4)); // 32 blocks, 4 contents
            m.write(v, lba(32), new byte[4 * DBS]);
            assertEquals(0, pool.stagedBlocks(), "an off volume stages nothing");
            assertEquals(32, pool.stats().uniqueChunks(), "every block stored on its own");
            assertEquals(0, pool.postProcess(WorkMonitor.NONE).blocksExamined());
            assertEquals(32, pool.stats().uniqueChunks());
            // and an inline volume of the same pool does not share an off volume's chunks
            DedupVolume w = pool.createVolume("other", LBS, CAPACITY, DBS);
            w.write(0, ByteBuffer.wrap(blocks(7000, 4, 4)), false);
            assertEquals(36, pool.stats().uniqueChunks());
            m.check(v, "off volume");
            crossCheck(pool);
        }
    }

    /**
     * Passes run while a writer overwrites, unmaps and copies blocks of the same volume: every read
     * returns the model's bytes, the metadata stays consistent, and once writes stop a last pass
     * leaves exactly one chunk per distinct content.
     */
    @Test
    void passesRunSafelyBesideWrites() throws Exception {
        try (DedupPool pool = open("race", false)) {
            DedupVolume v = pool.createVolume("lun", LBS, CAPACITY, DBS);
            v.state().dedupMode = DedupMode.POST;
            Model m = new Model();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> passFailure = new AtomicReference<>();
            Thread passes = new Thread(() -> {
                try {
                    while (!stop.get()) {
                        pool.postProcess(WorkMonitor.NONE);
                    }
                } catch (Throwable e) {
                    passFailure.set(e);
                }
            }, "post-process");
            passes.start();
            Random r = new Random(11);
            try {
                for (int i = 0; i < 1500; i++) {
                    long db = r.nextInt(BLOCKS - 8);
                    int n = 1 + r.nextInt(8);
                    switch (r.nextInt(10)) {
                        case 0 -> m.unmap(v, lba(db), lba(n));
                        case 1 -> m.copy(v, lba(r.nextInt(BLOCKS - 8)), lba(db), lba(n));
                        default -> m.write(v, lba(db), blocks(r.nextInt(12) * 100L, n, 1 + r.nextInt(4)));
                    }
                }
            } finally {
                stop.set(true);
                passes.join();
            }
            assertEquals(null, passFailure.get());
            m.check(v, "after racing passes");
            crossCheck(pool);
            pool.postProcess(WorkMonitor.NONE);
            assertEquals(0, pool.stagedBlocks());
            Set<ByteBuffer> distinct = new HashSet<>();
            byte[] zero = new byte[DBS];
            for (int b = 0; b < BLOCKS; b++) {
                byte[] blk = Arrays.copyOfRange(m.bytes, b * DBS, (b + 1) * DBS);
                if (!Arrays.equals(blk, zero)) {
                    distinct.add(ByteBuffer.wrap(blk));
                }
            }
            assertEquals(distinct.size(), pool.stats().uniqueChunks(), "one chunk per distinct content");
            m.check(v, "after the last pass");
            crossCheck(pool);
        }
    }

    /** A snapshot taken before the pass names the not yet shared chunks: its blocks are staged too (found by review). */
    @Test
    void aSnapshotTakenBeforeThePassIsSharedToo() throws Exception {
        try (DedupPool pool = open("snap", false)) {
            DedupVolume v = pool.createVolume("lun", LBS, CAPACITY, DBS);
            v.state().dedupMode = DedupMode.POST;
            v.write(0, ByteBuffer.wrap(blocks(1, 16, 4)), false);
            DedupVolume snap = pool.cloneVolume("lun", "snap", true);
            pool.postProcess(WorkMonitor.NONE);
            assertEquals(0, pool.stagedBlocks());
            assertEquals(4, pool.stats().uniqueChunks(), "inline mode stores 4 chunks");
            assertArrayEquals(blocks(1, 16, 4), PoolFixture.read(snap, 0, 16 * DBS / LBS).array());
            crossCheck(pool);
        }
    }

    /** XCOPY from a post-process volume into an inline one before the pass (found by review). */
    @Test
    void aCopyIntoAnInlineVolumeBeforeThePassIsSharedToo() throws Exception {
        try (DedupPool pool = open("xcopy", false)) {
            DedupVolume v = pool.createVolume("lun", LBS, CAPACITY, DBS);
            v.state().dedupMode = DedupMode.POST;
            DedupVolume w = pool.createVolume("other", LBS, CAPACITY, DBS);
            v.write(0, ByteBuffer.wrap(blocks(1, 16, 4)), false);
            w.copyFrom(v, 0, 0, lba(16));
            pool.postProcess(WorkMonitor.NONE);
            assertEquals(4, pool.stats().uniqueChunks());
            assertArrayEquals(blocks(1, 16, 4), PoolFixture.read(w, 0, 16 * DBS / LBS).array());
            crossCheck(pool);
        }
    }

    /**
     * The staged table exists only once a post-process volume wrote: a pool that never used
     * post-process keeps the tables older builds know (an older build refuses an unknown table;
     * found by review).
     */
    @Test
    void thePoolGetsItsStagedTableOnlyWithTheFirstPostProcessWrite() throws Exception {
        try (DedupPool pool = open("lazy", false)) {
            DedupVolume v = pool.createVolume("lun", LBS, CAPACITY, DBS);
            v.write(0, ByteBuffer.wrap(blocks(1, 4, 4)), false);
            pool.flush();
            assertTrue(!pool.meta().hasStaged(), "an inline pool has no staged table");
            assertEquals(0, pool.postProcess(WorkMonitor.NONE).blocksExamined());
        }
        try (DedupPool pool = open("lazy", false)) {
            assertTrue(!pool.meta().hasStaged(), "nor after a restart");
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            v.state().dedupMode = DedupMode.POST;
            v.write(lba(8), ByteBuffer.wrap(blocks(1, 4, 4)), false);
            assertTrue(pool.meta().hasStaged());
            assertEquals(4, pool.stagedBlocks());
        }
        try (DedupPool pool = open("lazy", false)) {
            assertTrue(pool.meta().hasStaged(), "kept once made");
            assertEquals(4, pool.stagedBlocks());
            assertEquals(4, pool.postProcess(WorkMonitor.NONE).blocksShared());
            assertEquals(4, pool.stats().uniqueChunks());
        }
    }

    /**
     * A post-process write does not hash (the issue: "writes land in a staging area without
     * hashing"): its records carry no fingerprint, the pass hashes them; scrub checks them, and
     * {@code recover} (which cannot see the fingerprints the pass kept in the metadata only) stages
     * them again so the next pass gives the same accounting.
     */
    @Test
    void postProcessWritesAreNotHashedAndScrubAndRecoverHandleTheirRecords() throws Exception {
        PoolOptions o = PoolFixture.options(dir.resolve("nohash")).build();
        Model m = new Model();
        PoolStats afterPass;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", LBS, CAPACITY, DBS);
            v.state().dedupMode = DedupMode.POST;
            long hashed = pool.stats().hashedBytes();
            m.write(v, 0, blocks(8000, 64, 16));
            assertEquals(hashed, pool.stats().hashedBytes(), "the write hashed nothing");
            try (MetaTxn t = pool.meta().read()) {
                var c = t.chunk(t.block(v.state().id, 0));
                assertTrue(io.orion.dedup.containers.RecordFormat.unhashed(c.fingerprint()), "no fingerprint yet");
            }
            assertTrue(pool.verify().clean(), "scrub checks unhashed records by their CRC");
            PostProcessResult r = pool.postProcess(WorkMonitor.NONE);
            assertEquals(64, r.blocksExamined());
            assertEquals(16, pool.stats().uniqueChunks());
            m.check(v, "after the pass");
            assertTrue(pool.verify().clean(), "scrub checks the fingerprints the pass computed");
            afterPass = pool.stats();
            crossCheck(pool);
        }
        PoolFixture.rebuildFromDevices(o);
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            m.check(v, "after recover");
            assertEquals(64, pool.stagedBlocks(), "every block maps a chunk that is unhashed again: all staged");
            pool.postProcess(WorkMonitor.NONE);
            assertEquals(afterPass.uniqueChunks(), pool.stats().uniqueChunks());
            assertEquals(afterPass.storedBytes(), pool.stats().storedBytes());
            m.check(v, "after recover and a pass");
            crossCheck(pool);
        }
    }

    /**
     * Reference copies of saturated unhashed chunks (found by review): each copy was stored under
     * the zero "fingerprint" and indexed there, so the next saturated unhashed chunk's copy resolved
     * to the first one and read another block's bytes with GOOD status; now a copy of an unhashed
     * chunk is hashed, and the zero value is never indexed.
     */
    @ParameterizedTest(name = "mode={0}")
    @ValueSource(strings = {"off", "post"})
    void copiesOfSaturatedUnhashedChunksKeepTheirOwnContent(String mode) throws Exception {
        byte[] data = new byte[2 * DBS];
        System.arraycopy(PoolFixture.random(1, DBS), 0, data, 0, DBS);
        System.arraycopy(PoolFixture.random(2, DBS), 0, data, DBS, DBS);
        PoolOptions o = PoolFixture.options(dir.resolve("sat-" + mode)).referenceMaxCount(2).build();
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume a = pool.createVolume("a", LBS, 1 << 20, DBS, DedupMode.parse(mode));
            DedupVolume b = pool.createVolume("b", LBS, 1 << 20, DBS);
            DedupVolume c = pool.createVolume("c", LBS, 1 << 20, DBS);
            a.write(0, ByteBuffer.wrap(data), false);
            b.copyFrom(a, 0, 0, data.length / LBS); // both chunks at 2 references: saturated
            c.copyFrom(a, 0, 0, data.length / LBS); // fresh copies
            for (DedupVolume v : new DedupVolume[] {a, b, c}) {
                assertArrayEquals(data, PoolFixture.read(v, 0, data.length / LBS).array(), v.name());
            }
            crossCheck(pool);
            assertTrue(pool.verify().clean());
        }
        PoolFixture.rebuildFromDevices(o);
        try (DedupPool pool = DedupPool.open(o)) {
            pool.postProcess(WorkMonitor.NONE);
        }
        try (DedupPool pool = DedupPool.open(o)) { // reopened: nothing from the block cache
            for (String n : new String[] {"a", "b", "c"}) {
                assertArrayEquals(data, PoolFixture.read(pool.openVolume(n).orElseThrow(), 0, data.length / LBS).array(),
                        n + " after recover and a pass");
            }
            crossCheck(pool);
            assertTrue(pool.verify().clean());
        }
    }
}
