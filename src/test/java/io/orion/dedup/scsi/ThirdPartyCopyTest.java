package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.A;
import static io.orion.dedup.scsi.ScsiHarness.B;
import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ScsiHarness.bytes;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.RamBlockDevice;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * EXTENDED COPY, RECEIVE COPY RESULTS, POPULATE TOKEN / WRITE USING TOKEN / RECEIVE ROD TOKEN
 * INFORMATION and VPD page 8Fh, driven with CDB and parameter-list fixtures against two targets that
 * share one {@link CopyManager}, as the server wires them: the bytes read back and the sense codes
 * SPC-4 and SBC-3 name.
 */
class ThirdPartyCopyTest {

    static final int BS = 512;
    static final long BLOCKS = 4096;

    final AtomicLong clock = new AtomicLong(1_000_000_000L);
    CopyManager copies;
    ScsiTargetService one;
    ScsiTargetService two;
    RamBlockDevice src;
    RamBlockDevice dst;
    ScsiHarness h1;
    ScsiHarness h2;

    @BeforeEach
    void setUp() {
        copies = new CopyManager(new RodTokens(clock::get));
        one = new ScsiTargetService("iqn.2026-11.io.orion:one", null);
        two = new ScsiTargetService("iqn.2026-11.io.orion:two", null);
        one.useCopyManager(copies);
        two.useCopyManager(copies);
        src = new RamBlockDevice(BS, BLOCKS);
        dst = new RamBlockDevice(BS, BLOCKS);
        one.addLun(0, src, LunOptions.defaults());
        one.addLun(1, new RamBlockDevice(BS, BLOCKS), new LunOptions(true, null, null));
        two.addLun(0, dst, LunOptions.defaults());
        h1 = new ScsiHarness(one);
        h2 = new ScsiHarness(two);
        h1.login(A, 0);
        h1.login(A, 1);
        h2.login(A, 0);
    }

    @AfterEach
    void tearDown() {
        one.close();
        two.close();
    }

    // ---- fixtures ------------------------------------------------------------------------------

    byte[] naa(ScsiHarness h, long lun) {
        byte[] d = bytes(h.run(A, lun, cdb(0x12, 1, 0x83, 0, 255, 0), null, 255));
        assertEquals(0x03, d[5] & 0x0f, "first designator is the NAA");
        return Arrays.copyOfRange(d, 8, 8 + (d[7] & 0xff));
    }

    static byte[] cscd(byte[] naa) {
        byte[] c = new byte[32];
        c[0] = (byte) 0xe4;
        c[4] = 0x01;
        c[5] = 0x03;
        c[7] = (byte) naa.length;
        System.arraycopy(naa, 0, c, 8, naa.length);
        c[30] = (byte) (BS >> 8);
        c[31] = (byte) BS;
        return c;
    }

    static byte[] segment(int srcIndex, int dstIndex, int blocks, long srcLba, long dstLba) {
        byte[] s = new byte[28];
        s[0] = 0x02;
        Cdb.put16(s, 2, 0x18);
        Cdb.put16(s, 4, srcIndex);
        Cdb.put16(s, 6, dstIndex);
        Cdb.put16(s, 10, blocks);
        Cdb.put64(s, 12, srcLba);
        Cdb.put64(s, 20, dstLba);
        return s;
    }

    static byte[] xcopyList(int listId, List<byte[]> targets, List<byte[]> segments) {
        int tl = targets.stream().mapToInt(t -> t.length).sum();
        int sl = segments.stream().mapToInt(t -> t.length).sum();
        ByteBuffer b = ByteBuffer.allocate(16 + tl + sl);
        b.put((byte) listId).put((byte) 0).putShort((short) tl).putInt(0).putInt(sl).putInt(0);
        targets.forEach(b::put);
        segments.forEach(b::put);
        return b.array();
    }

