package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u32;
import static io.orion.dedup.scsi.Cdb.u8;

import java.io.ByteArrayOutputStream;

/**
 * Third-party copy (SPC-4 §5.17, SBC-3 §4.20): the limits this copy manager reports, RECEIVE COPY
 * RESULTS (copy status, operating parameters, failed segment details; SPC-4 §6.18) and RECEIVE ROD
 * TOKEN INFORMATION (SPC-4 §6.20) from what {@link ExtendedCopy} and {@link TokenCopy} left in
 * {@link CopyResults}, and the Third-party Copy VPD page (8Fh) describing it all.
 *
 * <p>Every operation runs to its end before its status is returned (IMMED is honoured by finishing
 * first, which SPC-4 allows), so RECEIVE COPY RESULTS and RECEIVE ROD TOKEN INFORMATION report it
 * as completed, once per list identifier.
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
    /**
     * The most one token represents, and one WRITE USING TOKEN writes (a reference copy of 256 MiB
     * takes about 1.5 s here: well inside the command timeouts of Windows and ESXi).
     */
    static final long MAX_TOKEN_TRANSFER_BYTES = 256L << 20;

    static final int CSCD_IDENTIFICATION = 0xe4;
    static final int SEGMENT_BLOCK_TO_BLOCK = 0x02;

    private ThirdPartyCopy() {
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
        Cdb.put32(features, 16, 0xffffffffL);                         // maximum token lifetime: none while used
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
