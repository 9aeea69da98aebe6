package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import io.orion.dedup.containers.RecordFormat;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A chunk whose stored record is damaged is healed when the same content is written again: the
 * chunk moves to the new write's record, so every block that shares it reads sound data again
 * (before, the write shared the damaged chunk and the blocks kept answering MEDIUM ERROR).
 */
class HealTest {
    static final int BS = 4096;

    @TempDir
    Path dir;

    private final byte[] x = PoolFixture.random(41, BS);

    private DedupPool open(boolean verify) throws Exception {
        return DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).verify(verify).build());
    }

    /** Flips a payload byte of the record block {@code lba} maps to (its CRC no longer matches). */
    static void damage(DedupPool pool, DedupVolume v, long lba, Path device) throws Exception {
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
        pool.flushCaches();
    }

    static byte[] read(DedupVolume v, long lba) throws Exception {
        return PoolFixture.read(v, lba, 1).array();
    }

    static void crossCheck(DedupPool pool) throws Exception {
        try (MetaTxn t = pool.meta().read()) {
            MetaCrossCheck.Report r = MetaCrossCheck.run(t);
            assertTrue(r.problems().isEmpty(), r.problems().toString());
        }
    }

    /** With {@code verify} a damaged chunk is not healed (verify never shares on the fingerprint alone): VerifyTest. */
    @Test
    void aWriteOfTheSameContentHealsADamagedChunkForEveryBlockThatSharesIt() throws Exception {
        boolean verify = false;
        Path device = dir.resolve("data/dev0.img");
        try (DedupPool pool = open(verify)) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            v.write(0, ByteBuffer.wrap(x), false);
            v.write(1, ByteBuffer.wrap(x), false);
            pool.flush();
            long stored = pool.stats().storedBytes();
            damage(pool, v, 0, device);
            assertThrows(ChecksumMismatchException.class, () -> read(v, 0), "the damage is found by a read");
            assertThrows(ChecksumMismatchException.class, () -> read(v, 1));
            assertEquals(1, pool.damagedChunks());

            v.write(7, ByteBuffer.wrap(x), false); // the same content, anywhere
            assertArrayEquals(x, read(v, 0), "healed: the block that shared the damaged chunk");
            assertArrayEquals(x, read(v, 1));
            assertArrayEquals(x, read(v, 7));
            assertEquals(0, pool.damagedChunks());
            assertEquals(1, pool.healedChunks());
            assertEquals(1, pool.stats().uniqueChunks(), "still one chunk, now in a sound record");
            assertEquals(stored, pool.stats().storedBytes(), "its stored bytes moved, they did not grow");
            pool.flush();
            crossCheck(pool);
        }
        try (DedupPool pool = open(verify)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (long lba : new long[] {0, 1, 7}) {
                assertArrayEquals(x, read(v, lba), "after a restart, block " + lba);
            }
            assertTrue(pool.verify().clean(), "scrub finds no damage in the live records");
        }
    }

    @Test
    void damageFoundByScrubIsHealedByTheNextWriteOfThatContent() throws Exception {
        Path device = dir.resolve("data/dev0.img");
        try (DedupPool pool = open(false)) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            v.write(0, ByteBuffer.wrap(x), false);
            pool.flush();
            damage(pool, v, 0, device);
            assertTrue(!pool.verify().clean(), "scrub reports the damaged record");
            assertEquals(1, pool.damagedChunks());
            v.write(3, ByteBuffer.wrap(x), false);
            assertArrayEquals(x, read(v, 0));
            assertTrue(pool.verify().clean());
        }
    }

    /**
     * A damaged record ends a walk of its container like a failed write's hole, so the container it
     * was found in takes no more records: the heal and the writes after it survive {@code recover}
     * (before, they were appended behind the damaged record and recover cut them off: found by
     * review). What the container held behind the damaged record before it was found (here block 0's
     * mapping, journaled right after it) was out of recover's reach until recover learnt to walk on
     * past a damaged record (block 0 read zeros after recover before that).
     */
    @Test
    void theHealAndLaterWritesSurviveRecover() throws Exception {
        PoolOptions o = PoolFixture.options(dir).compressionEnabled(false).build();
        byte[][] later = new byte[4][];
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            v.write(0, ByteBuffer.wrap(x), false);
            pool.flush();
            damage(pool, v, 0, dir.resolve("data/dev0.img"));
            assertThrows(ChecksumMismatchException.class, () -> read(v, 0));
            v.write(7, ByteBuffer.wrap(x), false); // heals
            assertEquals(1, pool.healedChunks());
            for (int i = 0; i < 4; i++) {
                later[i] = PoolFixture.random(900 + i, BS);
                v.write(10 + i, ByteBuffer.wrap(later[i]), false);
            }
            pool.flush();
        }
        PoolFixture.rebuildFromDevices(o);
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertArrayEquals(x, read(v, 7), "the healed chunk");
            assertArrayEquals(x, read(v, 0), "block 0, journaled behind the damaged record: recover walks on past it");
            for (int i = 0; i < 4; i++) {
                assertArrayEquals(later[i], read(v, 10 + i), "block " + (10 + i));
            }
        }
    }
}
