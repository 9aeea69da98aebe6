package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.blockdev.ReadOnlyVolumeException;
import io.orion.dedup.containers.BackingDevice;
import io.orion.dedup.containers.Container;
import io.orion.dedup.containers.DeviceFaults;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failing devices, through the Java-level fault layer under the backing devices
 * ({@link BackingDevice#injectFaults}): an EIO on reads fails only the blocks whose records it
 * touches (the SCSI layer answers those with MEDIUM ERROR 03/11/00) and never returns other bytes;
 * an EIO on writes fails the write (03/0C/00) and nothing else; an EIO on fsync turns the pool
 * read-only with the reason, and a restart brings back everything flushed before it; with two
 * devices, one failing device takes only its own records offline.
 */
class DeviceFaultTest {
    static final int BS = 4096;

    @TempDir
    Path dir;

    static byte[] block(int i) {
        return PoolFixture.random(5000 + i, BS);
    }

    static void writeEach(DedupVolume v, int from, int to) throws IOException {
        for (int i = from; i < to; i++) {
            v.write(i, ByteBuffer.wrap(block(i)), false);
        }
    }

    static byte[] read(DedupVolume v, int lba) throws IOException {
        return PoolFixture.read(v, lba, 1).array();
    }

    /** The device and byte range of the record that block {@code lba} maps to. */
    static long[] recordOf(DedupPool pool, DedupVolume v, int lba) throws IOException {
        try (MetaTxn t = pool.meta().read()) {
            ChunkRecord r = t.chunk(t.block(v.state().id, lba));
            Container c = pool.store().container(r.containerId());
            long at = c.device().slotBase(c.slot()) + r.offset();
            return new long[] {c.device().index(), at, at + r.length()};
        }
    }

    static BackingDevice device(DedupPool pool, int index) {
        return pool.store().devices().stream().filter(d -> d.index() == index).findFirst().orElseThrow();
    }

    static void crossCheck(DedupPool pool) throws IOException {
        try (MetaTxn t = pool.meta().read()) {
            MetaCrossCheck.Report r = MetaCrossCheck.run(t);
            assertTrue(r.problems().isEmpty(), r.problems().toString());
        }
    }

    @Test
    void aReadErrorFailsOnlyTheBlocksWhoseRecordsItTouches() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            writeEach(v, 0, 32);
            pool.flush();
            pool.flushCaches();
            long[] bad = recordOf(pool, v, 10);
            BackingDevice d = device(pool, (int) bad[0]);
            d.injectFaults(DeviceFaults.failRange(DeviceFaults.Op.READ, bad[1], bad[2]));
            IOException e = assertThrows(IOException.class, () -> read(v, 10), "block 10's record cannot be read");
            assertTrue(e.getMessage().contains("Input/output error") || e.getCause() != null, e.toString());
            for (int i = 0; i < 32; i++) {
                if (i != 10) {
                    assertArrayEquals(block(i), read(v, i), "block " + i + " is not on the failing range");
                }
            }
            assertNull(pool.readOnlyReason(), "a read error does not stop the pool");
            v.write(40, ByteBuffer.wrap(block(40)), false); // still writable
            d.injectFaults(DeviceFaults.NONE);
            assertArrayEquals(block(10), read(v, 10), "readable again once the device answers");
            assertArrayEquals(block(40), read(v, 40));
        }
    }

    @Test
    void aWriteErrorFailsTheWriteAndNothingElse() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            writeEach(v, 0, 16);
            pool.flush();
            BackingDevice d = device(pool, 0);
            d.injectFaults(DeviceFaults.failAll(DeviceFaults.Op.WRITE));
            assertThrows(IOException.class, () -> v.write(20, ByteBuffer.wrap(block(20)), false));
            assertThrows(IOException.class, () -> v.write(3, ByteBuffer.wrap(block(99)), false));
            assertArrayEquals(block(3), read(v, 3), "a failed overwrite leaves the old data");
            assertArrayEquals(new byte[BS], read(v, 20), "a failed write maps nothing");
            d.injectFaults(DeviceFaults.NONE);
            assertNull(pool.readOnlyReason(), "a write error does not stop the pool");
            v.write(20, ByteBuffer.wrap(block(20)), false);
            pool.flush();
            for (int i = 0; i < 16; i++) {
                assertArrayEquals(block(i), read(v, i));
            }
            assertArrayEquals(block(20), read(v, 20));
            crossCheck(pool);
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int i = 0; i < 16; i++) {
                assertArrayEquals(block(i), read(v, i), "after a restart");
            }
            assertArrayEquals(block(20), read(v, 20));
        }
    }

    @Test
    void anFsyncErrorTurnsThePoolReadOnlyAndARestartBringsBackWhatWasFlushed() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            writeEach(v, 0, 16);
            pool.flush();
            device(pool, 0).injectFaults(DeviceFaults.failAll(DeviceFaults.Op.FORCE));
            writeEach(v, 16, 20); // accepted: not flushed yet
            assertThrows(IOException.class, pool::flush, "SYNCHRONIZE CACHE fails");
            String why = pool.readOnlyReason();
            assertNotNull(why, "a failed fsync cannot be retried safely: the pool stops taking writes");
            assertTrue(why.contains("flush"), why);
            assertThrows(ReadOnlyVolumeException.class, () -> v.write(30, ByteBuffer.wrap(block(30)), false));
            for (int i = 0; i < 16; i++) {
                assertArrayEquals(block(i), read(v, i), "reads go on");
            }
            // the device answers again, but the pages the failed fsync covered may be gone: a
            // later flush must not vouch for blocks 16..19
            device(pool, 0).injectFaults(DeviceFaults.NONE);
            assertThrows(IOException.class, pool::flush, "a flush after a failed fsync fails until a restart");
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertNull(pool.readOnlyReason(), "a restart on a healthy device is writable again");
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int i = 0; i < 16; i++) {
                assertArrayEquals(block(i), read(v, i), "flushed before the failed fsync: intact");
            }
            for (int i = 16; i < 20; i++) {
                byte[] got = read(v, i);
                assertTrue(java.util.Arrays.equals(block(i), got) || java.util.Arrays.equals(new byte[BS], got),
                        "block " + i + " (not flushed) reads its data or zeros, never other bytes");
            }
            v.write(30, ByteBuffer.wrap(block(30)), false);
            assertArrayEquals(block(30), read(v, 30));
            crossCheck(pool);
        }
    }

    @Test
    void oneFailingDeviceOfTwoTakesOnlyItsOwnRecordsOffline() throws Exception {
        PoolOptions o = PoolFixture.options(dir).device(dir.resolve("data/dev1.img"), 0).build();
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            // appends go to the devices in turn; a zero write between two writes (a journal record
            // only) shifts the turn, so the chunk records land on both devices
            for (int i = 0; i < 64; i++) {
                v.write(i, ByteBuffer.wrap(block(i)), false);
                if (i % 2 == 0) {
                    v.write(200 + i, ByteBuffer.wrap(new byte[BS]), false);
                }
            }
            pool.flush();
            pool.flushCaches();
            int[] onDevice = new int[2];
            int[] deviceOf = new int[64];
            for (int i = 0; i < 64; i++) {
                deviceOf[i] = (int) recordOf(pool, v, i)[0];
                onDevice[deviceOf[i]]++;
            }
            assertTrue(onDevice[0] > 0 && onDevice[1] > 0, "records on both devices: " + onDevice[0] + "/" + onDevice[1]);
            device(pool, 1).injectFaults(DeviceFaults.failAll(DeviceFaults.Op.READ));
            for (int i = 0; i < 64; i++) {
                int lba = i;
                if (deviceOf[i] == 1) {
                    assertThrows(IOException.class, () -> read(v, lba), "block " + i + " is on the failing device");
                } else {
                    assertArrayEquals(block(i), read(v, i), "block " + i + " is on the healthy device");
                }
            }
            assertEquals(null, pool.readOnlyReason());
        }
    }

    /**
     * One write fails with EIO (a transient error: the next writes succeed); everything committed
     * before and after it must come back from the devices alone. The failed record left a hole in
     * its container; records appended after the hole in the same container were cut off by
     * {@code recover}'s walk as a torn tail.
     */
    @Test
    void recoverAfterATransientWriteErrorFindsEverythingCommitted() throws Exception {
        PoolOptions o = PoolFixture.options(dir).build();
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            writeEach(v, 0, 8);
            java.util.concurrent.atomic.AtomicInteger writes = new java.util.concurrent.atomic.AtomicInteger();
            device(pool, 0).injectFaults((op, pos, length) -> {
                if (op == DeviceFaults.Op.WRITE && writes.getAndIncrement() == 0) {
                    throw DeviceFaults.eio("the first write after the fault was set");
                }
            });
            assertThrows(IOException.class, () -> v.write(8, ByteBuffer.wrap(block(8)), false));
            writeEach(v, 9, 24);
            pool.flush();
        }
        PoolFixture.rebuildFromDevices(o);
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int i = 0; i < 24; i++) {
                assertArrayEquals(i == 8 ? new byte[BS] : block(i), read(v, i), "block " + i + " after recover");
            }
            crossCheck(pool);
        }
    }
}
