package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u32;
import static io.orion.dedup.scsi.Cdb.u64;
import static io.orion.dedup.scsi.Cdb.u8;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * EXTENDED COPY(LID1) (SPC-4 §6.4): identification (0xE4) copy target descriptors naming LUs by their
 * NAA designator, through the server-wide {@link CopyManager}, and block-to-block (02h) segments, each
 * copied with {@link io.orion.dedup.blockdev.BlockDevice#copyFrom} (a reference copy between dedup
 * volumes of one pool). The result is left for RECEIVE COPY RESULTS ({@link ThirdPartyCopy}).
 */
final class ExtendedCopy {

    private static final int CSCD_LENGTH = 32;
    private static final int THIS_LU = 0xffff;

    private ExtendedCopy() {
    }

    // ---- EXTENDED COPY(LID1) (SPC-4 §6.4) ---------------------------------------------------------

    /** A parsed identification CSCD descriptor: the designator it names and its block size (0: any). */
    private record Cscd(int peripheralType, int designatorType, int association, byte[] designator, int blockSize) {
    }

    /**
     * A parsed block-to-block segment descriptor (SPC-4 §6.4.6.5). The DC bit is not kept: source
     * and destination must have the same block size, so both readings of the block count agree.
     */
    private record Segment(int src, int dst, int blocks, long srcLba, long dstLba) {
    }

    static CommandSpec.Executor parse(Request r) {
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
        if (targetsLength + segmentsLength > ThirdPartyCopy.MAX_DESCRIPTOR_LIST_LENGTH) {
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
            if (targets.size() == ThirdPartyCopy.MAX_TARGET_DESCRIPTORS) {
                throw SenseReason.TOO_MANY_TARGET_DESCRIPTORS.ex();
            }
            if (u8(p, at) != ThirdPartyCopy.CSCD_IDENTIFICATION) {
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
            if (segments.size() == ThirdPartyCopy.MAX_SEGMENT_DESCRIPTORS) {
                throw SenseReason.TOO_MANY_SEGMENT_DESCRIPTORS.ex();
            }
            if (at + 4 > end) {
                throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
            }
            if (u8(p, at) != ThirdPartyCopy.SEGMENT_BLOCK_TO_BLOCK) {
                throw SenseReason.UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE.ex();
            }
            int len = u16(p, at + 2);
            if (len != 0x18) {
                throw SenseException.param(at + 2);
            }
            if (at + 4 + len > end) {
                throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
            }
            segments.add(new Segment(u16(p, at + 4), u16(p, at + 6), u16(p, at + 10), u64(p, at + 12),
                    u64(p, at + 20)));
            at += 4 + len;
        }
        Nexus nexus = r.nexus();
        LogicalUnit self = r.lu;
        CopyManager copies = r.target.copies();
        boolean hold = usage != 3;
        return () -> {
            CopyResults.Entry e = self.copyResults.start(nexus, listId, ThirdPartyCopy.SA_EXTENDED_COPY_LID1, hold);
            try {
                for (Segment s : segments) {
                    LogicalUnit src = resolve(copies, nexus, self, targets, s.src, false);
                    LogicalUnit dst = resolve(copies, nexus, self, targets, s.dst, true);
                    use(copies, self, src);
                    try {
                        use(copies, self, dst);
                    } catch (RuntimeException ex) {
                        src.copyUsers.decrementAndGet();
                        throw ex;
                    }
                    try {
                        checkReservations(src, self, nexus, false);
                        checkReservations(dst, self, nexus, true);
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
                    } finally {
                        src.copyUsers.decrementAndGet();
                        dst.copyUsers.decrementAndGet();
                    }
                }
                e.status = CopyResults.COMPLETED;
            } catch (SenseException ex) {
                e.sense = SenseData.build(ex, false);
                e.status = CopyResults.FAILED;
                throw ex;
            } catch (Conflict ex) {
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

    /** A copy target other than the addressed LU is reserved by another I_T nexus: RESERVATION CONFLICT. */
    static final class Conflict extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Conflict() {
            super("reservation conflict on a copy target", null, false, false);
        }
    }

    /**
     * Throws {@link Conflict} when {@code lu} (not the LU the command was sent to, which the command
     * layer checked already) is held by a SCSI-2 reservation of another nexus, or its persistent
     * reservation keeps {@code nexus} from reading or writing it (SPC-4 Table 43). A nexus of another
     * target is never the holder: a reserved LU of another target is not a copy target.
     */
    static void checkReservations(LogicalUnit lu, LogicalUnit self, Nexus nexus, boolean write) {
        if (lu == self) {
            return;
        }
        Nexus holder = lu.reservedBy();
        if ((holder != null && !holder.equals(nexus)) || lu.pr.conflicts(nexus,
                write ? PersistentReservations.Access.WRITE : PersistentReservations.Access.READ)) {
            throw new Conflict();
        }
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

    /**
     * Counts the copy as using {@code lu} until the segment ends, so removing that LUN waits for it
     * ({@link ScsiTargetService#awaitIdle}); a LUN removed since it was resolved is unreachable.
     * Counted first and checked after, so a removal either sees the count or is seen here.
     */
    private static void use(CopyManager copies, LogicalUnit self, LogicalUnit lu) {
        lu.copyUsers.incrementAndGet();
        if (lu != self && !copies.serves(lu)) {
            lu.copyUsers.decrementAndGet();
            throw SenseReason.COPY_TARGET_DEVICE_NOT_REACHABLE.ex();
        }
    }

    static boolean within(LogicalUnit lu, long lba, long blocks) {
        long cap = lu.device.blockCount();
        return Long.compareUnsigned(lba, cap) <= 0 && blocks <= cap - lba;
    }
}
