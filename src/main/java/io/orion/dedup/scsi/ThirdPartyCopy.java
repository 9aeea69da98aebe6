package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u32;
import static io.orion.dedup.scsi.Cdb.u64;
import static io.orion.dedup.scsi.Cdb.u8;

import io.orion.dedup.storage.BlockDevice;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Third-party copy: EXTENDED COPY(LID1) with block-to-block segments between identification
 * (0xE4) copy targets (SPC-4 §6.4), RECEIVE COPY RESULTS (copy status, operating parameters,
 * failed segment details; SPC-4 §6.18), and the token-based copy Windows calls ODX: POPULATE TOKEN,
 * WRITE USING TOKEN (SBC-3 §5.8, §5.46) and RECEIVE ROD TOKEN INFORMATION (SPC-4 §6.20), with the
 * block device zero ROD token. The Third-party Copy VPD page (8Fh) describing all this is built here
 * too.
 *
 * <p>The copy itself is {@link BlockDevice#copyFrom}: between dedup volumes of one pool it maps the
 * source's chunks (no data is read or written), otherwise it moves bytes. Copy targets are found
 * through the server-wide {@link CopyManager}, so a copy may go between LUNs of different targets.
 *
 * <p>Every operation runs to its end before its status is returned (IMMED is honoured by finishing
 * first, which SPC-4 allows); RECEIVE COPY RESULTS and RECEIVE ROD TOKEN INFORMATION then report
 * it as completed.
 */
final class ThirdPartyCopy {

    /** Service actions of EXTENDED COPY (83h) and RECEIVE COPY RESULTS (84h). */
    static final int SA_EXTENDED_COPY_LID1 = 0x00;
    static final int SA_POPULATE_TOKEN = 0x10;
    static final int SA_WRITE_USING_TOKEN = 0x11;
    static final int SA_COPY_STATUS = 0x00;
    static final int SA_OPERATING_PARAMETERS = 0x03;
    static final int SA_FAILED_SEGMENT_DETAILS = 0x04;
    static final int SA_RECEIVE_ROD_TOKEN_INFORMATION = 0x07;

    /** Limits reported by RECEIVE COPY RESULTS / OPERATING PARAMETERS and VPD page 8Fh. */
    static final int MAX_TARGET_DESCRIPTORS = 64;
    static final int MAX_SEGMENT_DESCRIPTORS = 64;
    static final int MAX_DESCRIPTOR_LIST_LENGTH = 8192;
    static final int MAX_CONCURRENT_COPIES = 255;
    /** Block device range descriptors per POPULATE TOKEN / WRITE USING TOKEN. */
    static final int MAX_RANGE_DESCRIPTORS = 64;
    /** The most one token represents, and one WRITE USING TOKEN writes (a reference copy of 256 MiB
     * takes about 1.5 s here: well inside the command timeouts of Windows and ESXi). */
    static final long MAX_TOKEN_TRANSFER_BYTES = 256L << 20;

    static final int CSCD_IDENTIFICATION = 0xe4;
    static final int SEGMENT_BLOCK_TO_BLOCK = 0x02;
    private static final int CSCD_LENGTH = 32;
    private static final int THIS_LU = 0xffff;

    private ThirdPartyCopy() {
    }

    // ---- EXTENDED COPY(LID1) (SPC-4 §6.4) ---------------------------------------------------------

    /** A parsed identification CSCD descriptor: the designator it names and its block size (0: any). */
    private record Cscd(int peripheralType, int designatorType, int association, byte[] designator, int blockSize) {
    }

    /** A parsed block-to-block segment descriptor (SPC-4 §6.4.6.5). */
    private record Segment(int src, int dst, boolean dc, int blocks, long srcLba, long dstLba) {
    }

    static CommandSpec.Executor extendedCopy(Request r) {
        long listLength = u32(r.cdb, 10);
        if (listLength == 0) {
            return Responses::good;
        }
        int n = (int) Math.min(listLength, r.dataOutLength());
        if (n < 16) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        byte[] p = r.parameters(n);
        int listId = u8(p, 0);
        int usage = (u8(p, 1) >> 3) & 3;
        int targetsLength = u16(p, 2);
        long segmentsLength = u32(p, 8);
        long inlineLength = u32(p, 12);
        if (targetsLength + segmentsLength > MAX_DESCRIPTOR_LIST_LENGTH) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        if (inlineLength > 0) {
            throw SenseReason.INLINE_DATA_LENGTH_EXCEEDED.ex();
        }
        if (16 + targetsLength + segmentsLength > n) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        List<Cscd> targets = new ArrayList<>();
        int end = 16 + targetsLength;
        for (int at = 16; at < end; at += CSCD_LENGTH) {
            if (targets.size() == MAX_TARGET_DESCRIPTORS) {
                throw SenseReason.TOO_MANY_TARGET_DESCRIPTORS.ex();
            }
            if (u8(p, at) != CSCD_IDENTIFICATION) {
                throw SenseReason.UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE.ex();
            }
            if (at + CSCD_LENGTH > end) {
                throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
            }
            int len = Math.min(u8(p, at + 7), 20);
            byte[] designator = new byte[len];
            System.arraycopy(p, at + 8, designator, 0, len);
            targets.add(new Cscd(u8(p, at + 1) & 0x1f, u8(p, at + 5) & 0x0f, (u8(p, at + 5) >> 4) & 3, designator,
                    Cdb.u24(p, at + 29)));
        }
        List<Segment> segments = new ArrayList<>();
        end += (int) segmentsLength;
        for (int at = 16 + targetsLength; at < end; ) {
            if (segments.size() == MAX_SEGMENT_DESCRIPTORS) {
                throw SenseReason.TOO_MANY_SEGMENT_DESCRIPTORS.ex();
            }
            if (at + 4 > end) {
                throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
            }
            if (u8(p, at) != SEGMENT_BLOCK_TO_BLOCK) {
                throw SenseReason.UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE.ex();
            }
            int len = u16(p, at + 2);
            if (len != 0x18) {
                throw SenseException.param(at + 2);
            }
            if (at + 4 + len > end) {
                throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
            }
            segments.add(new Segment(u16(p, at + 4), u16(p, at + 6), (u8(p, at + 1) & 0x02) != 0, u16(p, at + 10),
                    u64(p, at + 12), u64(p, at + 20)));
            at += 4 + len;
        }
        Nexus nexus = r.nexus();
        LogicalUnit self = r.lu;
        CopyManager copies = r.target.copies();
        boolean hold = usage != 3;
        return () -> {
            CopyResults.Entry e = self.copyResults.start(nexus, listId, SA_EXTENDED_COPY_LID1, hold);
            try {
                for (Segment s : segments) {
                    LogicalUnit src = resolve(copies, nexus, self, targets, s.src, false);
                    LogicalUnit dst = resolve(copies, nexus, self, targets, s.dst, true);
                    int bs = dst.device.blockSize();
                    if (src.device.blockSize() != bs) {
                        throw SenseReason.INCORRECT_COPY_TARGET_DEVICE_TYPE.ex();
                    }
                    long blocks = s.blocks;
                    if (!within(src, s.srcLba, blocks) || !within(dst, s.dstLba, blocks)) {
                        throw SenseReason.COPY_ABORTED.ex();
                    }
                    if (dst.writeProtected()) {
                        throw SenseReason.WRITE_PROTECTED.ex();
                    }
                    if (blocks > 0) {
                        copies.changing(dst, s.dstLba, blocks);
                        dst.device.copyFrom(src.device, s.srcLba, s.dstLba, blocks);
                    }
                    e.segments++;
                    e.blocks += blocks;
                    e.bytes += blocks * bs;
                }
                e.status = CopyResults.COMPLETED;
            } catch (SenseException ex) {
                e.sense = SenseData.build(ex, false);
                e.status = CopyResults.FAILED;
                throw ex;
            } catch (IOException | RuntimeException ex) {
                e.sense = SenseData.build(SenseReason.COPY_ABORTED, false);
                e.status = CopyResults.FAILED;
                throw ex;
            }
            return Responses.goodOut(n);
        };
    }

    /**
     * The logical unit a segment's CSCD index names: COPY ABORTED when it names none, or one the
     * initiator's ACL does not map; DATA PROTECT when its ACL maps it write-protected and it is the
     * destination.
     */
    private static LogicalUnit resolve(CopyManager copies, Nexus nexus, LogicalUnit self, List<Cscd> targets,
                                       int index, boolean write) {
        if (index == THIS_LU) {
            return self;
        }
        if (index >= targets.size()) {
            throw SenseReason.COPY_TARGET_DEVICE_NOT_REACHABLE.ex();
        }
        Cscd c = targets.get(index);
        if (c.peripheralType != 0) {
            throw SenseReason.INCORRECT_COPY_TARGET_DEVICE_TYPE.ex();
        }
        CopyManager.Served served = c.designatorType == 3 && c.association == 0 ? copies.find(c.designator) : null;
        if (served == null || !copies.allows(nexus, served, false)) {
            throw SenseReason.COPY_TARGET_DEVICE_NOT_REACHABLE.ex();
        }
        if (write && !copies.allows(nexus, served, true)) {
            throw SenseReason.WRITE_PROTECTED.ex();
        }
        LogicalUnit lu = served.lu();
        if (c.blockSize != 0 && c.blockSize != lu.device.blockSize()) {
            throw SenseReason.INCORRECT_COPY_TARGET_DEVICE_TYPE.ex();
        }
        return lu;
    }

    private static boolean within(LogicalUnit lu, long lba, long blocks) {
        long cap = lu.device.blockCount();
        return Long.compareUnsigned(lba, cap) <= 0 && blocks <= cap - lba;
    }

    // ---- POPULATE TOKEN (SBC-3 §5.8) --------------------------------------------------------------

    static CommandSpec.Executor populateToken(Request r) {
        long listId = u32(r.cdb, 6);
        int n = (int) Math.min(u32(r.cdb, 10), r.dataOutLength());
        if (n < 16) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        byte[] p = r.parameters(n);
        boolean rtv = (u8(p, 2) & 0x01) != 0;
        long timeout = u32(p, 4);
        long rodType = u32(p, 8);
        RodTokens.Range[] ranges = ranges(r, p, 14, 16, n);
        if (timeout > RodTokens.MAX_INACTIVITY_SECONDS) {
            throw SenseException.param(4);
        }
        int type;
        if (!rtv || rodType == RodTokens.ROD_PIT_DEFAULT || rodType == RodTokens.ROD_PIT_CHANGE_VULNERABLE) {
            type = RodTokens.ROD_PIT_CHANGE_VULNERABLE;
        } else if (rodType == RodTokens.ROD_ACCESS_UPON_REFERENCE) {
            type = RodTokens.ROD_ACCESS_UPON_REFERENCE;
        } else {
            throw SenseException.param(8);
        }
        long total = 0;
        for (RodTokens.Range range : ranges) {
            total += range.blocks();
        }
        if (total * r.blockSize() > MAX_TOKEN_TRANSFER_BYTES) {
            throw SenseException.param(16);
        }
        Nexus nexus = r.nexus();
        LogicalUnit lu = r.lu;
        RodTokens tokens = r.target.copies().tokens();
        int seconds = timeout == 0 ? RodTokens.DEFAULT_INACTIVITY_SECONDS : (int) timeout;
        long blocks = total;
        return () -> {
            CopyResults.Entry e = lu.copyResults.start(nexus, listId, SA_POPULATE_TOKEN, true);
            try {
                RodTokens.Token t = tokens.create(lu, ranges, type, seconds);
                e.token = t.bytes.clone();
                e.blocks = blocks;
                e.segments = ranges.length;
                e.status = CopyResults.COMPLETED;
            } catch (SenseException ex) {
                e.sense = SenseData.build(ex, false);
                e.status = CopyResults.FAILED;
                throw ex;
            }
            return Responses.goodOut(n);
        };
    }

    /**
     * The block device range descriptors (SBC-3 §5.8.3) of a parameter list: their length field at
     * {@code lengthAt}, the first at {@code firstAt}; each must lie within the LU.
     */
    private static RodTokens.Range[] ranges(Request r, byte[] p, int lengthAt, int firstAt, int n) {
        int length = u16(p, lengthAt);
        if (length == 0 || length % 16 != 0) {
            throw SenseException.param(lengthAt);
        }
        if (firstAt + length > n) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        int count = length / 16;
        if (count > MAX_RANGE_DESCRIPTORS) {
            throw SenseReason.TOO_MANY_SEGMENT_DESCRIPTORS.ex();
        }
        RodTokens.Range[] out = new RodTokens.Range[count];
        for (int i = 0; i < count; i++) {
            int at = firstAt + 16 * i;
            long lba = u64(p, at);
            long blocks = u32(p, at + 8);
            r.checkRange(lba, blocks);
            out[i] = new RodTokens.Range(lba, blocks);
        }
        return out;
    }

    // ---- WRITE USING TOKEN (SBC-3 §5.46) ----------------------------------------------------------

    private static final int WUT_FIXED = 536;

    static CommandSpec.Executor writeUsingToken(Request r) {
        r.checkWritable();
        long listId = u32(r.cdb, 6);
        int n = (int) Math.min(u32(r.cdb, 10), r.dataOutLength());
        if (n < WUT_FIXED) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        byte[] p = r.parameters(n);
        boolean deleteToken = (u8(p, 2) & 0x01) != 0;
        long offset = u64(p, 8);
        byte[] token = new byte[RodTokens.TOKEN_BYTES];
        System.arraycopy(p, 16, token, 0, token.length);
        RodTokens.Range[] ranges = ranges(r, p, 534, WUT_FIXED, n);
        checkDisjoint(ranges);
        long wanted = 0;
        for (RodTokens.Range range : ranges) {
            wanted += range.blocks();
        }
        if (wanted * r.blockSize() > MAX_TOKEN_TRANSFER_BYTES) {
            throw SenseException.param(WUT_FIXED);
        }
        int rodType = (int) u32(token, 0);
        if (u16(token, 6) != RodTokens.TOKEN_BYTES - 8) {
            throw SenseReason.INVALID_TOKEN_OPERATION_INVALID_TOKEN_LENGTH.ex();
        }
        Nexus nexus = r.nexus();
        LogicalUnit lu = r.lu;
        CopyManager copies = r.target.copies();
        RodTokens.Token source;
        if (rodType == RodTokens.ROD_BLOCK_ZERO) {
            source = null;
        } else if (rodType == RodTokens.ROD_PIT_CHANGE_VULNERABLE || rodType == RodTokens.ROD_ACCESS_UPON_REFERENCE) {
            source = copies.tokens().use(token);
            if (source.source.device.blockSize() != r.blockSize()) {
                throw SenseReason.INCORRECT_COPY_TARGET_DEVICE_TYPE.ex();
            }
            if (offset >= source.blocks) {
                throw SenseException.param(8);
            }
        } else {
            throw SenseReason.INVALID_TOKEN_OPERATION_UNSUPPORTED_TOKEN_TYPE.ex();
        }
        long total = wanted;
        return () -> {
            CopyResults.Entry e = lu.copyResults.start(nexus, listId, SA_WRITE_USING_TOKEN, true);
            try {
                long written = source == null ? zero(copies, lu, ranges) : copy(copies, source, offset, lu, ranges);
                if (source != null && deleteToken) {
                    copies.tokens().delete(source);
                }
                e.blocks = written;
                e.segments = ranges.length;
                e.status = written < total ? CopyResults.RESIDUAL : CopyResults.COMPLETED;
            } catch (SenseException ex) {
                e.sense = SenseData.build(ex, false);
                e.status = CopyResults.FAILED;
                throw ex;
            } catch (IOException | RuntimeException ex) {
                e.sense = SenseData.build(SenseReason.COPY_ABORTED, false);
                e.status = CopyResults.FAILED;
                throw ex;
            }
            return Responses.goodOut(n);
        };
    }

    private static void checkDisjoint(RodTokens.Range[] ranges) {
        for (int i = 0; i < ranges.length; i++) {
            for (int j = i + 1; j < ranges.length; j++) {
                RodTokens.Range a = ranges[i];
                RodTokens.Range b = ranges[j];
                if (a.lba() < b.lba() + b.blocks() && b.lba() < a.lba() + a.blocks()) {
                    throw SenseException.param(WUT_FIXED + 16 * j);
                }
            }
        }
    }

    /** The block device zero ROD token: the ranges read as zeros afterwards. */
    private static long zero(CopyManager copies, LogicalUnit lu, RodTokens.Range[] ranges) throws IOException {
        BlockDevice dev = lu.device;
        long done = 0;
        for (RodTokens.Range range : ranges) {
            if (range.blocks() == 0) {
                continue;
            }
            copies.changing(lu, range.lba(), range.blocks());
            if (dev.thin()) {
                dev.unmap(range.lba(), range.blocks());
            } else {
                dev.writeSame(range.lba(), range.blocks(), ByteBuffer.allocate(dev.blockSize()), false);
            }
            done += range.blocks();
        }
        return done;
    }

    /**
     * Copies what the token represents, from {@code offset} blocks into it, to the destination
     * ranges in order, until either runs out; returns the blocks written.
     */
    private static long copy(CopyManager copies, RodTokens.Token token, long offset, LogicalUnit dst,
                             RodTokens.Range[] ranges) throws IOException {
        LogicalUnit src = token.source;
        if (!copies.serves(src)) {
            throw SenseReason.INVALID_TOKEN_OPERATION_TOKEN_REVOKED.ex();
        }
        int si = 0;
        long skip = offset;
        while (si < token.ranges.length && skip >= token.ranges[si].blocks()) {
            skip -= token.ranges[si].blocks();
            si++;
        }
        long srcAt = si < token.ranges.length ? token.ranges[si].lba() + skip : 0;
        long srcLeft = si < token.ranges.length ? token.ranges[si].blocks() - skip : 0;
        long written = 0;
        for (RodTokens.Range d : ranges) {
            long dstAt = d.lba();
            long dstLeft = d.blocks();
            while (dstLeft > 0 && si < token.ranges.length) {
                long n = Math.min(dstLeft, srcLeft);
                if (n > 0) {
                    if (!within(src, srcAt, n)) {
                        throw SenseReason.INVALID_TOKEN_OPERATION_TOKEN_REVOKED.ex();
                    }
                    if (token.dead != null) {
                        throw token.dead.ex();
                    }
                    copies.changing(dst, dstAt, n);
                    dst.device.copyFrom(src.device, srcAt, dstAt, n);
                    written += n;
                    srcAt += n;
                    srcLeft -= n;
                    dstAt += n;
                    dstLeft -= n;
                }
                if (srcLeft == 0 && ++si < token.ranges.length) {
                    srcAt = token.ranges[si].lba();
                    srcLeft = token.ranges[si].blocks();
                }
            }
        }
        return written;
    }

    // ---- RECEIVE COPY RESULTS (SPC-4 §6.18) and RECEIVE ROD TOKEN INFORMATION (§6.20) ---------------

    static CommandSpec.Executor receiveCopyResults(Request r) {
        int sa = u8(r.cdb, 1) & 0x1f;
        long alloc = u32(r.cdb, 10);
        Nexus nexus = r.nexus();
        LogicalUnit lu = r.lu;
        byte[] d = switch (sa) {
            case SA_COPY_STATUS -> copyStatus(found(lu.copyResults.take(nexus, u8(r.cdb, 2), false)));
            case SA_OPERATING_PARAMETERS -> operatingParameters();
            case SA_FAILED_SEGMENT_DETAILS -> failedSegmentDetails(found(lu.copyResults.take(nexus, u8(r.cdb, 2),
                    true)));
            case SA_RECEIVE_ROD_TOKEN_INFORMATION -> rodTokenInformation(found(lu.copyResults.take(nexus,
                    u32(r.cdb, 2), false)));
            default -> throw SenseException.cdb(1, 4);
        };
        return () -> Responses.data(d, alloc);
    }

    private static CopyResults.Entry found(CopyResults.Entry e) {
        if (e == null) {
            throw SenseException.cdb(2, -1); // no operation with that list identifier
        }
        return e;
    }

    /** COPY STATUS (SPC-4 §6.18.2). */
    static byte[] copyStatus(CopyResults.Entry e) {
        byte[] d = new byte[12];
        Cdb.put32(d, 0, 8);
        d[4] = (byte) (e.status == CopyResults.IN_PROGRESS ? 0x00 : e.status == CopyResults.FAILED ? 0x02 : 0x01);
        Cdb.put16(d, 5, Math.min(e.segments, 0xffff));
        long bytes = e.bytes;
        if (bytes <= 0xffffffffL) {
            d[7] = 0x00;        // bytes
            Cdb.put32(d, 8, bytes);
        } else {
            d[7] = 0x02;        // mebibytes
            Cdb.put32(d, 8, bytes >>> 20);
        }
        return d;
    }

    /** OPERATING PARAMETERS (SPC-4 §6.18.4). */
    static byte[] operatingParameters() {
        int[] implemented = {SEGMENT_BLOCK_TO_BLOCK, CSCD_IDENTIFICATION};
        byte[] d = new byte[44 + implemented.length];
        Cdb.put32(d, 0, d.length - 4);
        d[4] = 0x01;                                    // SNLID: LIST ID USAGE 11b (no list identifier) is supported
        Cdb.put16(d, 8, MAX_TARGET_DESCRIPTORS);
        Cdb.put16(d, 10, MAX_SEGMENT_DESCRIPTORS);
        Cdb.put32(d, 12, MAX_DESCRIPTOR_LIST_LENGTH);
        Cdb.put32(d, 16, 0);                            // MAXIMUM SEGMENT LENGTH: no limit beyond the field
        Cdb.put32(d, 20, 0);                            // no inline data
        Cdb.put32(d, 24, 0);                            // no held data
        Cdb.put16(d, 34, MAX_CONCURRENT_COPIES);
        d[36] = (byte) MAX_CONCURRENT_COPIES;
        d[43] = (byte) implemented.length;
        for (int i = 0; i < implemented.length; i++) {
            d[44 + i] = (byte) implemented[i];
        }
        return d;
    }

    /** FAILED SEGMENT DETAILS (SPC-4 §6.18.3). */
    static byte[] failedSegmentDetails(CopyResults.Entry e) {
        byte[] sense = e.status == CopyResults.FAILED && e.sense != null ? e.sense : new byte[0];
        byte[] d = new byte[60 + sense.length];
        Cdb.put32(d, 0, sense.length == 0 ? 0 : d.length - 4);
        d[56] = (byte) (sense.length == 0 ? 0x00 : 0x02); // COPY COMMAND STATUS: CHECK CONDITION
        Cdb.put16(d, 58, sense.length);
        System.arraycopy(sense, 0, d, 60, sense.length);
        return d;
    }

    /** RECEIVE ROD TOKEN INFORMATION (SPC-4 §6.20, SBC-3 §5.8.4, §5.46.4). */
    static byte[] rodTokenInformation(CopyResults.Entry e) {
        byte[] sense = e.sense == null ? new byte[0] : e.sense;
        byte[] token = e.token;
        int tokenPart = token == null ? 0 : 2 + token.length;
        byte[] d = new byte[32 + sense.length + 4 + tokenPart];
        Cdb.put32(d, 0, d.length - 4);
        d[4] = (byte) e.serviceAction;
        d[5] = (byte) e.status;
        Cdb.put16(d, 6, 0);                             // OPERATION COUNTER
        Cdb.put32(d, 8, 0);                             // ESTIMATED STATUS UPDATE DELAY: done
        d[12] = (byte) (sense.length == 0 ? 0x00 : 0x02); // the completion's SCSI status
        d[13] = (byte) sense.length;
        d[14] = (byte) sense.length;
        d[15] = (byte) 0xf1;                            // TRANSFER COUNT UNITS: logical blocks
        Cdb.put64(d, 16, e.blocks);
        Cdb.put16(d, 24, Math.min(e.segments, 0xffff));
        System.arraycopy(sense, 0, d, 32, sense.length);
        int at = 32 + sense.length;
        Cdb.put32(d, at, tokenPart);
        if (token != null) {
            System.arraycopy(token, 0, d, at + 6, token.length);
        }
        return d;
    }

    // ---- Third-party Copy VPD page (SPC-4 §7.8.17) --------------------------------------------------

    /** The descriptors of VPD page 8Fh: what ESXi (3PC + this page) and Windows (ODX) check. */
    static byte[] vpdDescriptors(LogicalUnit lu) {
        int bs = lu.device.blockSize();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // Block Device ROD Limits (SBC-3 §6.6.3)
        byte[] limits = new byte[32];
        Cdb.put16(limits, 6, MAX_RANGE_DESCRIPTORS);
        Cdb.put32(limits, 8, RodTokens.MAX_INACTIVITY_SECONDS);
        Cdb.put32(limits, 12, RodTokens.DEFAULT_INACTIVITY_SECONDS);
        Cdb.put64(limits, 16, MAX_TOKEN_TRANSFER_BYTES / bs);
        Cdb.put64(limits, 24, MAX_TOKEN_TRANSFER_BYTES / bs);
        descriptor(out, 0x0000, limits);
        // Supported Commands
        ByteArrayOutputStream cmds = new ByteArrayOutputStream();
        cmds.write(0x83);
        cmds.write(3);
        cmds.write(SA_EXTENDED_COPY_LID1);
        cmds.write(SA_POPULATE_TOKEN);
        cmds.write(SA_WRITE_USING_TOKEN);
        cmds.write(0x84);
        cmds.write(4);
        cmds.write(SA_COPY_STATUS);
        cmds.write(SA_OPERATING_PARAMETERS);
        cmds.write(SA_FAILED_SEGMENT_DETAILS);
        cmds.write(SA_RECEIVE_ROD_TOKEN_INFORMATION);
        byte[] list = cmds.toByteArray();
        byte[] supported = new byte[pad4(1 + list.length)];
        supported[0] = (byte) list.length;
        System.arraycopy(list, 0, supported, 1, list.length);
        descriptor(out, 0x0001, supported);
        // Parameter Data
        byte[] params = new byte[28];
        Cdb.put16(params, 4, MAX_TARGET_DESCRIPTORS);
        Cdb.put16(params, 6, MAX_SEGMENT_DESCRIPTORS);
        Cdb.put32(params, 8, MAX_DESCRIPTOR_LIST_LENGTH);
        descriptor(out, 0x0004, params);
        // Supported Descriptors
        descriptor(out, 0x0008, new byte[] {2, SEGMENT_BLOCK_TO_BLOCK, (byte) CSCD_IDENTIFICATION, 0});
        // Supported CSCD Descriptor IDs: FFFFh, the LU the command was sent to
        descriptor(out, 0x000c, new byte[] {0, 2, (byte) 0xff, (byte) 0xff});
        // ROD Token Features, with the block ROD device type specific features descriptor
        byte[] features = new byte[44 + 48];
        Cdb.put32(features, 12, 1);                                  // minimum token lifetime
        Cdb.put32(features, 16, 2 * RodTokens.MAX_INACTIVITY_SECONDS); // maximum token lifetime
        Cdb.put32(features, 20, RodTokens.MAX_INACTIVITY_SECONDS);    // maximum inactivity timeout
        Cdb.put16(features, 42, 48);
        int b = 44;
        features[b] = 0x00;                                          // peripheral device type: block
        Cdb.put16(features, b + 2, 44);
        Cdb.put16(features, b + 6, Math.max(1, 4096 / bs));          // optimal block ROD length granularity
        Cdb.put64(features, b + 8, MAX_TOKEN_TRANSFER_BYTES);        // maximum bytes in block ROD
        Cdb.put64(features, b + 16, MAX_TOKEN_TRANSFER_BYTES);       // optimal bytes in block ROD transfer
        Cdb.put64(features, b + 24, MAX_TOKEN_TRANSFER_BYTES);       // optimal bytes to token per segment
        Cdb.put64(features, b + 32, MAX_TOKEN_TRANSFER_BYTES);       // optimal bytes from token per segment
        descriptor(out, 0x0106, features);
        // Supported ROD Token and ROD Types
        int[][] types = {{RodTokens.ROD_PIT_CHANGE_VULNERABLE, 0x03}, {RodTokens.ROD_ACCESS_UPON_REFERENCE, 0x03},
            {RodTokens.ROD_BLOCK_ZERO, 0x02}};
        byte[] rods = new byte[4 + 64 * types.length];
        Cdb.put16(rods, 2, 64 * types.length);
        for (int i = 0; i < types.length; i++) {
            Cdb.put32(rods, 4 + 64 * i, types[i][0]);
            rods[4 + 64 * i + 4] = (byte) types[i][1];              // TOKEN_IN, TOKEN_OUT
        }
        descriptor(out, 0x0108, rods);
        // General Copy Operations
        byte[] general = new byte[32];
        Cdb.put32(general, 0, MAX_CONCURRENT_COPIES);
        Cdb.put32(general, 4, MAX_CONCURRENT_COPIES);
        Cdb.put32(general, 8, 0);
        descriptor(out, 0x8001, general);
        return out.toByteArray();
    }

    private static int pad4(int n) {
        return (n + 3) & ~3;
    }

    private static void descriptor(ByteArrayOutputStream out, int type, byte[] body) {
        out.write(type >>> 8);
        out.write(type);
        out.write(body.length >>> 8);
        out.write(body.length);
        out.write(body, 0, body.length);
    }
}
