package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.A;
import static io.orion.dedup.scsi.ScsiHarness.B;
import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ScsiHarness.bytes;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.orion.dedup.blockdev.RamBlockDevice;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ModeAndResetTest {

    ScsiTargetService target;
    ScsiHarness h;

    @BeforeEach
    void setUp() {
        target = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        target.addLun(0, new RamBlockDevice(512, 1024), LunOptions.defaults());
        h = new ScsiHarness(target);
        h.login(A, 0);
        h.login(B, 0);
    }

    @AfterEach
    void tearDown() {
        target.close();
    }

    static final byte[] WRITE = cdb(0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0);

    /** MODE SELECT(6) of the control page with SWP and D_SENSE as given. */
    ScsiResponse selectControl(Nexus n, boolean swp) {
        byte[] page = bytes(h.run(n, cdb(0x1a, 0x08, 0x0a, 0, 255, 0)));
        byte[] sel = new byte[4 + 12];
        System.arraycopy(page, 4, sel, 4, 12);
        sel[4 + 4] = (byte) (swp ? sel[4 + 4] | 0x08 : sel[4 + 4] & ~0x08);
        return h.run(n, 0, cdb(0x15, 0x10, 0, 0, sel.length, 0), sel, sel.length);
    }

    @Test
    void softwareWriteProtectRefusesWritesUntilCleared() {
        assertGood(selectControl(A, true));
        byte[] ms = bytes(h.run(A, cdb(0x1a, 0x08, 0x0a, 0, 255, 0)));
        assertEquals(0x80, ms[2] & 0x80, "WP in the device-specific parameter");
        assertEquals(0x08, ms[4 + 4] & 0x08, "SWP");
        assertSense(h.write(A, WRITE, new byte[512]), 0x7, 0x27, 0);
        assertGood(h.run(A, cdb(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0)));
        assertSense(h.run(B, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x01);
        assertGood(selectControl(A, false));
        assertGood(h.write(A, WRITE, new byte[512]));
    }

    @Test
    void cachingPageWceCanBeTurnedOff() {
        byte[] page = bytes(h.run(A, cdb(0x1a, 0x08, 0x08, 0, 255, 0)));
        assertEquals(0x04, page[4 + 2] & 0x04, "WCE on by default");
        byte[] sel = new byte[4 + 20];
        System.arraycopy(page, 4, sel, 4, 20);
        sel[4 + 2] &= ~0x04;
        assertGood(h.run(A, 0, cdb(0x15, 0x10, 0, 0, sel.length, 0), sel, sel.length));
        assertEquals(0, bytes(h.run(A, cdb(0x1a, 0x08, 0x08, 0, 255, 0)))[4 + 2] & 0x04);
        assertEquals(0x04, bytes(h.run(A, cdb(0x1a, 0x08, 0x88, 0, 255, 0)))[4 + 2] & 0x04, "default stays on");
        // saving is not supported
        assertSense(h.run(A, 0, cdb(0x15, 0x11, 0, 0, sel.length, 0), sel, sel.length), 0x5, 0x24, 0);
    }

    @Test
    void logicalUnitResetReleasesReservationResetsModeAndWarnsEveryNexus() {
        assertGood(h.run(A, cdb(0x16, 0, 0, 0, 0, 0)));
        assertGood(selectControl(A, true));
        assertSense(h.run(B, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x01);
        target.logicalUnitReset(A, 0);
        assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x29, 0x03);
        assertGood(h.run(A, cdb(0, 0, 0, 0, 0, 0)));
        assertSense(h.run(B, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x29, 0x03);
        assertGood(h.run(B, cdb(0x16, 0, 0, 0, 0, 0)));
        assertGood(h.write(B, WRITE, new byte[512]));
    }

    /**
     * A multipath initiator (two sessions, as iscsi-test-cu MultipathIO.Reset uses) resets the LU
     * on one path: both paths, the issuing one included, must see the reset unit attention once,
     * and a reset on the other path must warn both again.
     */
    @Test
    void logicalUnitResetWarnsEveryPathOfAMultipathInitiator() {
        Nexus p0 = Nexus.iscsi("iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test", 0x23d000000001L,
                "iqn.2026-11.io.orion:t", 1);
        Nexus p1 = Nexus.iscsi("iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2", 0x23d000000001L,
                "iqn.2026-11.io.orion:t", 1);
        h.login(p0, 0);
        h.login(p1, 0);
        for (Nexus issuer : new Nexus[] {p0, p1}) {
            target.logicalUnitReset(issuer, 0);
            for (Nexus path : new Nexus[] {p0, p1}) {
                assertSense(h.run(path, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x29, 0x03);
                assertGood(h.run(path, cdb(0, 0, 0, 0, 0, 0)));
            }
        }
    }

    @Test
    void targetResetWarnsEveryNexusIncludingTheIssuer() {
        assertGood(h.run(B, cdb(0x16, 0, 0, 0, 0, 0)));
        target.targetReset(A, false);
        assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x29, 0x00);
        assertSense(h.run(B, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x29, 0x00);
        assertGood(h.run(A, cdb(0x16, 0, 0, 0, 0, 0)));
    }

    @Test
    void clearTaskSetWarnsOtherInitiators() {
        target.taskSetCleared(A, 0, true);
        assertGood(h.run(A, cdb(0, 0, 0, 0, 0, 0)));
        assertSense(h.run(B, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2f, 0x00);
        target.taskSetCleared(A, 0, false);
        assertGood(h.run(B, cdb(0, 0, 0, 0, 0, 0)));
    }

    @Test
    void fourKibibyteBlocksScaleCapacityAndLimits() {
        target.addLun(1, new RamBlockDevice(4096, 256), LunOptions.defaults());
        h.login(A, 1);
        ByteBuffer rc = ByteBuffer.wrap(bytes(h.run(A, 1, cdb(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), null, 8)));
        assertEquals(255, rc.getInt(0));
        assertEquals(4096, rc.getInt(4));
        ByteBuffer bl = ByteBuffer.wrap(bytes(h.run(A, 1, cdb(0x12, 1, 0xb0, 0, 255, 0), null, 255)));
        assertEquals(1, bl.getShort(6), "optimal transfer length granularity in 4 KiB blocks");
        assertEquals((32 << 20) / 4096, bl.getInt(8), "maximum transfer length");
        byte[] data = new byte[8192];
        data[5000] = 7;
        assertGood(h.run(A, 1, cdb(0x2a, 0, 0, 0, 0, 3, 0, 0, 2, 0), data, 8192));
        byte[] back = bytes(h.run(A, 1, cdb(0x28, 0, 0, 0, 0, 3, 0, 0, 2, 0), null, 8192));
        assertEquals(7, back[5000]);
        assertSense(h.run(A, 1, cdb(0xa0, 0, 0x11, 0, 0, 0, 0, 0, 1, 0, 0, 0), null, 256), 0x5, 0x24, 0);
    }

    @Test
    void persistentRegistrationsSurviveNexusLoss() {
        ByteBuffer p = ByteBuffer.allocate(24).putLong(0).putLong(0x77);
        assertGood(h.run(A, 0, cdb(0x5f, 6, 0, 0, 0, 0, 0, 0, 24, 0), p.array(), 24));
        target.nexusLost(A);
        ByteBuffer keys = ByteBuffer.wrap(bytes(h.run(B, cdb(0x5e, 0, 0, 0, 0, 0, 0, 0, 64, 0))));
        assertEquals(8, keys.getInt(4));
        assertEquals(0x77, keys.getLong(8));
    }
}
