package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u32;
import static io.orion.dedup.scsi.Cdb.u64;
import static io.orion.dedup.scsi.Cdb.u8;

import io.orion.dedup.blockdev.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The token-based copy Windows calls ODX (SBC-3 §5.8, §5.46): POPULATE TOKEN makes a ROD token
 * ({@link RodTokens}) representing block ranges of the LU it is sent to; WRITE USING TOKEN writes
 * what a token represents, from an offset into it, to block ranges of the LU it is sent to — a
 * reference copy between dedup volumes of one pool — or zeros for the block device zero ROD token.
 * Results are left for RECEIVE ROD TOKEN INFORMATION ({@link ThirdPartyCopy}).
 */
final class TokenCopy {

    private TokenCopy() {
    }

    // ---- POPULATE TOKEN (SBC-3 §5.8) --------------------------------------------------------------

    static CommandSpec.Executor populate(Request r) {
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
        if (total * r.blockSize() > ThirdPartyCopy.MAX_TOKEN_TRANSFER_BYTES) {
            throw SenseException.param(16);
        }
        Nexus nexus = r.nexus();
        LogicalUnit lu = r.lu;
        RodTokens tokens = r.target.copies().tokens();
        int seconds = timeout == 0 ? RodTokens.DEFAULT_INACTIVITY_SECONDS : (int) timeout;
        long blocks = total;
        return () -> {
            CopyResults.Entry e = lu.copyResults.start(nexus, listId, ThirdPartyCopy.SA_POPULATE_TOKEN, true);
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
        if (count > ThirdPartyCopy.MAX_RANGE_DESCRIPTORS) {
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

    static CommandSpec.Executor writeUsing(Request r) {
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
        if (wanted * r.blockSize() > ThirdPartyCopy.MAX_TOKEN_TRANSFER_BYTES) {
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
            // the token is a capability only for a nexus that may read its source LU itself (as
            // EXTENDED COPY checks its CSCDs), checked at every use so a narrowed ACL takes effect
            CopyManager.Served from = copies.find(Inquiry.naa(source.source));
            if (from == null || from.lu() != source.source) {
                throw SenseReason.INVALID_TOKEN_OPERATION_TOKEN_REVOKED.ex();
            }
            if (!copies.allows(nexus, from, false)) {
                throw SenseReason.INVALID_TOKEN_OPERATION_TOKEN_UNKNOWN.ex();
            }
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
            CopyResults.Entry e = lu.copyResults.start(nexus, listId, ThirdPartyCopy.SA_WRITE_USING_TOKEN, true);
            try {
                if (source != null) {
                    ExtendedCopy.checkReservations(source.source, lu, nexus, false);
                }
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
            } catch (ExtendedCopy.Conflict ex) {
                e.status = CopyResults.FAILED;
                return Responses.conflict(n);
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
        // counted first and checked after (as EXTENDED COPY does): removing the source's LUN waits
        // for this copy (ScsiTargetService#awaitIdle), or this copy sees the removal
        src.copyUsers.incrementAndGet();
        try {
            if (!copies.serves(src)) {
                throw SenseReason.INVALID_TOKEN_OPERATION_TOKEN_REVOKED.ex();
            }
            return copyRanges(copies, token, offset, dst, ranges);
        } finally {
            src.copyUsers.decrementAndGet();
        }
    }

    private static long copyRanges(CopyManager copies, RodTokens.Token token, long offset, LogicalUnit dst,
                                   RodTokens.Range[] ranges) throws IOException {
        LogicalUnit src = token.source;
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
                    if (!ExtendedCopy.within(src, srcAt, n)) {
                        throw SenseReason.INVALID_TOKEN_OPERATION_TOKEN_REVOKED.ex();
                    }
                    if (token.dead != null) {
                        throw token.dead.ex();
                    }
                    copies.changing(dst, dstAt, n);
                    dst.device.copyFrom(src.device, srcAt, dstAt, n);
                    if (token.dead != null) {
                        // a write to the source (it revokes at parse, before its data lands) may
                        // have changed what was just read: the destination may hold such blocks
                        throw token.dead.ex();
                    }
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
}
