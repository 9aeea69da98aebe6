package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.storage.ChecksumMismatchException;
import io.orion.dedup.store.RecordFormat;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

    @ParameterizedTest(name = "verify={0}")
    @ValueSource(booleans = {false, true})
    void aWriteOfTheSameContentHealsADamagedChunkForEveryBlockThatSharesIt(boolean verify) throws Exception {
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
}
