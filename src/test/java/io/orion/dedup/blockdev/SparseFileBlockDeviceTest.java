package io.orion.dedup.blockdev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SparseFileBlockDeviceTest {

    @TempDir
    Path dir;

    static ByteBuffer filled(int len, int v) {
        byte[] b = new byte[len];
        Arrays.fill(b, (byte) v);
        return ByteBuffer.wrap(b);
    }

    static byte[] read(BlockDevice d, long lba, int blocks) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(blocks * d.blockSize());
        d.read(lba, b);
        return b.array();
    }

    @Test
    void reopenKeepsDataAndIdentity() throws Exception {
        Path f = dir.resolve("lun0.img");
        String id;
        try (SparseFileBlockDevice d = SparseFileBlockDevice.open(f, 4096, 1024)) {
            id = d.uuid();
            d.write(7, filled(8192, 0x42), true);
            d.flush();
        }
        assertTrue(Files.exists(dir.resolve("lun0.img.uuid")));
        try (SparseFileBlockDevice d = SparseFileBlockDevice.open(f, 4096, 1024)) {
            assertEquals(id, d.uuid());
            assertArrayEquals(filled(8192, 0x42).array(), read(d, 7, 2));
            assertArrayEquals(new byte[4096], read(d, 0, 1));
        }
        try (SparseFileBlockDevice other = SparseFileBlockDevice.open(dir.resolve("lun1.img"), 512, 8)) {
            assertFalse(other.uuid().equals(id));
        }
    }

    @Test
    void unmapZeroesAndStatusTracksIt() throws Exception {
        try (SparseFileBlockDevice d = SparseFileBlockDevice.open(dir.resolve("a.img"), 512, 64)) {
            assertEquals(new LbaStatus(0, 64, false), d.status(0, 64));
            d.write(4, filled(4 * 512, 1), false);
            assertEquals(new LbaStatus(0, 4, false), d.status(0, 64));
            assertEquals(new LbaStatus(4, 4, true), d.status(4, 64));
            d.unmap(5, 2);
            assertEquals(new LbaStatus(5, 2, false), d.status(5, 64));
            assertArrayEquals(new byte[1024], read(d, 5, 2));
            d.writeSame(10, 3, filled(512, 9), false);
            assertArrayEquals(filled(1536, 9).array(), read(d, 10, 3));
            d.writeSame(10, 3, ByteBuffer.allocate(512), true);
            assertEquals(new LbaStatus(8, 56, false), d.status(8, 64));
        }
    }

    @Test
    void compareAndWriteAndResize() throws Exception {
        try (SparseFileBlockDevice d = SparseFileBlockDevice.open(dir.resolve("b.img"), 512, 16)) {
            d.write(0, filled(512, 1), false);
            assertEquals(-1, d.compareAndWrite(0, filled(512, 1), filled(512, 2), true));
            assertEquals(0, d.compareAndWrite(0, filled(512, 1), filled(512, 3), false));
            assertArrayEquals(filled(512, 2).array(), read(d, 0, 1));
            d.write(15, filled(512, 5), false);
            d.resize(8);
            assertEquals(8, d.blockCount());
            d.resize(16);
            assertArrayEquals(new byte[512], read(d, 15, 1));
            assertEquals(16 * 512, Files.size(dir.resolve("b.img")));
        }
    }
}
