package io.orion.dedup.containers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Slot allocation, reuse lowest-first, file shrinking, size limits. */
class BackingDeviceTest {
    @TempDir
    Path dir;

    /** Bytes the file system holds for {@code f} ({@code stat %b}, 512-byte blocks). */
    private static long allocated(Path f) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b", f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertEquals(0, p.waitFor(), out);
        return Long.parseLong(out) * 512;
    }

    @Test
    void aFreedSlotBelowTheTopGivesItsBlocksBackToTheFileSystem() throws Exception {
        long slot = 1 << 20;
        Path f = dir.resolve("d.img");
        byte[] full = new byte[(int) slot];
        java.util.Arrays.fill(full, (byte) 7);
        try (BackingDevice d = BackingDevice.open(0, new DeviceSpec(f, 0), slot)) {
            for (int i = 0; i < 3; i++) {
                assertEquals(i, d.allocateSlot());
                d.write(ByteBuffer.wrap(full), d.slotBase(i));
            }
            d.force();
            long before = allocated(f);
            assertTrue(before >= 3 * slot, "three slots written: " + before);
            d.freeSlot(0);
            assertEquals(3 * slot, Files.size(f), "the slot keeps its place");
            assertTrue(allocated(f) <= before - slot, "slot 0's blocks are free: " + allocated(f) + " of " + before);
            ByteBuffer b = ByteBuffer.allocate(4096);
            d.read(b, d.slotBase(1));
            assertEquals(7, b.get(4095), "the other slots keep their bytes");
        }
    }

    /**
     * A thread interrupted while it writes or forces a device (a timer stopped with shutdownNow
     * during its cleanup) must not close the device for everyone: before, the force failed with
     * ClosedByInterruptException and every later flush with "an earlier fsync failed".
     */
    @Test
    void anInterruptedThreadNeitherClosesTheDeviceNorFailsItsFsync() throws Exception {
        long slot = 1 << 20;
        try (BackingDevice d = BackingDevice.open(0, new DeviceSpec(dir.resolve("d.img"), 0), slot)) {
            d.allocateSlot();
            Thread.currentThread().interrupt();
            try {
                d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
                d.force();
                ByteBuffer b = ByteBuffer.allocate(3);
                d.read(b, 0);
                assertEquals(3, b.get(2));
            } finally {
                assertTrue(Thread.interrupted(), "the interrupt is left for the thread's owner to see");
            }
            d.write(ByteBuffer.wrap(new byte[] {4}), 3);
            d.force();
        }
    }

    @Test
    void slotsAreReusedLowestFirstAndTheFileShrinks() throws Exception {
        long slot = 1 << 20;
        try (BackingDevice d = BackingDevice.open(0, new DeviceSpec(dir.resolve("d.img"), 4 * slot), slot)) {
            assertEquals(0, d.allocateSlot());
            assertEquals(1, d.allocateSlot());
            assertEquals(2, d.allocateSlot());
            d.write(ByteBuffer.wrap(new byte[100]), d.slotBase(2) + 10);
            assertEquals(2 * slot + 110, Files.size(dir.resolve("d.img")));
            d.freeSlot(0);
            assertEquals(0, d.allocateSlot());
            assertEquals(3, d.allocateSlot());
            assertEquals(-1, d.allocateSlot(), "size limit reached");
            d.freeSlot(3);
            d.freeSlot(2);
            assertTrue(Files.size(dir.resolve("d.img")) <= 2 * slot);
            assertEquals(2, d.usedSlots());
            assertEquals(2, d.freeSlots());
            assertThrows(EOFException.class, () -> d.read(ByteBuffer.allocate(10), 5 * slot));
        }
    }

    @Test
    void aDeviceSmallerThanOneSlotIsRejected() {
        assertThrows(java.io.IOException.class,
                () -> BackingDevice.open(0, new DeviceSpec(dir.resolve("d.img"), 1000), 1 << 20));
    }
}
