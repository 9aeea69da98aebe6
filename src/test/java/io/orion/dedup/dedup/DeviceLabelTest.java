package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.containers.DeviceLabels;
import io.orion.dedup.containers.SlotHeader;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Devices are found by their label (docs/on-disk-format.md, "Device label"), never by their order
 * in the configuration: a reordered configuration opens with every block intact, a device of another
 * pool is refused and left byte-identical, a missing device is named, and a device of a pool written
 * before labels is recognised from its containers' headers and labelled at open.
 */
class DeviceLabelTest {
    private static final int BLOCKS = 700;

    @TempDir
    Path dir;

    private PoolOptions options(Path meta, List<Path> devices) {
        PoolOptions.Builder b = PoolOptions.builder(meta).containerSize(1 << 20).metadataMapSize(64L << 20)
                .referenceCleanupIntervalSeconds(0).cacheSize(8 << 20).hashCacheSize(1 << 20);
        for (Path d : devices) {
            b.device(d, 0);
        }
        return b.build();
    }

    private Path dev(int i) {
        return dir.resolve("data/dev" + i + ".img");
    }

    private static byte[] content(int lba, int gen) {
        return PoolFixture.random(lba * 31L + gen * 1_000_003L, 4096);
    }

    /** A pool on dev0 and dev1 with {@code BLOCKS} unique blocks spread over both. */
    private String twoDevicePool() throws IOException {
        try (DedupPool pool = DedupPool.open(options(dir.resolve("meta"), List.of(dev(0), dev(1))))) {
            DedupVolume v = pool.createVolume("lun", 4096, 16L << 20, 4096);
            for (int lba = 0; lba < BLOCKS; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 0)), false);
            }
            pool.flush();
            assertTrue(pool.stats().devices().get(1).containers() > 0, "both devices hold containers");
            return pool.uuid().toString();
        }
    }

    private static void assertReads(DedupPool pool, int gen) throws IOException {
        DedupVolume v = pool.openVolume("lun").orElseThrow();
        for (int lba = 0; lba < BLOCKS; lba++) {
            assertArrayEquals(content(lba, gen), PoolFixture.read(v, lba, 1).array(), "block " + lba);
        }
    }

    @Test
    void devicesListedInAnotherOrderOpenWithEveryBlockIntact() throws Exception {
        twoDevicePool();
        try (DedupPool pool = DedupPool.open(options(dir.resolve("meta"), List.of(dev(1), dev(0))))) {
            assertReads(pool, 0);
            assertTrue(pool.verify().clean());
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 0; lba < BLOCKS; lba += 3) {
                v.write(lba, ByteBuffer.wrap(content(lba, 1)), false);
            }
            pool.flush();
        }
        // and back in the first order: what was written in the swapped order is where it should be
        try (DedupPool pool = DedupPool.open(options(dir.resolve("meta"), List.of(dev(0), dev(1))))) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 0; lba < BLOCKS; lba++) {
                assertArrayEquals(content(lba, lba % 3 == 0 ? 1 : 0), PoolFixture.read(v, lba, 1).array());
            }
            assertTrue(pool.verify().clean());
        }
        assertEquals(0, DeviceLabels.label(dev(0)).device());
        assertEquals(1, DeviceLabels.label(dev(1)).device());
    }

    @Test
    void aDeviceOfAnotherPoolIsRefusedNamedAndLeftByteIdentical() throws Exception {
        twoDevicePool();
        Path other = dir.resolve("other/dev0.img");
        String otherUuid;
        try (DedupPool b = DedupPool.open(options(dir.resolve("other/meta"), List.of(other)))) {
            otherUuid = b.uuid().toString();
        }
        assertNotNull(DeviceLabels.label(other), "a new pool labels its device at once");
        byte[] otherBefore = Files.readAllBytes(other);
        byte[] dev0Before = Files.readAllBytes(dev(0));
        byte[] dev1Before = Files.readAllBytes(dev(1));
        // dev1 replaced by the other pool's device, in either position
        for (List<Path> devices : List.of(List.of(dev(0), other), List.of(other, dev(0)))) {
            IOException e = assertThrows(IOException.class,
                    () -> DedupPool.open(options(dir.resolve("meta"), devices)));
            assertTrue(e.getMessage().contains(other.toString()), e.getMessage());
            assertTrue(e.getMessage().contains(otherUuid), "names the pool it belongs to: " + e.getMessage());
            assertArrayEquals(otherBefore, Files.readAllBytes(other), "the foreign device is not written");
            assertArrayEquals(dev0Before, Files.readAllBytes(dev(0)));
            assertArrayEquals(dev1Before, Files.readAllBytes(dev(1)));
        }
    }

    @Test
    void aMissingDeviceIsNamed() throws Exception {
        twoDevicePool();
        IOException e = assertThrows(IOException.class,
                () -> DedupPool.open(options(dir.resolve("meta"), List.of(dev(0)))));
        assertTrue(e.getMessage().contains("device #1"), e.getMessage());
        assertTrue(e.getMessage().contains("missing"), e.getMessage());

        // the file gone but still listed: a blank device is not taken for it
        Path moved = dir.resolve("moved.img");
        Files.move(dev(1), moved);
        e = assertThrows(IOException.class,
                () -> DedupPool.open(options(dir.resolve("meta"), List.of(dev(0), dev(1)))));
        assertTrue(e.getMessage().contains("device #1") && e.getMessage().contains("missing"), e.getMessage());
        assertTrue(e.getMessage().contains(dev(1).toString()), "names the unlabelled device: " + e.getMessage());
        // the device found under another name (a /dev/sdX that moved): the pool opens
        Files.deleteIfExists(dev(1));
        try (DedupPool pool = DedupPool.open(options(dir.resolve("meta"), List.of(moved, dev(0))))) {
            assertReads(pool, 0);
        }
    }

    @Test
    void twoCopiesOfOneDeviceAreRefused() throws Exception {
        twoDevicePool();
        Path copy = dir.resolve("copy.img");
        Files.copy(dev(1), copy);
        IOException e = assertThrows(IOException.class,
                () -> DedupPool.open(options(dir.resolve("meta"), List.of(dev(0), dev(1), copy))));
        assertTrue(e.getMessage().contains("both carry the label of device #1"), e.getMessage());
    }

    @Test
    void aPoolWrittenBeforeLabelsIsRecognisedFromItsContainersAndLabelled() throws Exception {
        twoDevicePool();
        // free slot 0 on both devices: overwrite every block, then clean up
        try (DedupPool pool = DedupPool.open(options(dir.resolve("meta"), List.of(dev(0), dev(1))))) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 0; lba < BLOCKS; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 1)), false);
            }
            pool.flush();
            pool.cleanup();
        }
        int unlabelled = 0;
        for (int i = 0; i < 2; i++) {
            DeviceLabels.Header label = DeviceLabels.label(dev(i));
            assertNotNull(label);
            assertEquals(i, label.device());
            if (label.containerId() != 0) {
                // the cleanup's journal records went into a new container in this freed slot 0: its
                // header is the label, as a container header in slot 0 was before labels existed
                continue;
            }
            // slot 0 freed: a label-only header stands there. Make it as a build without labels
            // leaves it: slot 0 free, its bytes zero (punched)
            try (RandomAccessFile f = new RandomAccessFile(dev(i).toFile(), "rw")) {
                f.write(new byte[SlotHeader.SIZE]);
            }
            assertNull(DeviceLabels.label(dev(i)));
            unlabelled++;
        }
        assertTrue(unlabelled >= 1, "at least one device is left without a label, so adoption is exercised");
        try (DedupPool pool = DedupPool.open(options(dir.resolve("meta"), List.of(dev(1), dev(0))))) {
            assertReads(pool, 1);
            assertTrue(pool.verify().clean());
        }
        assertEquals(0, DeviceLabels.label(dev(0)).device(), "labelled at open, from its containers' headers");
        assertEquals(1, DeviceLabels.label(dev(1)).device());
    }

    @Test
    void anotherDiskThatTookAMissingDevicesNameIsRefusedAndNotWritten() throws Exception {
        twoDevicePool();
        // device #1 is gone; in its place stands another disk holding data (a file system, say)
        Path disk = dir.resolve("data/other-disk.img");
        byte[] data = PoolFixture.random(4242, 3 << 20);
        Files.write(disk, data);
        IOException e = assertThrows(IOException.class,
                () -> DedupPool.open(options(dir.resolve("meta"), List.of(dev(0), disk))));
        assertTrue(e.getMessage().contains("device #1"), e.getMessage());
        assertArrayEquals(data, Files.readAllBytes(disk), "the other disk is left byte-identical");
    }

    @Test
    void aDeviceCutBackToNothingByCleanupKeepsItsLabel() throws Exception {
        twoDevicePool();
        try (DedupPool pool = DedupPool.open(options(dir.resolve("meta"), List.of(dev(0), dev(1))))) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            v.unmap(0, BLOCKS);
            pool.flush();
            pool.cleanup();
            pool.cleanup(); // the first run's journal records, too, move down out of the way
            for (int i = 0; i < 2; i++) {
                DeviceLabels.Header label = DeviceLabels.label(dev(i));
                assertNotNull(label, "device " + i + " carries its label after cleanup freed its containers");
                assertEquals(i, label.device());
            }
        }
    }

    @Test
    void aRebuildNumbersADeviceWhoseLabelIsUnreadableByItsSlotHeaders() throws Exception {
        twoDevicePool();
        try (DedupPool pool = DedupPool.open(options(dir.resolve("meta"), List.of(dev(0), dev(1))))) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 0; lba < BLOCKS; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 1)), false);
            }
            pool.flush();
            pool.cleanup(); // frees the first generation's containers: some slot 0 keeps only its label
        }
        int damaged = -1;
        for (int i = 0; i < 2 && damaged < 0; i++) {
            if (DeviceLabels.label(dev(i)).containerId() == 0) {
                try (RandomAccessFile f = new RandomAccessFile(dev(i).toFile(), "rw")) {
                    f.seek(40);
                    f.write(0x5a); // a reserved byte: the label fails its CRC32C
                }
                assertNull(DeviceLabels.label(dev(i)));
                damaged = i;
            }
        }
        assertTrue(damaged >= 0, "a device whose slot 0 holds only its label");
        PoolOptions swapped = options(dir.resolve("meta"), List.of(dev(1), dev(0)));
        try (var files = Files.walk(dir.resolve("meta"))) {
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
        new io.orion.dedup.recovery.PoolRebuilder(swapped.devices(), swapped.metadataDir(), swapped.containerSize(),
                swapped.metadataMapSize(), null).rebuild();
        try (DedupPool pool = DedupPool.open(swapped)) {
            assertReads(pool, 1);
            assertTrue(pool.verify().clean());
        }
    }
}
