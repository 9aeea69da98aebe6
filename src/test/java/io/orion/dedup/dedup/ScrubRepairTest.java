package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import io.orion.dedup.containers.RecordFormat;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code scrub --repair}: a damaged chunk record is rewritten from a good copy of its content (the
 * block cache's entry for the chunk, another record with its fingerprint), checked against its
 * SHA-256 first; a chunk with no good copy, or no fingerprint, stays damaged and is counted
 * unrepairable; a scrub without repair changes nothing.
 */
class ScrubRepairTest {
    static final int BS = 4096;

    @TempDir
    Path dir;

    private final byte[] x = PoolFixture.random(77, BS);
    private final byte[] y = PoolFixture.random(78, BS);

    private PoolOptions.Builder options() {
        return PoolFixture.options(dir).compressionEnabled(false);
    }

    private Path device() {
        return dir.resolve("data/dev0.img");
    }

    private static long chunkOf(DedupPool pool, DedupVolume v, long lba) throws Exception {
        try (MetaTxn t = pool.meta().read()) {
            return t.block(v.state().id, lba);
        }
    }

    /** Flips a payload byte of the record block {@code lba} maps to, leaving the block cache as it is. */
    private static void damageKeepingCache(DedupPool pool, DedupVolume v, long lba, Path device) throws Exception {
        long at;
        try (MetaTxn t = pool.meta().read()) {
            var r = t.chunk(t.block(v.state().id, lba));
            var c = pool.store().container(r.containerId());
            at = c.device().slotBase(c.slot()) + r.offset() + RecordFormat.HEADER + 100;
        }
        try (RandomAccessFile f = new RandomAccessFile(device.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0xFF);
        }
    }

    private static ScrubResult repair(DedupPool pool) throws Exception {
        return pool.verify(WorkMonitor.NONE, true);
    }

    @Test
    void aDamagedChunkWhoseContentIsInTheBlockCacheIsRepairedAndSurvivesARestartAndRecover() throws Exception {
        PoolOptions o = options().build();
        long chunk;
        long stored;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            v.write(0, ByteBuffer.wrap(x), false); // a small write: its chunk enters the block cache
            v.write(1, ByteBuffer.wrap(x), false);
            v.write(2, ByteBuffer.wrap(y), false);
            pool.flush();
            chunk = chunkOf(pool, v, 0);
            stored = pool.stats().storedBytes();
            damageKeepingCache(pool, v, 0, device());

            ScrubResult r = repair(pool);
            assertEquals(1, r.crcErrors(), r.problems().toString());
            assertEquals(1, r.repaired());
            assertEquals(0, r.unrepairable());
            assertTrue(r.repair());
            assertTrue(r.affected().isEmpty(), "nothing stays damaged: " + r.affected());
            assertTrue(r.clean(), "every damaged chunk was repaired");
            assertEquals(0, pool.damagedChunks());
            assertEquals(1, pool.repairedChunks());

            pool.flushCaches(); // from now on the blocks are read from the devices
            assertArrayEquals(x, HealTest.read(v, 0), "the repaired chunk, read from its new record");
            assertArrayEquals(x, HealTest.read(v, 1), "a block sharing it");
            assertArrayEquals(y, HealTest.read(v, 2));
            assertEquals(chunk, chunkOf(pool, v, 0), "the chunk keeps its id");
            assertEquals(chunk, chunkOf(pool, v, 1));
            assertEquals(2, pool.stats().uniqueChunks());
            assertEquals(stored, pool.stats().storedBytes(), "its stored bytes moved to the new record");
            HealTest.crossCheck(pool);

            ScrubResult again = pool.verify();
            assertTrue(again.clean(), again.problems().toString());
            assertEquals(0, again.crcErrors());
            assertEquals(0, again.repaired());
        }
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertArrayEquals(x, HealTest.read(v, 0), "after a restart");
            assertArrayEquals(x, HealTest.read(v, 1));
            assertTrue(pool.verify().clean());
            // this process never saw the damage: the write shares the chunk, now its repaired record
            v.write(7, ByteBuffer.wrap(x), false);
            assertEquals(chunk, chunkOf(pool, v, 7));
            pool.flush();
        }
        // recover finds the repaired record under the chunk's id (the damaged one fails its check);
        // blocks 0 and 1 were mapped behind the damaged record in its container, out of recover's
        // reach (docs/reliability.md, known limits of recover)
        PoolFixture.rebuildFromDevices(o);
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertArrayEquals(x, HealTest.read(v, 7), "after recover from the devices");
        }
    }

    @Test
    void aScrubWithoutRepairChangesNothing() throws Exception {
        try (DedupPool pool = DedupPool.open(options().build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            v.write(0, ByteBuffer.wrap(x), false);
            pool.flush();
            damageKeepingCache(pool, v, 0, device()); // the block cache holds a good copy
            ScrubResult r = pool.verify(WorkMonitor.NONE, false);
            assertEquals(1, r.crcErrors());
            assertFalse(r.repair());
            assertEquals(0, r.repaired());
            assertEquals(0, r.unrepairable());
            assertFalse(r.clean());
            assertEquals(1, r.affected().size());
            pool.flushCaches();
            assertThrows(ChecksumMismatchException.class, () -> HealTest.read(v, 0), "still damaged");
            assertEquals(0, pool.repairedChunks());
        }
    }

    /**
     * A saturated chunk's reference copy has a record of its own, indexed under the fingerprint:
     * the saturated chunk, damaged, is rewritten from it.
     */
    @Test
    void aDamagedSaturatedChunkIsRepairedFromItsIndexedCopy() throws Exception {
        try (DedupPool pool = DedupPool.open(options().referenceMaxCount(2).build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            for (long lba = 0; lba < 3; lba++) {
                v.write(lba, ByteBuffer.wrap(x), false); // blocks 0, 1 share A (saturated); 2 gets copy B
            }
            pool.flush();
            long a = chunkOf(pool, v, 0);
            assertNotEquals(a, chunkOf(pool, v, 2), "the third block has a copy of its own");
            HealTest.damage(pool, v, 0, device()); // also empties the block cache
            assertThrows(ChecksumMismatchException.class, () -> HealTest.read(v, 1));

            ScrubResult r = repair(pool);
            assertEquals(1, r.crcErrors());
            assertEquals(1, r.repaired(), r.problems().toString());
            assertEquals(0, r.unrepairable());
            pool.flushCaches();
            for (long lba = 0; lba < 3; lba++) {
                assertArrayEquals(x, HealTest.read(v, lba), "block " + lba);
            }
            assertEquals(a, chunkOf(pool, v, 0));
            assertEquals(2, pool.stats().uniqueChunks());
            HealTest.crossCheck(pool);
            assertTrue(pool.verify().clean());
        }
    }

    /**
     * The index names only the newest copy: the indexed copy, damaged, is rewritten from the older
     * saturated chunk found by a walk of the chunk table.
     */
    @Test
    void aDamagedIndexedCopyIsRepairedFromTheSaturatedChunk() throws Exception {
        try (DedupPool pool = DedupPool.open(options().referenceMaxCount(2).build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            for (long lba = 0; lba < 3; lba++) {
                v.write(lba, ByteBuffer.wrap(x), false);
            }
            v.write(5, ByteBuffer.wrap(y), false);
            pool.flush();
            long b = chunkOf(pool, v, 2);
            try (MetaTxn t = pool.meta().read()) {
                assertEquals(b, t.index(t.chunk(b).fingerprint()), "the copy is the indexed chunk");
            }
            HealTest.damage(pool, v, 2, device());
            assertThrows(ChecksumMismatchException.class, () -> HealTest.read(v, 2));

            ScrubResult r = repair(pool);
            assertEquals(1, r.crcErrors());
            assertEquals(1, r.repaired(), r.problems().toString());
            assertEquals(0, r.unrepairable());
            pool.flushCaches();
            for (long lba = 0; lba < 3; lba++) {
                assertArrayEquals(x, HealTest.read(v, lba), "block " + lba);
            }
            assertArrayEquals(y, HealTest.read(v, 5));
            assertEquals(b, chunkOf(pool, v, 2));
            HealTest.crossCheck(pool);
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void aChunkWithNoGoodCopyStaysDamagedAndIsCountedUnrepairable() throws Exception {
        try (DedupPool pool = DedupPool.open(options().build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            v.write(0, ByteBuffer.wrap(x), false);
            v.write(1, ByteBuffer.wrap(x), false);
            v.write(2, ByteBuffer.wrap(y), false);
            pool.flush();
            long chunk = chunkOf(pool, v, 0);
            HealTest.damage(pool, v, 0, device());

            for (int pass = 0; pass < 2; pass++) {
                ScrubResult r = repair(pool);
                assertEquals(1, r.crcErrors());
                assertEquals(0, r.repaired());
                assertEquals(1, r.unrepairable());
                assertEquals(chunk, r.unrepairableChunks().get(0).chunk());
                assertTrue(r.unrepairableChunks().get(0).reason().contains("no good copy"),
                        r.unrepairableChunks().toString());
                assertFalse(r.clean());
                assertEquals(List.of(new ScrubResult.Affected(chunk, "lun", 0, 1, r.affected().get(0).problem())),
                        r.affected(), "the blocks that stay damaged");
                assertThrows(ChecksumMismatchException.class, () -> HealTest.read(v, 0), "never wrong data");
                assertThrows(ChecksumMismatchException.class, () -> HealTest.read(v, 1));
                assertArrayEquals(y, HealTest.read(v, 2));
            }
            assertEquals(0, pool.repairedChunks());
        }
    }

    /** A post-process block's chunk has no fingerprint: even a cached copy cannot be verified, so it is not used. */
    @Test
    void anUnhashedChunkIsNeverRepaired() throws Exception {
        try (DedupPool pool = DedupPool.open(options().build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS, DedupMode.POST);
            v.write(0, ByteBuffer.wrap(x), false); // unhashed; a small write, so in the block cache
            pool.flush();
            damageKeepingCache(pool, v, 0, device());
            ScrubResult r = repair(pool);
            assertEquals(1, r.crcErrors(), r.problems().toString());
            assertEquals(0, r.repaired());
            assertEquals(1, r.unrepairable());
            assertTrue(r.unrepairableChunks().get(0).reason().contains("no fingerprint"),
                    r.unrepairableChunks().toString());
            pool.flushCaches();
            assertThrows(ChecksumMismatchException.class, () -> HealTest.read(v, 0));
        }
    }

    /** A read-only pool is never written: its damaged chunks are reported unrepairable, with the reason. */
    @Test
    void aReadOnlyPoolIsNotRepaired() throws Exception {
        try (DedupPool pool = DedupPool.open(options().build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            v.write(0, ByteBuffer.wrap(x), false);
            pool.flush();
            damageKeepingCache(pool, v, 0, device());
            pool.untrust("test: read-only");
            ScrubResult r = repair(pool);
            assertEquals(0, r.repaired());
            assertEquals(1, r.unrepairable());
            assertTrue(r.unrepairableChunks().get(0).reason().contains("read-only"), r.unrepairableChunks().toString());
            pool.flushCaches();
            assertThrows(ChecksumMismatchException.class, () -> HealTest.read(v, 0));
        }
    }

    /**
     * Writes race the repair: some blocks are overwritten or unmapped (their damaged chunk freed), some damaged
     * contents are written again elsewhere (a heal, or a share before the scrub finds the damage).
     * Whatever the interleaving, every block reads its own data, nothing stays damaged and the
     * tables agree.
     */
    @Test
    void writesDuringTheRepairNeverLoseOrMixData() throws Exception {
        int n = 48;
        byte[][] c = new byte[n][];
        byte[][] over = new byte[n][];
        try (DedupPool pool = DedupPool.open(options().build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            for (int i = 0; i < n; i++) {
                c[i] = PoolFixture.random(1000 + i, BS);
                over[i] = PoolFixture.random(5000 + i, BS);
                v.write(i, ByteBuffer.wrap(c[i]), false);
            }
            pool.flush();
            for (int i = 0; i < n; i++) {
                damageKeepingCache(pool, v, i, device());
            }
            Throwable[] failed = {null};
            Thread w = new Thread(() -> {
                try {
                    for (int i = 0; i < n; i++) {
                        if (i % 3 == 0) {
                            v.write(100 + i, ByteBuffer.wrap(c[i]), false);
                        } else if (i % 3 == 1 && i % 2 == 0) {
                            v.unmap(i, 1);
                        } else if (i % 3 == 1) {
                            v.write(i, ByteBuffer.wrap(over[i]), false);
                        }
                    }
                } catch (Throwable t) {
                    failed[0] = t;
                }
            });
            w.start();
            ScrubResult r = repair(pool);
            w.join();
            assertEquals(null, failed[0]);
            assertEquals(0, r.unrepairable(), r.unrepairableChunks().toString());
            assertTrue(r.repaired() <= r.crcErrors());
            pool.flush();
            pool.flushCaches();
            for (int i = 0; i < n; i++) {
                byte[] want = i % 3 != 1 ? c[i] : i % 2 == 0 ? new byte[BS] : over[i];
                assertArrayEquals(want, HealTest.read(v, i), "block " + i);
                if (i % 3 == 0) {
                    assertArrayEquals(c[i], HealTest.read(v, 100 + i), "block " + (100 + i));
                }
            }
            // (pool.damagedChunks() may still count chunks freed by the overwrites: freeing does not drop them)
            HealTest.crossCheck(pool);
            ScrubResult again = pool.verify();
            assertTrue(again.clean(), again.problems().toString());
        }
    }

    /**
     * A record the device cannot read (EIO) is counted as a read error and traced to its blocks
     * (before, the scrub stopped with the error); with repair it is rewritten from the block cache's
     * copy, and its blocks read again while the device still fails the old place.
     */
    @Test
    void anUnreadableRecordIsReportedAndRepaired() throws Exception {
        try (DedupPool pool = DedupPool.open(options().build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            v.write(0, ByteBuffer.wrap(y), false);
            v.write(1, ByteBuffer.wrap(x), false);
            v.write(2, ByteBuffer.wrap(x), false);
            pool.flush();
            long[] bad = DeviceFaultTest.recordOf(pool, v, 1);
            var d = DeviceFaultTest.device(pool, (int) bad[0]);
            d.injectFaults(io.orion.dedup.containers.DeviceFaults.failRange(io.orion.dedup.containers.DeviceFaults.Op.READ,
                    bad[1], bad[2]));

            ScrubResult plain = pool.verify(WorkMonitor.NONE, false);
            assertEquals(1, plain.readErrors(), plain.problems().toString());
            assertEquals(0, plain.crcErrors());
            assertEquals(3, plain.mappedBlocks(), "the pass went on to the block maps");
            assertEquals(List.of(new ScrubResult.Affected(chunkOf(pool, v, 1), "lun", 1, 2,
                    plain.affected().get(0).problem())), plain.affected());
            assertFalse(plain.clean());

            ScrubResult r = repair(pool);
            assertEquals(1, r.readErrors());
            assertEquals(1, r.repaired(), r.problems().toString());
            assertEquals(0, r.unrepairable());
            assertTrue(r.clean());
            pool.flushCaches();
            assertArrayEquals(x, HealTest.read(v, 1), "read from the new record; the old place still fails");
            assertArrayEquals(x, HealTest.read(v, 2));
            assertArrayEquals(y, HealTest.read(v, 0));
            assertTrue(pool.verify().clean());
            HealTest.crossCheck(pool);
        }
    }

    /**
     * With {@code verify}, which never trusts a fingerprint alone, another record with the same
     * fingerprint is no good copy (it could hold other bytes); the block cache's entry for the
     * very chunk is.
     */
    @Test
    void withVerifyOnlyTheChunksOwnCachedCopyIsUsed() throws Exception {
        try (DedupPool pool = DedupPool.open(options().referenceMaxCount(2).verify(true).build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            for (long lba = 0; lba < 3; lba++) {
                v.write(lba, ByteBuffer.wrap(x), false); // 0, 1 share A; 2 gets copy B
            }
            v.write(5, ByteBuffer.wrap(y), false);
            pool.flush();
            HealTest.damage(pool, v, 0, device()); // A, with the cache emptied: only B has the content
            ScrubResult r = repair(pool);
            assertEquals(0, r.repaired());
            assertEquals(1, r.unrepairable());
            assertTrue(r.unrepairableChunks().get(0).reason().contains("verify"), r.unrepairableChunks().toString());
            assertThrows(ChecksumMismatchException.class, () -> HealTest.read(v, 0));

            HealTest.read(v, 5); // y enters the block cache
            damageKeepingCache(pool, v, 5, device());
            ScrubResult again = repair(pool);
            assertEquals(1, again.repaired(), again.problems().toString());
            assertEquals(1, again.unrepairable(), "A still");
            pool.flushCaches();
            assertArrayEquals(y, HealTest.read(v, 5));
        }
    }
}
