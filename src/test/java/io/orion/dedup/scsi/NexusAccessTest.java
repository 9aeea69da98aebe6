package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.LbaStatus;
import io.orion.dedup.blockdev.RamBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * LUN masking and per-nexus write protection in the SCSI core: REPORT LUNS, MODE SENSE's WP bit
 * and the write check all consult the one access table ({@link NexusAccess}).
 */
class NexusAccessTest {

    private ScsiTargetService scsi;
    private ScsiHarness h;

    @BeforeEach
    void setUp() {
        scsi = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        for (long lun : List.of(0L, 1L, 2L, 300L)) {
            scsi.addLun(lun, new RamBlockDevice(512, 2048), LunOptions.defaults());
        }
        h = new ScsiHarness(scsi);
        // A sees LUNs 1, 2 and 300, and may only read 2; B has no entry and sees everything
        scsi.access().replace(Map.of("IQN.2026-11.test:A", new NexusAccess.View(Set.of(1L, 2L, 300L), Set.of(2L))));
    }

    @AfterEach
    void tearDown() {
        scsi.close();
    }

    private static byte[] reportLuns() {
        return cdb(0xA0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0);
    }

    private static List<Long> reported(ScsiResponse r) {
        assertGood(r);
        ByteBuffer b = r.dataIn().duplicate();
        int n = b.getInt(b.position()) / 8;
        List<Long> luns = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int off = b.position() + 8 + 8 * i;
            luns.add((long) (((b.get(off) & 0x3f) << 8) | (b.get(off + 1) & 0xff)));
        }
        return luns;
    }

    @Test
    void anUnmappedLunIsAbsentFromReportLunsAndNotSupported() {
        assertEquals(List.of(1L, 2L, 300L), reported(h.run(ScsiHarness.A, 1, reportLuns(), null, 4096)));
        assertEquals(List.of(1L, 2L, 300L), reported(h.run(ScsiHarness.A, 0, reportLuns(), null, 4096)),
                "REPORT LUNS through an unmapped LUN 0 (the well-known address) lists the same");
        assertEquals(List.of(0L, 1L, 2L, 300L), reported(h.run(ScsiHarness.B, 0, reportLuns(), null, 4096)));
        assertSense(h.run(ScsiHarness.A, 0, cdb(0, 0, 0, 0, 0, 0), null, 0), 0x5, 0x25, 0x00);
        assertSense(h.run(ScsiHarness.A, 0, cdb(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), null, 512), 0x5, 0x25, 0x00);
        ScsiResponse inq = h.run(ScsiHarness.A, 0, cdb(0x12, 0, 0, 0, 96, 0), null, 96);
        assertGood(inq);
        assertEquals(0x7f, inq.dataIn().get(inq.dataIn().position()) & 0xff, "peripheral qualifier 011b");
        assertFalse(scsi.hasLun(ScsiHarness.A, 0));
        assertTrue(scsi.hasLun(ScsiHarness.A, 1));
        assertTrue(scsi.hasLun(ScsiHarness.B, 0));
    }

    @Test
    void aReadOnlyMappingRefusesWritesAndShowsWp() {
        byte[] write10 = cdb(0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0);
        byte[] data = new byte[512];
        data[0] = 0x5a;
        ScsiResponse w = h.run(ScsiHarness.A, 2, write10, data, 512);
        assertSense(w, 0x7, 0x27, 0x00);
        assertEquals(512, w.dataOutLength(), "no residual on the refused data");
        assertSense(h.run(ScsiHarness.A, 2, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), new byte[24], 24), 0x7, 0x27, 0x00);
        h.login(ScsiHarness.A, 2);
        ScsiResponse read = h.run(ScsiHarness.A, 2, cdb(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), null, 512);
        assertGood(read);
        assertEquals(0, ScsiHarness.bytes(read)[0], "nothing was written");
        byte[] modeSense6 = cdb(0x1A, 0x08, 0x3f, 0, 192, 0);
        ScsiResponse m = h.run(ScsiHarness.A, 2, modeSense6, null, 192);
        assertGood(m);
        assertEquals(0x80, ScsiHarness.bytes(m)[2] & 0x80, "WP bit, MODE SENSE(6)");
        ScsiResponse m10 = h.run(ScsiHarness.A, 2, cdb(0x5A, 0x08, 0x3f, 0, 0, 0, 0, 0, 192, 0), null, 192);
        assertGood(m10);
        assertEquals(0x80, ScsiHarness.bytes(m10)[3] & 0x80, "WP bit, MODE SENSE(10)");

        h.login(ScsiHarness.A, 1);
        assertGood(h.run(ScsiHarness.A, 1, write10, data, 512));
        assertEquals(0, ScsiHarness.bytes(h.run(ScsiHarness.A, 1, modeSense6, null, 192))[2] & 0x80,
                "a read-write mapping of the same initiator");
        h.login(ScsiHarness.B, 2);
        assertGood(h.run(ScsiHarness.B, 2, write10, data, 512));
        assertEquals(0, ScsiHarness.bytes(h.run(ScsiHarness.B, 2, modeSense6, null, 192))[2] & 0x80,
                "another initiator may write LUN 2");
    }

    @Test
    void aTableChangeAppliesToTheNextCommand() {
        h.login(ScsiHarness.A, 1);
        scsi.access().replace(Map.of("iqn.2026-11.test:a", NexusAccess.View.of(List.of(0), true)));
        assertEquals(List.of(0L), reported(h.run(ScsiHarness.A, 0, reportLuns(), null, 4096)));
        assertSense(h.run(ScsiHarness.A, 1, cdb(0, 0, 0, 0, 0, 0), null, 0), 0x5, 0x25, 0x00);
        assertSense(h.run(ScsiHarness.A, 0, cdb(0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0), new byte[512], 512), 0x7, 0x27, 0x00);
        scsi.access().replace(Map.of());
        assertEquals(List.of(0L, 1L, 2L, 300L), reported(h.run(ScsiHarness.A, 0, reportLuns(), null, 4096)));
    }

    /**
     * A LUN being removed waits for the commands already under way on it (so its device is not
     * closed under them), and commands sent after the removal get LOGICAL UNIT NOT SUPPORTED.
     */
    @Test
    void aRemovedLunIsIdleOnlyOnceItsCommandsInFlightFinished() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch started = new CountDownLatch(1);
        scsi.addLun(7, new GatedDevice(new RamBlockDevice(512, 2048), started, release), LunOptions.defaults());
        byte[] read10 = cdb(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0);
        h.login(ScsiHarness.B, 7);
        CompletableFuture<ScsiResponse> inFlight = scsi.execute(new ScsiCommand(ScsiHarness.B, 7, read10,
                TaskAttribute.SIMPLE, 512, true, false, null, 2));
        assertTrue(started.await(5, TimeUnit.SECONDS), "the read reached the device");

        scsi.removeLun(7);
        assertFalse(scsi.awaitIdle(7, Duration.ofMillis(200)), "a read is still in flight on the removed LUN");
        assertSense(h.run(ScsiHarness.B, 7, read10, null, 512), 0x5, 0x25, 0x00);

        release.countDown();
        ScsiResponse done = inFlight.get(5, TimeUnit.SECONDS);
        done.releaseData();
        assertEquals(ScsiResponse.GOOD, done.status(), "the command under way completes");
        assertTrue(scsi.awaitIdle(7, Duration.ofSeconds(5)));
        assertTrue(scsi.awaitIdle(12, Duration.ZERO), "a LUN never used is idle");
    }

    /** A RAM device whose reads announce themselves, then wait for a latch. */
    private static final class GatedDevice implements BlockDevice {
        private final RamBlockDevice ram;
        private final CountDownLatch started;
        private final CountDownLatch release;

        GatedDevice(RamBlockDevice ram, CountDownLatch started, CountDownLatch release) {
            this.ram = ram;
            this.started = started;
            this.release = release;
        }

        @Override
        public int blockSize() {
            return ram.blockSize();
        }

        @Override
        public long blockCount() {
            return ram.blockCount();
        }

        @Override
        public boolean thin() {
            return ram.thin();
        }

        @Override
        public void read(long lba, ByteBuffer dst) throws IOException {
            started.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            ram.read(lba, dst);
        }

        @Override
        public void write(long lba, ByteBuffer src, boolean fua) throws IOException {
            ram.write(lba, src, fua);
        }

        @Override
        public void flush() throws IOException {
            ram.flush();
        }

        @Override
        public void unmap(long lba, long blocks) throws IOException {
            ram.unmap(lba, blocks);
        }

        @Override
        public void writeSame(long lba, long blocks, ByteBuffer pattern, boolean unmap) throws IOException {
            ram.writeSame(lba, blocks, pattern, unmap);
        }

        @Override
        public long compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data, boolean fua) throws IOException {
            return ram.compareAndWrite(lba, expected, data, fua);
        }

        @Override
        public LbaStatus status(long lba, long maxBlocks) throws IOException {
            return ram.status(lba, maxBlocks);
        }

        @Override
        public void resize(long newBlockCount) throws IOException {
            ram.resize(newBlockCount);
        }

        @Override
        public String uuid() {
            return ram.uuid();
        }

        @Override
        public void close() throws IOException {
            ram.close();
        }
    }

}
