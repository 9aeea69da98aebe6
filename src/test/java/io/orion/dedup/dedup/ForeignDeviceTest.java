package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device that holds data is never initialised over (ARCHITECTURE.md, rule 5): with the metadata
 * directory gone, or over another pool's device, the pool refuses to open, names the device and
 * what it found, and leaves the device's bytes (and a missing metadata directory) untouched.
 */
class ForeignDeviceTest {
    @TempDir
    Path dir;

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    private String uuidOfFirstPool() throws IOException {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 20, 4096);
            v.write(0, ByteBuffer.wrap(PoolFixture.random(1, 4096)), true);
            return pool.uuid().toString();
        }
    }

    @Test
    void missingMetadataOverAUsedDeviceIsRefusedNotReinitialised() throws Exception {
        String uuid = uuidOfFirstPool();
        Path dev = dir.resolve("data/dev0.img");
        byte[] before = Files.readAllBytes(dev);
        deleteTree(dir.resolve("meta"));

        IOException e = assertThrows(IOException.class, () -> PoolFixture.open(dir));
        assertTrue(e.getMessage().contains(dev.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("pool " + uuid), "names the pool it found: " + e.getMessage());
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
        assertTrue(e.getMessage().contains("restore"), "says what to do: " + e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(dev), "the device is untouched");
        assertFalse(Files.exists(dir.resolve("meta/data.mdb")), "no new metadata left behind");
        // and again: a second start refuses the same way
        assertThrows(IOException.class, () -> PoolFixture.open(dir));
    }

    @Test
    void aDeviceWithOtherDataIsRefusedForANewPool() throws Exception {
        Path dev = dir.resolve("data/dev0.img");
        Files.createDirectories(dev.getParent());
        byte[] junk = new byte[8192];
        junk[100] = 42;
        Files.write(dev, junk);
        IOException e = assertThrows(IOException.class, () -> PoolFixture.open(dir));
        assertTrue(e.getMessage().contains("non-zero data at offset 100"), e.getMessage());
        assertArrayEquals(junk, Files.readAllBytes(dev));
    }

    @Test
    void anEmptyOrZeroDeviceIsUsed() throws Exception {
        Path dev = dir.resolve("data/dev0.img");
        Files.createDirectories(dev.getParent());
        Files.write(dev, new byte[65536]);
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertEquals(0, pool.volumes().size());
        }
    }

    @Test
    void anotherPoolsDeviceIsRefusedWhenMetadataExists() throws Exception {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Files.createDirectories(a);
        Files.createDirectories(b);
        String uuidB;
        try (DedupPool pool = PoolFixture.open(a)) {
            pool.createVolume("lun", 4096, 1 << 20, 4096).write(0, ByteBuffer.wrap(PoolFixture.random(1, 4096)), true);
        }
        try (DedupPool pool = PoolFixture.open(b)) {
            uuidB = pool.uuid().toString();
            pool.createVolume("lun", 4096, 1 << 20, 4096).write(0, ByteBuffer.wrap(PoolFixture.random(2, 4096)), true);
        }
        // pool a's metadata, pool b's device
        Files.copy(b.resolve("data/dev0.img"), a.resolve("data/dev0.img"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        IOException e = assertThrows(IOException.class, () -> PoolFixture.open(a));
        assertTrue(e.getMessage().contains("pool " + uuidB), e.getMessage());
        assertTrue(e.getMessage().contains("belongs to pool"), e.getMessage());
    }
}
