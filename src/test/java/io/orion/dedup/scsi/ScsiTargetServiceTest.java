package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.A;
import static io.orion.dedup.scsi.ScsiHarness.B;
import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ScsiHarness.bytes;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.LbaStatus;
import io.orion.dedup.blockdev.RamBlockDevice;
import io.orion.dedup.blockdev.ReadOnlyVolumeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ScsiTargetServiceTest {

    static final long BLOCKS = 4096;
    ScsiTargetService target;
    RamBlockDevice dev;
    ScsiHarness h;

    @BeforeEach
    void setUp() {
        target = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        dev = new RamBlockDevice(512, BLOCKS);
        target.addLun(0, dev, LunOptions.defaults());
        h = new ScsiHarness(target);
        h.login(A, 0);
    }

    @AfterEach
    void tearDown() {
        target.close();
    }

    static byte[] write10(long lba, int blocks, int flags) {
        return cdb(0x2a, flags, (int) (lba >> 24), (int) (lba >> 16), (int) (lba >> 8), (int) lba, 0, blocks >> 8,
                blocks, 0);
    }

    static byte[] read10(long lba, int blocks) {
        return cdb(0x28, 0, (int) (lba >> 24), (int) (lba >> 16), (int) (lba >> 8), (int) lba, 0, blocks >> 8, blocks,
                0);
    }

    static byte[] filled(int len, int value) {
        byte[] b = new byte[len];
        Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void unknownOpcodeIsInvalidCommandOperationCode() {
        assertSense(h.run(A, cdb(0xff, 0, 0, 0, 0, 0)), 0x5, 0x20, 0x00);
        // EXTENDED COPY(LID4) is not implemented: an unknown service action of 83h
        assertSense(h.run(A, cdb(0x83, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), 0x5, 0x24, 0x00);
    }

    @Test
    void newNexusSeesPowerOnResetOnceButInquiryIsExempt() {
        ScsiResponse inq = h.run(B, cdb(0x12, 0, 0, 0, 96, 0));
        assertGood(inq);
        assertSense(h.run(B, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x29, 0x00);
        assertGood(h.run(B, cdb(0, 0, 0, 0, 0, 0)));
    }

    @Test
    void standardInquiryClaimsSbc3AndTruncatesToAllocationLength() {
        byte[] d = bytes(h.run(A, cdb(0x12, 0, 0, 0, 255, 0)));
        assertEquals(96, d.length);
        assertEquals(0, d[0]);
        assertEquals(2, d[3] & 0x0f);
        assertEquals("ORION   ", new String(d, 8, 8, StandardCharsets.US_ASCII));
        boolean sbc3 = false;
        for (int i = 58; i < 74; i += 2) {
            sbc3 |= ((d[i] & 0xff) << 8 | (d[i + 1] & 0xff)) == 0x04c0;
        }
        assertTrue(sbc3);
        assertEquals(5, bytes(h.run(A, cdb(0x12, 0, 0, 0, 5, 0))).length);
        assertSense(h.run(A, cdb(0x12, 0, 0x80, 0, 255, 0)), 0x5, 0x24, 0x00);
        assertSense(h.run(A, cdb(0x12, 1, 0x42, 0, 255, 0)), 0x5, 0x24, 0x00);
    }

    @Test
    void deviceIdentificationIsNaa6AndStableForTheSameDevice() {
        byte[] d = bytes(h.run(A, cdb(0x12, 1, 0x83, 0, 255, 0)));
        assertEquals(0x83, d[1] & 0xff);
        assertEquals(0x01, d[4] & 0x0f);
        assertEquals(0x03, d[5] & 0x0f);
        assertEquals(16, d[7]);
        assertEquals(6, (d[8] & 0xf0) >> 4);
        byte[] naa = Arrays.copyOfRange(d, 8, 24);

        ScsiTargetService other = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        other.addLun(3, dev, LunOptions.defaults());
        ScsiHarness h2 = new ScsiHarness(other);
        byte[] d2 = bytes(h2.run(A, 3, cdb(0x12, 1, 0x83, 0, 255, 0), null, 255));
        assertArrayEquals(naa, Arrays.copyOfRange(d2, 8, 24));
        other.addLun(4, new RamBlockDevice(512, 16), LunOptions.defaults());
        byte[] d3 = bytes(h2.run(A, 4, cdb(0x12, 1, 0x83, 0, 255, 0), null, 255));
        assertNotEquals(Arrays.toString(naa), Arrays.toString(Arrays.copyOfRange(d3, 8, 24)));
        other.close();
        String all = new String(d, StandardCharsets.ISO_8859_1);
        assertTrue(all.contains("iqn.2026-11.io.orion:t,t,0x0001"));
    }

    @Test
    void vpdPagesListedAndThinProvisioningAdvertised() {
        byte[] pages = bytes(h.run(A, cdb(0x12, 1, 0x00, 0, 255, 0)));
        assertArrayEquals(new byte[] {0, (byte) 0x80, (byte) 0x83, (byte) 0x86, (byte) 0x8f, (byte) 0xb0, (byte) 0xb1,
            (byte) 0xb2},
                Arrays.copyOfRange(pages, 4, pages.length));
        byte[] lbp = bytes(h.run(A, cdb(0x12, 1, 0xb2, 0, 255, 0)));
        assertEquals(0xe0, lbp[5] & 0xe0);
        byte[] bl = bytes(h.run(A, cdb(0x12, 1, 0xb0, 0, 255, 0)));
        assertEquals(0x3c, bl[3]);
        assertTrue((bl[5] & 0xff) >= 1, "compare and write length");
        byte[] bdc = bytes(h.run(A, cdb(0x12, 1, 0xb1, 0, 255, 0)));
        assertEquals(1, bdc[5]);
        byte[] rc16 = bytes(h.run(A, cdb(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0)));
        assertEquals(BLOCKS - 1, ByteBuffer.wrap(rc16).getLong(0));
        assertEquals(512, ByteBuffer.wrap(rc16).getInt(8));
        assertEquals(0x80, rc16[14] & 0x80);
    }

    @Test
    void writeThenReadBackAndRangeChecks() {
        byte[] data = filled(1024, 0x5a);
        assertGood(h.write(A, write10(10, 2, 0x08), data));
        assertArrayEquals(data, bytes(h.run(A, read10(10, 2))));
        assertSense(h.run(A, read10(BLOCKS - 1, 2)), 0x5, 0x21, 0x00);
        assertSense(h.run(A, read10(BLOCKS + 1, 0)), 0x5, 0x21, 0x00);
        assertGood(h.run(A, read10(BLOCKS, 0)));
        assertSense(h.write(A, write10(0xffffffffL, 1, 0), filled(512, 1)), 0x5, 0x21, 0x00);
        assertSense(h.run(A, cdb(0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0)), 0x5, 0x24, 0x00); // RDPROTECT
    }

    @Test
    void shortDataOutWritesOnlyTheBlocksThatArrived() {
        assertGood(h.write(A, write10(0, 2, 0), filled(1024, 'a')));
        ScsiResponse r = h.write(A, write10(0, 2, 0), filled(512, 'b'));
        assertGood(r);
        assertEquals(1024, r.dataOutLength());
        byte[] back = bytes(h.run(A, read10(0, 2)));
        assertEquals('b', back[0]);
        assertEquals('a', back[600]);
        ScsiResponse longer = h.write(A, write10(0, 1, 0), filled(1024, 'c'));
        assertGood(longer);
        assertEquals(512, longer.dataOutLength());
        assertEquals('a', bytes(h.run(A, read10(1, 1)))[0]);
    }

    @Test
    void writeProtectedLunAnswersDataProtect() {
        target.addLun(1, new RamBlockDevice(4096, 64), new LunOptions(true, "RO", null));
        h.login(A, 1);
        assertSense(h.run(A, 1, write10(0, 1, 0), new byte[4096], 4096), 0x7, 0x27, 0x00);
        assertSense(h.run(A, 1, cdb(0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0), null, 0), 0x7, 0x27, 0x00);
        assertGood(h.run(A, 1, read10(0, 1), null, 4096));
        byte[] ms = bytes(h.run(A, 1, cdb(0x1a, 0, 0x3f, 0, 255, 0), null, 255));
        assertEquals(0x80, ms[2] & 0x80);
    }

    @Test
    void compareAndWriteIsConditionalAndReportsTheMiscompareOffset() {
        assertGood(h.write(A, write10(5, 1, 0), filled(512, 1)));
        byte[] caw = cdb(0x89, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0);
        byte[] ok = new byte[1024];
        Arrays.fill(ok, 0, 512, (byte) 1);
        Arrays.fill(ok, 512, 1024, (byte) 2);
        assertGood(h.write(A, caw, ok));
        assertEquals(2, bytes(h.run(A, read10(5, 1)))[0]);
        byte[] bad = new byte[1024];
        Arrays.fill(bad, 0, 512, (byte) 2);
        bad[17] = 9;
        Arrays.fill(bad, 512, 1024, (byte) 3);
        ScsiResponse r = h.write(A, caw, bad);
        assertSense(r, 0xe, 0x1d, 0x00);
        assertEquals(0x80, r.sense()[0] & 0x80, "VALID");
        assertEquals(17, ByteBuffer.wrap(r.sense()).getInt(3));
        assertEquals(2, bytes(h.run(A, read10(5, 1)))[0]);
        assertSense(h.write(A, caw, new byte[512]), 0x5, 0x24, 0x00);
    }

    @Test
    void compareAndWriteRejectsDataThatDoesNotMatchTheBlockCount() {
        // NLB 0 with data (an initiator that wrapped 256 into the one-byte field)
        assertSense(h.write(A, cdb(0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), new byte[1024]), 0x5, 0x24, 0);
        assertGood(h.run(A, 0, cdb(0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), null, 0));
    }

    @Test
    void orWriteOrsIntoTheBlocks() {
        assertGood(h.write(A, write10(30, 2, 0), filled(1024, 0xa0)));
        byte[] orw = cdb(0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 2, 0, 0);
        assertGood(h.write(A, orw, filled(1024, 0x05)));
        assertArrayEquals(filled(1024, 0xa5), bytes(h.run(A, read10(30, 2))));
        assertSense(h.write(A, cdb(0x8b, 0x20, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 1, 0, 0), new byte[512]), 0x5, 0x24, 0);
        assertSense(h.write(A, cdb(0x8b, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 1, 0, 0), new byte[512]), 0x5, 0x21, 0);
    }

    @Test
    void verifyWithByteCheckDetectsMismatch() {
        assertGood(h.write(A, write10(0, 1, 0), filled(512, 7)));
        byte[] verify = cdb(0x2f, 0x02, 0, 0, 0, 0, 0, 0, 1, 0);
        assertGood(h.write(A, verify, filled(512, 7)));
        byte[] other = filled(512, 7);
        other[100] = 0;
        ScsiResponse r = h.write(A, verify, other);
        assertSense(r, 0xe, 0x1d, 0x00);
        assertEquals(100, ByteBuffer.wrap(r.sense()).getInt(3));
        assertGood(h.run(A, cdb(0x2f, 0, 0, 0, 0, 0, 0, 0, 1, 0)));
    }

    @Test
    void writeSameUnmapAndUnmapDeallocateAndGetLbaStatusSeesIt() throws IOException {
        assertGood(h.write(A, write10(0, 16, 0), filled(16 * 512, 0xff)));
        assertTrue(dev.status(0, 16).mapped());
        // WRITE SAME(10) with UNMAP over blocks 0..7
        assertGood(h.write(A, cdb(0x41, 0x08, 0, 0, 0, 0, 0, 0, 8, 0), new byte[512]));
        LbaStatus s = dev.status(0, 16);
        assertEquals(new LbaStatus(0, 8, false), s);
        byte[] gls = bytes(h.run(A, cdb(0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0)));
        assertEquals(24, gls.length);
        assertEquals(0, ByteBuffer.wrap(gls).getLong(8));
        assertEquals(8, ByteBuffer.wrap(gls).getInt(16));
        assertEquals(1, gls[20]);
        // UNMAP blocks 8..15
        ByteBuffer p = ByteBuffer.allocate(24);
        p.putShort((short) 22).putShort((short) 16).putInt(0).putLong(8).putInt(8).putInt(0);
        assertGood(h.write(A, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), p.array()));
        assertEquals(new LbaStatus(0, 16, false), dev.status(0, 16));
        assertArrayEquals(new byte[512], bytes(h.run(A, read10(3, 1))));
        assertSense(h.run(A, cdb(0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0x10, 1, 0, 0, 0, 24, 0, 0)), 0x5, 0x21, 0);
        // ANCHOR is not supported; wrong data length is rejected
        assertSense(h.write(A, cdb(0x41, 0x18, 0, 0, 0, 0, 0, 0, 1, 0), new byte[512]), 0x5, 0x24, 0);
        assertSense(h.write(A, cdb(0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0), new byte[256]), 0x5, 0x24, 0);
    }

    @Test
    void writeSameWithUnmapDeallocatesWhateverThePattern() throws IOException {
        assertGood(h.write(A, write10(BLOCKS - 4, 4, 0), filled(2048, 0xff)));
        // NUMBER OF LOGICAL BLOCKS 0: to the end of the LUN
        assertGood(h.write(A, cdb(0x41, 0x08, 0, 0, (int) ((BLOCKS - 4) >> 8), (int) (BLOCKS - 4), 0, 0, 0, 0),
                filled(512, 0xff)));
        assertArrayEquals(new byte[2048], bytes(h.run(A, read10(BLOCKS - 4, 4))));
        assertEquals(new LbaStatus(BLOCKS - 4, 4, false), dev.status(BLOCKS - 4, 4));
    }

    @Test
    void writeSameWritesThePattern() {
        assertGood(h.write(A, cdb(0x41, 0, 0, 0, 0, 20, 0, 0, 4, 0), filled(512, 0x33)));
        assertArrayEquals(filled(2048, 0x33), bytes(h.run(A, read10(20, 4))));
    }

    @Test
    void descriptorSenseAfterModeSelectAndOtherNexusSeesModeChange() {
        h.login(B, 0);
        byte[] ms = bytes(h.run(A, cdb(0x1a, 0x08, 0x0a, 0, 255, 0)));
        assertEquals(4 + 12, ms.length);
        byte[] sel = new byte[16];
        System.arraycopy(ms, 4, sel, 4, 12);
        sel[4 + 2] |= 0x04; // D_SENSE
        assertGood(h.run(A, 0, cdb(0x15, 0x10, 0, 0, 16, 0), sel, 16));
        ScsiResponse r = h.run(A, read10(BLOCKS + 5, 1));
        assertEquals(0x72, r.sense()[0]);
        assertSense(r, 0x5, 0x21, 0);
        assertSense(h.run(B, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x01);
        // A non-changeable bit is refused
        byte[] bad = sel.clone();
        bad[4 + 3] ^= 0x01;
        assertSense(h.run(A, 0, cdb(0x15, 0x10, 0, 0, 16, 0), bad, 16), 0x5, 0x26, 0);
        assertSense(h.run(A, cdb(0x1a, 0, 0xca, 0, 255, 0)), 0x5, 0x39, 0);
    }

    @Test
    void modeSenseAllPagesWithBlockDescriptorAndChangeableValues() {
        byte[] all = bytes(h.run(A, cdb(0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0, 0)));
        assertEquals(all.length - 2, ByteBuffer.wrap(all).getShort(0));
        assertEquals(8, all[7]);
        assertEquals(0x10, all[3] & 0x10, "DPOFUA");
        byte[] chg = bytes(h.run(A, cdb(0x1a, 0x08, 0x48, 0, 255, 0)));
        assertEquals(0x08, chg[4]);
        assertEquals(0x04, chg[6] & 0x04, "WCE changeable");
        assertEquals(4, bytes(h.run(A, cdb(0x1a, 0, 0x3f, 0, 4, 0))).length);
    }

    @Test
    void lunChangesReachOnlyTheNexusesThatSeeTheLun() {
        h.login(B, 0);
        // B's ACL does not map LUN 300: adding or removing it leaves B's inventory as it was
        target.access().replace(java.util.Map.of(B.initiatorName(),
                new NexusAccess.View(java.util.Set.of(0L), java.util.Set.of())));
        target.addLun(300, new RamBlockDevice(512, 8), LunOptions.defaults());
        assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x3f, 0x0e);
        assertGood(h.run(A, cdb(0, 0, 0, 0, 0, 0)));
        assertGood(h.run(B, cdb(0, 0, 0, 0, 0, 0)));
        target.removeLun(300);
        assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x3f, 0x0e);
        assertGood(h.run(B, cdb(0, 0, 0, 0, 0, 0)));
        // B's own view changed (its ACL's mapped LUNs): only B is told
        target.reportedLunsChanged(n -> n.equals(B));
        assertSense(h.run(B, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x3f, 0x0e);
        assertGood(h.run(B, cdb(0, 0, 0, 0, 0, 0)));
        assertGood(h.run(A, cdb(0, 0, 0, 0, 0, 0)));
    }

    @Test
    void scsi2ReservationConflictsOtherNexusAndIsReleasedOnNexusLoss() {
        h.login(B, 0);
        assertGood(h.run(A, cdb(0x16, 0, 0, 0, 0, 0)));
        assertGood(h.run(A, cdb(0x16, 0, 0, 0, 0, 0)));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, h.run(B, cdb(0x16, 0, 0, 0, 0, 0)).status());
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, h.run(B, cdb(0x1a, 0, 0x3f, 0, 255, 0)).status());
        assertGood(h.run(B, cdb(0x12, 0, 0, 0, 36, 0)));
        assertGood(h.run(B, cdb(0x17, 0, 0, 0, 0, 0))); // no-op release
        assertGood(h.run(A, cdb(0x1a, 0, 0x3f, 0, 255, 0)));
        target.nexusLost(A);
        assertGood(h.run(B, cdb(0x16, 0, 0, 0, 0, 0)));
        target.logicalUnitReset(A, 0);
        h.login(A, 0);
        assertGood(h.run(A, cdb(0x16, 0, 0, 0, 0, 0)));
    }

    @Test
    void reportLunsAndLunChangeUnitAttentions() {
        byte[] d = bytes(h.run(A, cdb(0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0)));
        assertEquals(8, ByteBuffer.wrap(d).getInt(0));
        target.addLun(300, new RamBlockDevice(512, 8), LunOptions.defaults());
        byte[] d2 = bytes(h.run(A, cdb(0xa0, 0, 0x02, 0, 0, 0, 0, 0, 1, 0, 0, 0)));
        assertEquals(16, ByteBuffer.wrap(d2).getInt(0));
        assertEquals(0x41, d2[16] & 0xff);
        assertEquals(300 & 0xff, d2[17] & 0xff);
        // REPORT LUNS cleared the REPORTED LUNS DATA HAS CHANGED condition
        assertGood(h.run(A, cdb(0, 0, 0, 0, 0, 0)));
        target.removeLun(300);
        assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x3f, 0x0e);
        assertEquals(0, ByteBuffer.wrap(bytes(h.run(A, cdb(0xa0, 0, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0)))).getInt(0));
        assertSense(h.run(A, cdb(0xa0, 0, 0x05, 0, 0, 0, 0, 0, 1, 0, 0, 0)), 0x5, 0x24, 0);
        assertSense(h.run(A, 7, cdb(0, 0, 0, 0, 0, 0), null, 0), 0x5, 0x25, 0);
        assertEquals(0x7f, bytes(h.run(A, 7, cdb(0x12, 0, 0, 0, 36, 0), null, 36))[0]);
    }

    @Test
    void resizeRaisesCapacityDataChanged() throws IOException {
        dev.resize(BLOCKS * 2);
        target.lunResized(0);
        assertSense(h.run(A, cdb(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x09);
        byte[] rc = bytes(h.run(A, cdb(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0)));
        assertEquals(BLOCKS * 2 - 1, ByteBuffer.wrap(rc).getInt(0));
    }

    @Test
    void replacedContentsRaiseMediumMayHaveChangedOnce() {
        target.lunMediumChanged(0);
        assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x28, 0x00);
        assertGood(h.run(A, cdb(0, 0, 0, 0, 0, 0)));
    }

    @Test
    void requestSenseReturnsAndClearsTheUnitAttention() {
        target.lunResized(0);
        byte[] s = bytes(h.run(A, cdb(0x03, 0, 0, 0, 252, 0)));
        assertEquals(0x70, s[0]);
        assertEquals(0x6, s[2]);
        assertEquals(0x2a, s[12]);
        assertEquals(0x09, s[13]);
        byte[] none = bytes(h.run(A, cdb(0x03, 1, 0, 0, 252, 0)));
        assertEquals(0x72, none[0]);
        assertEquals(0, none[1]);
    }

    @Test
    void reportSupportedOpcodesAllAndOne() {
        byte[] all = bytes(h.run(A, cdb(0xa3, 0x0c, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0)));
        int len = ByteBuffer.wrap(all).getInt(0);
        assertEquals(all.length - 4, len);
        assertEquals(0, len % 20, "descriptors with timeouts are 20 bytes");
        byte[] one = bytes(h.run(A, cdb(0xa3, 0x0c, 0x01, 0x2a, 0, 0, 0, 0, 1, 0, 0, 0)));
        assertEquals(3, one[1] & 7);
        assertEquals(10, ByteBuffer.wrap(one).getShort(2));
        assertEquals(0x2a, one[4] & 0xff);
        assertEquals(0x18, one[5] & 0x18);
        assertSense(h.run(A, cdb(0xa3, 0x0c, 0x01, 0x9e, 0, 0x10, 0, 0, 1, 0, 0, 0)), 0x5, 0x24, 0);
        byte[] sa = bytes(h.run(A, cdb(0xa3, 0x0c, 0x02, 0x9e, 0, 0x10, 0, 0, 1, 0, 0, 0)));
        assertEquals(16, ByteBuffer.wrap(sa).getShort(2));
        byte[] unsupported = bytes(h.run(A, cdb(0xa3, 0x0c, 0x01, 0xff, 0, 0, 0, 0, 1, 0, 0, 0)));
        assertEquals(1, unsupported[1] & 7);
    }

    @Test
    void ioErrorsBecomeMediumErrorAndReadOnlyVolumeBecomesDataProtect() {
        FailingDevice failing = new FailingDevice(new RamBlockDevice(512, 64));
        target.addLun(2, failing, LunOptions.defaults());
        h.login(A, 2);
        assertSense(h.run(A, 2, read10(0, 1), null, 512), 0x3, 0x11, 0);
        assertSense(h.run(A, 2, write10(0, 1, 0), new byte[512], 512), 0x3, 0x0c, 0);
        assertSense(h.run(A, 2, write10(1, 1, 0), new byte[512], 512), 0x7, 0x27, 0);
        // a thin LU out of space: DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (SBC-4 §4.7.3.6)
        assertSense(h.run(A, 2, write10(2, 1, 0), new byte[512], 512), 0x7, 0x27, 0x07);
    }

    /**
     * An initiator that keeps writing to a read-only or full LUN, or to a failing device, logged a
     * WARN or ERROR line (with a stack trace) per command: 1000 refused writes were 1000 lines. Now
     * each kind per LUN logs 5 lines per 10 s and counts the rest in one summary line (on close).
     */
    @Test
    void refusedWritesAndIoErrorsDoNotFloodTheLog() {
        FailingDevice failing = new FailingDevice(new RamBlockDevice(512, 64));
        target.addLun(2, failing, LunOptions.defaults());
        h.login(A, 2);
        ch.qos.logback.classic.Logger log =
                (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(ScsiTargetService.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines =
                new ch.qos.logback.core.read.ListAppender<>();
        lines.start();
        log.addAppender(lines);
        try {
            for (int i = 0; i < 1000; i++) {
                assertSense(h.run(A, 2, write10(1, 1, 0), new byte[512], 512), 0x7, 0x27, 0);
                assertSense(h.run(A, 2, write10(2, 1, 0), new byte[512], 512), 0x7, 0x27, 0x07);
                assertSense(h.run(A, 2, write10(0, 1, 0), new byte[512], 512), 0x3, 0x0c, 0);
            }
            target.close();
        } finally {
            log.detachAppender(lines);
        }
        java.util.List<String> text = lines.list.stream().map(e -> e.getFormattedMessage()).toList();
        assertTrue(text.size() <= 3 * 5 + 3 + 3, text.size() + " lines: " + text);
        for (String kind : java.util.List.of("refused, volume is read-only", "refused, out of space",
                "failed with an I/O error")) {
            assertTrue(text.stream().anyMatch(t -> t.contains(kind)), "first " + kind + " logged: " + text);
        }
        long counted = text.stream().filter(t -> t.contains("more like this")).mapToLong(
                t -> Long.parseLong(t.substring(0, t.indexOf(' ')).replace(",", ""))).sum();
        long logged = text.stream().filter(t -> !t.contains("more like this")).count();
        assertEquals(3000, logged + counted, text.toString());
    }

    @Test
    void syncCachePrefetchStartStopAndDefectData() {
        assertGood(h.run(A, cdb(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0)));
        assertGood(h.run(A, cdb(0x34, 0x02, 0, 0, 0, 0, 0, 0, 1, 0)));
        assertSense(h.run(A, cdb(0x34, 0, 0, 0, 0x20, 0, 0, 0, 1, 0)), 0x5, 0x21, 0);
        assertGood(h.run(A, cdb(0x1b, 0, 0, 0, 0x01, 0)));
        assertGood(h.run(A, cdb(0x1e, 0, 0, 0, 0x01, 0)));
        byte[] dd = bytes(h.run(A, cdb(0x37, 0, 0x08, 0, 0, 0, 0, 0, 255, 0)));
        assertEquals(4, dd.length);
        assertEquals(0, ByteBuffer.wrap(dd).getShort(2));
    }

    /**
     * The transport's R/W bits must fit the CDB's data direction (RFC 7143 §11.3.1, SAM-5): a
     * WRITE(16) flagged as a read (or with neither bit) answered GOOD and wrote nothing; a READ(16)
     * with neither bit answered GOOD without data. Both are ILLEGAL REQUEST / INVALID FIELD IN CDB
     * now; a length mismatch in the right direction stays a residual.
     */
    @Test
    void dataDirectionMustFitTheCdb() {
        byte[] write16 = cdb(0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0);
        byte[] read16 = cdb(0x88, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0);
        byte[] data = filled(4096, 0x5a);
        // WRITE with R=1 W=0: refused, the blocks stay zero
        ScsiResponse w = target.execute(new ScsiCommand(A, 0, write16, TaskAttribute.SIMPLE, 4096, true, false,
                ByteBuffer.wrap(data), 1)).join().detached();
        assertSense(w, 0x5, 0x24, 0x00);
        assertArrayEquals(new byte[4096], bytes(h.run(A, 0, read16, null, 4096)));
        // WRITE with neither bit but an expected length: refused as well
        assertSense(target.execute(new ScsiCommand(A, 0, write16, TaskAttribute.SIMPLE, 4096, false, false,
                null, 2)).join().detached(), 0x5, 0x24, 0x00);
        assertArrayEquals(new byte[4096], bytes(h.run(A, 0, read16, null, 4096)));
        // READ with R=0 W=0 and an expected length: refused, no data
        ScsiResponse r = target.execute(new ScsiCommand(A, 0, read16, TaskAttribute.SIMPLE, 4096, false, false,
                null, 2)).join().detached();
        assertSense(r, 0x5, 0x24, 0x00);
        assertEquals(null, r.dataIn());
        // a READ flagged as a write (W=1, R=0) stays GOOD: libiscsi's iSCSIResiduals.Read10Invalid requires it
        assertGood(target.execute(new ScsiCommand(A, 0, read16, TaskAttribute.SIMPLE, 4096, false, true,
                ByteBuffer.wrap(data), 4)).join().detached());
        // the right direction with a shorter expected length is a residual, not an error
        assertGood(h.write(A, write16, filled(2048, 0x5a)));
        byte[] back = bytes(h.run(A, 0, read16, null, 4096));
        assertArrayEquals(filled(2048, 0x5a), Arrays.copyOf(back, 2048));
        assertArrayEquals(new byte[2048], Arrays.copyOfRange(back, 2048, 4096));
        // no bits and no expected length: nothing to check (RFC 7143 allows R=W=0 with EDTL 0)
        assertGood(target.execute(new ScsiCommand(A, 0, cdb(0, 0, 0, 0, 0, 0), TaskAttribute.SIMPLE, 0, false, false,
                null, 3)).join().detached());
    }
}