    static byte[] xcopyCdb(int length) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x83;
        Cdb.put32(c, 10, length);
        return c;
    }

    ScsiResponse xcopy(ScsiHarness h, long lun, byte[] list) {
        return h.run(A, lun, xcopyCdb(list.length), list, list.length);
    }

    static byte[] receive(int sa, long listId) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x84;
        c[1] = (byte) sa;
        if (sa == 0x07) {
            Cdb.put32(c, 2, listId);
        } else {
            c[2] = (byte) listId;
        }
        Cdb.put32(c, 10, 4096);
        return c;
    }

    static byte[] tokenCdb(int sa, long listId, int length) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x83;
        c[1] = (byte) sa;
        Cdb.put32(c, 6, listId);
        Cdb.put32(c, 10, length);
        return c;
    }

    static byte[] populateList(int timeout, long... lbaBlocks) {
        ByteBuffer b = ByteBuffer.allocate(16 + 8 * lbaBlocks.length);
        b.putShort((short) (14 + 8 * lbaBlocks.length)).put((byte) 0).put((byte) 0).putInt(timeout).putInt(0);
        b.putShort((short) 0).putShort((short) (8 * lbaBlocks.length));
        for (int i = 0; i < lbaBlocks.length; i += 2) {
            b.putLong(lbaBlocks[i]).putInt((int) lbaBlocks[i + 1]).putInt(0);
        }
        return b.array();
    }

    static byte[] writeUsingList(byte[] token, int flags, long offset, long... lbaBlocks) {
        ByteBuffer b = ByteBuffer.allocate(536 + 8 * lbaBlocks.length);
        b.putShort((short) (534 + 8 * lbaBlocks.length)).put((byte) flags).put((byte) 0).putInt(0).putLong(offset);
        b.put(token).put(new byte[6]).putShort((short) (8 * lbaBlocks.length));
        for (int i = 0; i < lbaBlocks.length; i += 2) {
            b.putLong(lbaBlocks[i]).putInt((int) lbaBlocks[i + 1]).putInt(0);
        }
        return b.array();
    }

    byte[] populate(long listId, int timeout, long... lbaBlocks) {
        byte[] p = populateList(timeout, lbaBlocks);
        assertGood(h1.run(A, 0, tokenCdb(0x10, listId, p.length), p, p.length));
        byte[] info = bytes(h1.run(A, 0, receive(0x07, listId), null, 4096));
        assertEquals(0x10, info[4] & 0x1f, "response to POPULATE TOKEN");
        assertEquals(0x01, info[5] & 0x7f, "completed");
        assertEquals(0xf1, info[15] & 0xff, "transfer count in blocks");
        int sense = info[13] & 0xff;
        assertEquals(514, Cdb.u32(info, 32 + sense));
        return Arrays.copyOfRange(info, 32 + sense + 4 + 2, 32 + sense + 4 + 2 + 512);
    }

    ScsiResponse writeUsing(ScsiHarness h, long listId, byte[] list) {
        return h.run(A, 0, tokenCdb(0x11, listId, list.length), list, list.length);
    }

    static byte[] random(int len, long seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] read(RamBlockDevice dev, long lba, int blocks) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(blocks * BS);
        dev.read(lba, b);
        return b.array();
    }

    // ---- EXTENDED COPY ---------------------------------------------------------------------------

    @Test
    void extendedCopyGoesToALunOfAnotherTargetAndReportsItsStatusOnce() throws Exception {
        byte[] data = random(64 * BS, 1);
        src.write(8, ByteBuffer.wrap(data), false);
        byte[] list = xcopyList(7, List.of(cscd(naa(h1, 0)), cscd(naa(h2, 0))),
                List.of(segment(0, 1, 32, 8, 100), segment(0, 1, 32, 40, 132)));
        assertGood(xcopy(h1, 0, list));
        assertArrayEquals(data, read(dst, 100, 64));

        byte[] st = bytes(h1.run(A, 0, receive(0x00, 7), null, 4096));
        assertEquals(8, Cdb.u32(st, 0));
        assertEquals(0x01, st[4] & 0x7f, "completed without error");
        assertEquals(2, Cdb.u16(st, 5), "segments processed");
        assertEquals(0, st[7], "transfer count in bytes");
        assertEquals(64L * BS, Cdb.u32(st, 8));
        // handed out once; another nexus never saw it
        assertSense(h1.run(A, 0, receive(0x00, 7), null, 4096), 0x5, 0x24, 0x00);
    }

    @Test
    void heldResultsFollowListIdUsageAndGoWithTheNexus() {
        byte[] self = cscd(naa(h1, 0));
        byte[] noHold = xcopyList(5, List.of(self), List.of(segment(0, 0, 8, 0, 64)));
        noHold[1] = 0x18;                                            // LIST ID USAGE 11b: nothing held
        assertGood(xcopy(h1, 0, noHold));
        assertSense(h1.run(A, 0, receive(0x00, 5), null, 4096), 0x5, 0x24, 0x00);
        assertGood(xcopy(h1, 0, xcopyList(6, List.of(self), List.of(segment(0xffff, 0xffff, 8, 0, 64)))));
        one.nexusLost(A);                                            // logout: held data is discarded
        h1.login(A, 0);
        assertSense(h1.run(A, 0, receive(0x00, 6), null, 4096), 0x5, 0x24, 0x00);
    }

    @Test
    void aTokenDiesWithItsSourceLun() {
        byte[] token = populate(1, 0, 0, 8);
        one.removeLun(0);
        assertSense(writeUsing(h2, 2, writeUsingList(token, 0, 0, 100, 8)), 0x5, 0x23, 0x06);
        assertEquals(0, copies.tokens().liveTokens());
    }

    @Test
    void theServersAccessPolicyDecidesWhichLunsACopyMayName() {
        byte[] self = cscd(naa(h1, 0));
        byte[] other = cscd(naa(h2, 0));
        byte[] list = xcopyList(1, List.of(self, other), List.of(segment(0, 1, 8, 0, 64)));
        byte[] back = xcopyList(2, List.of(self, other), List.of(segment(1, 0, 8, 0, 64)));
        // the ACL of target two maps its LUN 0 write-protected for this initiator
        copies.access((initiator, session, target, lun, write) -> !(target.endsWith(":two") && write));
        assertSense(xcopy(h1, 0, list), 0x7, 0x27, 0x00);
        assertGood(xcopy(h1, 0, back));
        // ... or does not map it at all: it is not reachable, as source or destination
        copies.access((initiator, session, target, lun, write) -> !target.endsWith(":two"));
        assertSense(xcopy(h1, 0, list), 0xa, 0x0d, 0x02);
        assertSense(xcopy(h1, 0, back), 0xa, 0x0d, 0x02);
    }

    @Test
    void aCopyTargetReservedByAnotherNexusIsAReservationConflict() throws Exception {
        byte[] self = cscd(naa(h1, 0));
        byte[] other = cscd(naa(h2, 0));
        byte[] into = xcopyList(1, List.of(self, other), List.of(segment(0, 1, 8, 0, 64)));
        byte[] from = xcopyList(2, List.of(self, other), List.of(segment(1, 0, 8, 0, 64)));
        h2.login(ScsiHarness.B, 0);
        // SCSI-2 RESERVE by another initiator: neither read nor written
        assertGood(h2.run(ScsiHarness.B, 0, cdb(0x16, 0, 0, 0, 0, 0), null, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, xcopy(h1, 0, into).status());
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, xcopy(h1, 0, from).status());
        assertGood(h2.run(ScsiHarness.B, 0, cdb(0x17, 0, 0, 0, 0, 0), null, 0));
        // PERSISTENT RESERVE, WRITE EXCLUSIVE, held by another initiator: read, not written
        ByteBuffer key = ByteBuffer.allocate(24);
        key.putLong(8, 0xabcdL);
        assertGood(h2.run(ScsiHarness.B, 0, cdb(0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0), key.array(), 24));
        ByteBuffer reserve = ByteBuffer.allocate(24);
        reserve.putLong(0, 0xabcdL);
        assertGood(h2.run(ScsiHarness.B, 0, cdb(0x5f, 1, 1, 0, 0, 0, 0, 0, 24, 0), reserve.array(), 24));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, xcopy(h1, 0, into).status());
        assertGood(xcopy(h1, 0, from));
        assertGood(h2.run(ScsiHarness.B, 0, cdb(0x5f, 3, 0, 0, 0, 0, 0, 0, 24, 0), reserve.array(), 24)); // CLEAR
        // WRITE USING TOKEN reads the token's source: not while another nexus holds it reserved
        byte[] p = populateList(0, 0, 8);
        assertGood(h2.run(A, 0, tokenCdb(0x10, 3, p.length), p, p.length));
        byte[] info = bytes(h2.run(A, 0, receive(0x07, 3), null, 4096));
        byte[] token = Arrays.copyOfRange(info, 32 + 4 + 2, 32 + 4 + 2 + 512);
        assertGood(h2.run(ScsiHarness.B, 0, cdb(0x16, 0, 0, 0, 0, 0), null, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, h1.run(A, 0, tokenCdb(0x11, 4, 552),
                writeUsingList(token, 0, 0, 100, 8), 552).status());
        assertGood(h2.run(ScsiHarness.B, 0, cdb(0x17, 0, 0, 0, 0, 0), null, 0));
        assertGood(h1.run(A, 0, tokenCdb(0x11, 5, 552), writeUsingList(token, 0, 0, 100, 8), 552));
    }

    @Test
    void operatingParametersAndTheThirdPartyCopyPage() {
        byte[] op = bytes(h1.run(A, 0, receive(0x03, 0), null, 4096));
        assertEquals(op.length - 4, Cdb.u32(op, 0));
        assertEquals(ThirdPartyCopy.MAX_TARGET_DESCRIPTORS, Cdb.u16(op, 8));
        assertEquals(ThirdPartyCopy.MAX_SEGMENT_DESCRIPTORS, Cdb.u16(op, 10));
        assertEquals(ThirdPartyCopy.MAX_DESCRIPTOR_LIST_LENGTH, Cdb.u32(op, 12));
        assertEquals(2, op[43]);
        assertEquals(0x02, op[44] & 0xff);
        assertEquals(0xe4, op[45] & 0xff);

        byte[] std = bytes(h1.run(A, 0, cdb(0x12, 0, 0, 0, 96, 0), null, 96));
        assertEquals(0x08, std[5] & 0x08, "3PC");
        byte[] page = bytes(h1.run(A, 0, cdb(0x12, 1, 0x8f, 4, 0, 0), null, 1024));
        assertEquals(0x8f, page[1] & 0xff);
        assertEquals(page.length - 4, Cdb.u16(page, 2));
        List<Integer> types = new ArrayList<>();
        byte[] commands = null;
        for (int at = 4; at < page.length; ) {
            int type = Cdb.u16(page, at);
            int len = Cdb.u16(page, at + 2);
            types.add(type);
            if (type == 0x0001) {
                commands = Arrays.copyOfRange(page, at + 5, at + 5 + (page[at + 4] & 0xff));
            }
            if (type == 0x0000) {
                assertEquals(0x20, len);
                assertEquals(RodTokens.DEFAULT_INACTIVITY_SECONDS, Cdb.u32(page, at + 16));
            }
            at += 4 + len;
        }
        assertEquals(List.of(0x0000, 0x0001, 0x0004, 0x0008, 0x000c, 0x0106, 0x0108, 0x8001), types);
        assertArrayEquals(cdb(0x83, 3, 0x00, 0x10, 0x11, 0x84, 4, 0x00, 0x03, 0x04, 0x07), commands);
    }

    @Test
    void parameterListErrorsGiveTheSenseSpc4Names() {
        byte[] self = cscd(naa(h1, 0));
        byte[] good = xcopyList(1, List.of(self), List.of(segment(0, 0, 8, 0, 64)));
        // a parameter list shorter than its header says
        assertSense(xcopy(h1, 0, Arrays.copyOf(good, good.length - 1)), 0x5, 0x1a, 0x00);
        assertSense(xcopy(h1, 0, Arrays.copyOf(good, 10)), 0x5, 0x1a, 0x00);
        // zero length: nothing to do
        assertGood(h1.run(A, 0, xcopyCdb(0), null, 0));
        // a Fibre Channel N_Port_Name target descriptor
        byte[] fc = self.clone();
        fc[0] = (byte) 0xe0;
        assertSense(xcopy(h1, 0, xcopyList(1, List.of(fc), List.of(segment(0, 0, 8, 0, 64)))), 0x5, 0x26, 0x07);
        // a stream-to-stream segment descriptor
        byte[] stream = segment(0, 0, 8, 0, 64);
        stream[0] = 0x03;
        assertSense(xcopy(h1, 0, xcopyList(1, List.of(self), List.of(stream))), 0x5, 0x26, 0x09);
        // one target and one segment descriptor more than RECEIVE COPY RESULTS reports
        List<byte[]> targets = new ArrayList<>();
        List<byte[]> segments = new ArrayList<>();
        for (int i = 0; i <= ThirdPartyCopy.MAX_TARGET_DESCRIPTORS; i++) {
            targets.add(self);
            segments.add(segment(0, 0, 1, 0, 64));
        }
        assertSense(xcopy(h1, 0, xcopyList(1, targets, List.of(good))), 0x5, 0x26, 0x06);
        assertSense(xcopy(h1, 0, xcopyList(1, List.of(self), segments)), 0x5, 0x26, 0x08);
        // descriptors longer than the MAXIMUM DESCRIPTOR LIST LENGTH
        List<byte[]> many = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            many.add(segment(0, 0, 1, 0, 64));
        }
        assertSense(xcopy(h1, 0, xcopyList(1, List.of(self), many)), 0x5, 0x1a, 0x00);
        // inline data
        byte[] inline = good.clone();
        Cdb.put32(inline, 12, 4);
        assertSense(xcopy(h1, 0, inline), 0x5, 0x26, 0x0b);
    }

    @Test
    void unreachableTargetsAndBadRangesAbortTheCopy() {
        byte[] self = cscd(naa(h1, 0));
        byte[] stranger = self.clone();
        stranger[20] ^= 0x55;
        assertSense(xcopy(h1, 0, xcopyList(2, List.of(stranger), List.of(segment(0, 0, 8, 0, 64)))), 0xa, 0x0d, 0x02);
        assertSense(xcopy(h1, 0, xcopyList(2, List.of(self), List.of(segment(0, 1, 8, 0, 64)))), 0xa, 0x0d, 0x02);
        assertSense(xcopy(h1, 0, xcopyList(2, List.of(self), List.of(segment(0, 0, 8, 0, BLOCKS - 1)))), 0xa, 0x00,
                0x00);
        // the failure's sense is kept for RECEIVE COPY RESULTS / FAILED SEGMENT DETAILS
        byte[] fsd = bytes(h1.run(A, 0, receive(0x04, 2), null, 4096));
        assertEquals(0x02, fsd[56], "COPY COMMAND STATUS: CHECK CONDITION");
        int len = Cdb.u16(fsd, 58);
        assertTrue(len >= 14);
        assertEquals(0xa, fsd[60 + 2] & 0xf);
        // a read-only destination LU of the same target
        byte[] ro = cscd(naa(h1, 1));
        assertSense(xcopy(h1, 0, xcopyList(3, List.of(self, ro), List.of(segment(0, 1, 8, 0, 64)))), 0x7, 0x27,
                0x00);
        // a LUN that was removed is no longer a copy target
        byte[] other = cscd(naa(h2, 0));
        two.removeLun(0);
        assertSense(xcopy(h1, 0, xcopyList(4, List.of(self, other), List.of(segment(0, 1, 8, 0, 64)))), 0xa, 0x0d,
                0x02);
    }

    // ---- POPULATE TOKEN / WRITE USING TOKEN --------------------------------------------------------

    @Test
    void aTokenCopiesItsRangesToAnotherTargetFromAnOffset() throws Exception {
        byte[] a = random(16 * BS, 2);
        byte[] b = random(16 * BS, 3);
        src.write(0, ByteBuffer.wrap(a), false);
        src.write(1000, ByteBuffer.wrap(b), false);
        byte[] token = populate(0x1234, 0, 0, 16, 1000, 16);
        assertEquals(RodTokens.ROD_PIT_CHANGE_VULNERABLE, (int) Cdb.u32(token, 0));
        assertEquals(0x1f8, Cdb.u16(token, 6));

        // 8 blocks into the token: the second half of a, then b, split over two destination ranges
        assertGood(writeUsing(h2, 9, writeUsingList(token, 0, 8, 200, 10, 300, 14)));
        byte[] want = new byte[24 * BS];
        System.arraycopy(a, 8 * BS, want, 0, 8 * BS);
        System.arraycopy(b, 0, want, 8 * BS, 16 * BS);
        assertArrayEquals(Arrays.copyOfRange(want, 0, 10 * BS), read(dst, 200, 10));
        assertArrayEquals(Arrays.copyOfRange(want, 10 * BS, 24 * BS), read(dst, 300, 14));
        byte[] info = bytes(h2.run(A, 0, receive(0x07, 9), null, 4096));
        assertEquals(0x11, info[4] & 0x1f);
        assertEquals(0x01, info[5] & 0x7f);
        assertEquals(24, Cdb.u64(info, 16));
        assertEquals(0, Cdb.u32(info, 32), "no token in the answer to WRITE USING TOKEN");

        // more destination than the token holds: what it holds is written, with a residual
        assertGood(writeUsing(h2, 10, writeUsingList(token, 0, 0, 2000, 40)));
        byte[] res = bytes(h2.run(A, 0, receive(0x07, 10), null, 4096));
        assertEquals(0x03, res[5] & 0x7f, "completed with residual");
        assertEquals(32, Cdb.u64(res, 16));
    }

    @Test
    void aWriteToARepresentedBlockRevokesTheTokenOthersDoNot() {
        byte[] token = populate(1, 0, 0, 64);
        // writes elsewhere, on this LU or another, leave it usable
        assertGood(h1.run(A, 0, cdb(0x2a, 0, 0, 0, 0, 64, 0, 0, 8, 0), new byte[8 * BS], 8 * BS));
        assertGood(h2.run(A, 0, cdb(0x2a, 0, 0, 0, 0, 10, 0, 0, 8, 0), new byte[8 * BS], 8 * BS));
        assertGood(writeUsing(h2, 2, writeUsingList(token, 0, 0, 100, 8)));
        // one block inside the range changes
        assertGood(h1.run(A, 0, cdb(0x2a, 0, 0, 0, 0, 63, 0, 0, 1, 0), new byte[BS], BS));
        assertSense(writeUsing(h2, 3, writeUsingList(token, 0, 0, 100, 8)), 0x5, 0x23, 0x06);

        // UNMAP revokes too
        byte[] second = populate(4, 0, 128, 8);
        byte[] unmap = new byte[24];
        Cdb.put16(unmap, 0, 22);
        Cdb.put16(unmap, 2, 16);
        Cdb.put64(unmap, 8, 130);
        Cdb.put32(unmap, 16, 1);
        assertGood(h1.run(A, 0, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), unmap, 24));
        assertSense(writeUsing(h2, 5, writeUsingList(second, 0, 0, 100, 8)), 0x5, 0x23, 0x06);
        assertEquals(0, copies.tokens().liveTokens());
    }

    @Test
    void aSanitizeRevokesEveryTokenOfItsLu() {
        byte[] token = populate(1, 0, 200, 8);
        // SANITIZE BLOCK ERASE (48h/02h) of LU 0 on target one: every block changes
        assertGood(h1.run(A, 0, cdb(0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0), null, 0));
        assertSense(writeUsing(h2, 2, writeUsingList(token, 0, 0, 100, 8)), 0x5, 0x23, 0x06);
        assertEquals(0, copies.tokens().liveTokens());
    }

    @Test
    void replacedContentsRevokeTheLusTokens() {
        byte[] token = populate(1, 0, 200, 8);
        one.lunMediumChanged(0); // what lun rollback does
        assertSense(writeUsing(h2, 2, writeUsingList(token, 0, 0, 100, 8)), 0x5, 0x23, 0x06);
        assertEquals(0, copies.tokens().liveTokens());
    }

    @Test
    void aTokenCopiesOnlyForANexusThatMayReadItsSource() throws Exception {
        byte[] a = random(8 * BS, 5);
        src.write(0, ByteBuffer.wrap(a), false);
        byte[] token = populate(1, 0, 0, 8);
        // initiator B is denied target one (the token's source) but may use target two
        copies.access((initiator, session, target, lun, write) ->
                !(target.endsWith(":one") && initiator.equals(B.initiatorName())));
        h2.login(B, 0);
        byte[] list = writeUsingList(token, 0, 0, 100, 8);
        ScsiResponse r = h2.run(B, 0, tokenCdb(0x11, 2, list.length), list, list.length);
        assertSense(r, 0x5, 0x23, 0x04);
        assertArrayEquals(new byte[8 * BS], read(dst, 100, 8), "nothing of the source reached B's LUN");
        // A may: the token still works for it ...
        assertGood(writeUsing(h2, 3, writeUsingList(token, 0, 0, 100, 8)));
        assertArrayEquals(a, read(dst, 100, 8));
        // ... until its ACL is narrowed: the check is made at every use
        copies.access((initiator, session, target, lun, write) -> !target.endsWith(":one"));
        assertSense(writeUsing(h2, 4, writeUsingList(token, 0, 0, 300, 8)), 0x5, 0x23, 0x04);
        assertArrayEquals(new byte[8 * BS], read(dst, 300, 8));
    }

    @Test
    void aWriteToTheSourceDuringTheCopyFailsTheWriteUsingToken() throws Exception {
        RamBlockDevice ram = new RamBlockDevice(BS, BLOCKS);
        byte[] before = random(8 * BS, 6);
        ram.write(0, ByteBuffer.wrap(before), false);
        AtomicBoolean armed = new AtomicBoolean();
        // the source device: the first read of the copy lets a WRITE of block 3 in just before it
        BlockDevice racing = (BlockDevice) Proxy.newProxyInstance(BlockDevice.class.getClassLoader(),
                new Class<?>[] {BlockDevice.class}, (proxy, m, args) -> {
                    if (m.getName().equals("read") && armed.getAndSet(false)) {
                        assertGood(h1.run(A, 2, cdb(0x2a, 0, 0, 0, 0, 3, 0, 0, 1, 0), new byte[BS], BS));
                    }
                    try {
                        return m.invoke(ram, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        one.addLun(2, racing, LunOptions.defaults());
        h1.login(A, 2);
        byte[] p = populateList(0, 0, 8);
        assertGood(h1.run(A, 2, tokenCdb(0x10, 7, p.length), p, p.length));
        byte[] info = bytes(h1.run(A, 2, receive(0x07, 7), null, 4096));
        int sense = info[13] & 0xff;
        byte[] token = Arrays.copyOfRange(info, 32 + sense + 6, 32 + sense + 6 + 512);
        armed.set(true);
        // the token represents the blocks as they were; the copy read them after block 3 changed
        assertSense(writeUsing(h2, 8, writeUsingList(token, 0, 0, 100, 8)), 0x5, 0x23, 0x06);
        byte[] res = bytes(h2.run(A, 0, receive(0x07, 8), null, 4096));
        assertEquals(0x02, res[5] & 0x7f, "RECEIVE ROD TOKEN INFORMATION: operation failed");
    }

    @Test
    void aRollbackRevokesTheTokensBeforeTheContentsChange() throws Exception {
        byte[] old = random(8 * BS, 7);
        src.write(200, ByteBuffer.wrap(old), false);
        byte[] token = populate(1, 0, 200, 8);
        byte[] other = random(8 * BS, 8);
        one.replaceContents(0, () -> {
            src.write(200, ByteBuffer.wrap(other), false); // what the volume now holds (the swap)
            // a WRITE USING TOKEN running now would read the new contents: the token is dead already
            assertSense(writeUsing(h2, 2, writeUsingList(token, 0, 0, 100, 8)), 0x5, 0x23, 0x06);
            return null;
        });
        assertArrayEquals(new byte[8 * BS], read(dst, 100, 8), "nothing copied from the swapped contents");
        assertSense(h1.run(A, 0, cdb(0x00, 0, 0, 0, 0, 0), null, 0), 0x6, 0x28, 0x00);
        assertEquals(0, copies.tokens().liveTokens());
    }

    @Test
    void tokensExpireAfterTheirInactivityTimeoutAndCanBeDeleted() {
        byte[] token = populate(1, 5, 0, 8);
        clock.addAndGet(4_000_000_000L);
        assertGood(writeUsing(h2, 2, writeUsingList(token, 0, 0, 100, 8)));   // used: the clock restarts
        clock.addAndGet(4_000_000_000L);
        assertGood(writeUsing(h2, 3, writeUsingList(token, 0, 0, 100, 8)));
        clock.addAndGet(6_000_000_000L);
        assertSense(writeUsing(h2, 4, writeUsingList(token, 0, 0, 100, 8)), 0x5, 0x23, 0x07);

        byte[] once = populate(5, 0, 0, 8);
        assertGood(writeUsing(h2, 6, writeUsingList(once, 0x01, 0, 100, 8)));  // DEL_TKN
        assertSense(writeUsing(h2, 7, writeUsingList(once, 0, 0, 100, 8)), 0x5, 0x23, 0x09);

        byte[] forged = once.clone();
        forged[70] ^= 1;
        assertSense(writeUsing(h2, 8, writeUsingList(forged, 0, 0, 100, 8)), 0x5, 0x23, 0x04);
    }

    @Test
    void theBlockDeviceZeroTokenZeroesTheRanges() throws Exception {
        dst.write(0, ByteBuffer.wrap(random(32 * BS, 5)), false);
        byte[] zero = new byte[512];
        Cdb.put32(zero, 0, RodTokens.ROD_BLOCK_ZERO);
        Cdb.put16(zero, 6, 0x1f8);
        assertGood(writeUsing(h2, 1, writeUsingList(zero, 0, 0, 4, 8, 20, 4)));
        byte[] after = read(dst, 0, 32);
        for (int b = 0; b < 32; b++) {
            boolean zeroed = (b >= 4 && b < 12) || (b >= 20 && b < 24);
            byte[] blk = Arrays.copyOfRange(after, b * BS, (b + 1) * BS);
            assertEquals(zeroed, Arrays.equals(blk, new byte[BS]), "block " + b);
        }
    }

    @Test
    void populateAndWriteUsingTokenCheckTheirParameterLists() {
        byte[] p = populateList(0, BLOCKS - 4, 8);
        assertSense(h1.run(A, 0, tokenCdb(0x10, 1, p.length), p, p.length), 0x5, 0x21, 0x00);
        byte[] tooLong = populateList(RodTokens.MAX_INACTIVITY_SECONDS + 1, 0, 8);
        assertSense(h1.run(A, 0, tokenCdb(0x10, 1, tooLong.length), tooLong, tooLong.length), 0x5, 0x26, 0x00);
        byte[] shortList = Arrays.copyOf(populateList(0, 0, 8), 20);
        assertSense(h1.run(A, 0, tokenCdb(0x10, 1, shortList.length), shortList, shortList.length), 0x5, 0x1a, 0x00);
        byte[] token = populate(2, 0, 0, 8);
        byte[] overlapping = writeUsingList(token, 0, 0, 100, 8, 104, 8);
        assertSense(writeUsing(h2, 3, overlapping), 0x5, 0x26, 0x00);
        byte[] unknownType = token.clone();
        Cdb.put32(unknownType, 0, 0x00800002);
        assertSense(writeUsing(h2, 3, writeUsingList(unknownType, 0, 0, 100, 8)), 0x5, 0x23, 0x01);
        assertSense(h1.run(A, 1, tokenCdb(0x11, 3, 552), writeUsingList(token, 0, 0, 100, 8), 552), 0x7, 0x27, 0x00);
        // no such list identifier
        assertSense(h2.run(A, 0, receive(0x07, 77), null, 4096), 0x5, 0x24, 0x00);
    }
}
