package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.ChecksumMismatchException;
import io.orion.dedup.containers.RecordFormat;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One read that spans every kind of dedup block the read path handles at once: a block from the
 * block cache, uncached blocks (alone and in a run of adjacent records read with one read), a
 * zero-written block, an unmapped block and a damaged record. It returns exactly the bytes
 * written, at any byte offset into its first and last blocks, or MEDIUM ERROR (never wrong data)
 * when any of its blocks is damaged; the undamaged blocks around a damaged one still read.
 */
class MixedReadTest {
    private static final int DB = 4096;
    private static final int LBS = 512;
    private static final int PER = DB / LBS;

    @TempDir
    Path dir;
    /** Dedup blocks 0..7: data, data, zeros, unmapped, data, data, data, data. */
    private final byte[][] blocks = new byte[8][];

    private DedupPool open() throws Exception {
        return DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build());
    }

    @BeforeEach
    void fill() throws Exception {
        for (int i = 0; i < 8; i++) {
            blocks[i] = i == 2 || i == 3 ? new byte[DB] : PoolFixture.random(100 + i, DB);
        }
        try (DedupPool pool = open()) {
            DedupVolume v = pool.createVolume("lun", LBS, 1 << 24, DB);
            // one write per block, in order (blocks 2 and 3 are zeros: no record)
            for (int i : new int[] {0, 1, 2, 4, 5, 6, 7}) {
                v.write((long) i * PER, ByteBuffer.wrap(blocks[i]), true);
            }
            try (io.orion.dedup.meta.MetaTxn t = pool.meta().read()) {
                for (int i : new int[] {0, 1, 4, 5, 6, 7}) {
                    at[i] = t.chunk(t.block(v.state().id, i)).offset();
                }
            }
        }
    }

    /** Device offset of each data block's record (the container is in slot 0 of dev0). */
    private final long[] at = new long[8];

    /**
     * Flips a payload byte of the record of dedup block {@code block}, found through the metadata
     * (journal records may sit between the chunk records of the container).
     */
    private void damageBlock(int block) throws Exception {
        long pos = at[block] + RecordFormat.HEADER + 100;
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("data/dev0.img").toFile(), "rw")) {
            f.seek(pos);
            int b = f.read();
            f.seek(pos);
            f.write(b ^ 0x40);
        }
    }

    private byte[] expected(long fromByte, long toByte) {
        byte[] all = new byte[8 * DB];
        for (int i = 0; i < 8; i++) {
            System.arraycopy(blocks[i], 0, all, i * DB, DB);
        }
        return Arrays.copyOfRange(all, (int) fromByte, (int) toByte);
    }

    private static byte[] read(DedupVolume v, long lba, int sectors) throws Exception {
        return PoolFixture.read(v, lba, sectors).array();
    }

    @Test
    void aReadAcrossCachedUncachedZeroAndUnmappedBlocksReturnsTheBytesWritten() throws Exception {
        try (DedupPool pool = open()) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertArrayEquals(expected(4 * DB, 5 * DB), read(v, 4 * PER, PER));   // block 4 now cached
            assertArrayEquals(expected(0, 8 * DB), read(v, 0, 8 * PER));
            // starting and ending inside dedup blocks
            assertArrayEquals(expected(3 * LBS, 7 * DB - LBS), read(v, 3, 7 * PER - 1 - 3));
            assertArrayEquals(expected(DB + LBS, 4 * DB + 2 * LBS), read(v, PER + 1, 3 * PER + 1));
            // the same again, now that the single-block reads put more blocks in the cache
            assertArrayEquals(expected(0, DB), read(v, 0, PER));
            assertArrayEquals(expected(0, 8 * DB), read(v, 0, 8 * PER));
        }
    }

    @Test
    void aDamagedBlockAnywhereInTheReadIsAMediumErrorAndItsNeighboursStillRead() throws Exception {
        damageBlock(5);   // in the middle of blocks 4, 5, 6
        try (DedupPool pool = open()) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertArrayEquals(expected(0, DB), read(v, 0, PER));                  // block 0 cached
            ChecksumMismatchException e = assertThrows(ChecksumMismatchException.class, () -> read(v, 0, 8 * PER));
            assertTrue(e.getMessage().contains("CRC32C"), e.getMessage());
            assertThrows(ChecksumMismatchException.class, () -> read(v, 4 * PER, 3 * PER));
            assertThrows(ChecksumMismatchException.class, () -> read(v, 5 * PER + 7, 1));
            assertArrayEquals(expected(0, 5 * DB), read(v, 0, 5 * PER));
            assertArrayEquals(expected(6 * DB, 8 * DB), read(v, 6 * PER, 2 * PER));
            assertArrayEquals(expected(4 * DB, 5 * DB), read(v, 4 * PER, PER));
        }
    }

    @Test
    void aDamagedLastBlockFailsTheWholeReadButNotTheOthers() throws Exception {
        damageBlock(7);   // the last one of the read
        try (DedupPool pool = open()) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertThrows(ChecksumMismatchException.class, () -> read(v, 0, 8 * PER));
            assertThrows(ChecksumMismatchException.class, () -> read(v, 7 * PER + 3, 2));
            assertArrayEquals(expected(0, 7 * DB), read(v, 0, 7 * PER));
        }
    }
}
