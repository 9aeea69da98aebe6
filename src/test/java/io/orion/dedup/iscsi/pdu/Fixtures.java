package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.HexFormat;

/** Byte fixtures for codec tests: BHS images written as hex, as they appear on the wire. */
final class Fixtures {

    private Fixtures() {
    }

    /** Parses hex with any whitespace; must be exactly 48 bytes. */
    static byte[] bhs(String hex) {
        byte[] b = HexFormat.of().parseHex(hex.replaceAll("\\s", ""));
        if (b.length != 48) {
            throw new IllegalArgumentException("BHS fixture has " + b.length + " bytes");
        }
        return b;
    }

    static byte[] hex(String hex) {
        return HexFormat.of().parseHex(hex.replaceAll("\\s", ""));
    }

    /** BHS + data + padding, no digests. */
    static ByteBuf pdu(byte[] bhs, byte[] data) {
        ByteBuf b = Unpooled.buffer();
        b.writeBytes(bhs);
        if (data != null) {
            b.writeBytes(data);
            b.writeZero((4 - (data.length & 3)) & 3);
        }
        return b;
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int i = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, i, p.length);
            i += p.length;
        }
        return out;
    }

    // NOP-Out, immediate, DSL 5, LUN 0, ITT 0x11223344, TTT ffffffff, CmdSN 7, ExpStatSN 9
    static final String NOP_OUT =
            "40 80 00 00 00 000005 0000000000000000 11223344 ffffffff 00000007 00000009"
            + " 00000000 00000000 00000000 00000000";

    // SCSI Command: F R, ATTR simple(1); DSL 0; LUN 1; ITT 0x0a; EDTL 4096; CmdSN 0x20; ExpStatSN 0x30;
    // CDB READ(10) LBA 0x1234 length 8
    static final String SCSI_READ10 =
            "01 c1 00 00 00 000000 0001000000000000 0000000a 00001000 00000020 00000030"
            + " 28 00 00001234 00 0008 00 000000000000";

    // SCSI Command: F W, ATTR ordered(2); DSL 512 immediate data; LUN 0; ITT 0x0b; EDTL 1024; CmdSN 0x21
    // CDB WRITE(10) LBA 0 length 2
    static final String SCSI_WRITE10 =
            "01 a2 00 00 00 000200 0000000000000000 0000000b 00000400 00000021 00000030"
            + " 2a 00 00000000 00 0002 00 000000000000";

    // TMF ABORT TASK, immediate; LUN 0; ITT 0x0c; RTT 0x0a; CmdSN 0x22; ExpStatSN 0x31; RefCmdSN 0x20
    static final String TMF_ABORT =
            "42 81 00 00 00 000000 0000000000000000 0000000c 0000000a 00000022 00000031 00000020"
            + " 00000000 0000000000000000";

    // Login: T=1 CSG=1 NSG=3, version 0/0, DSL set by test; ISID 80 12 34 56 78 9a; TSIH 0; ITT 1; CID 2; CmdSN 5
    static final String LOGIN_HEAD = "43 87 00 00 00 ";
    static final String LOGIN_TAIL = " 80123456789a 0000 00000001 0002 0000 00000005 00000000"
            + " 00000000 00000000 00000000 00000000";

    // Text request F, immediate, TTT ffffffff, ITT 0x0d, CmdSN 0x23, DSL set by test
    static final String TEXT_HEAD = "44 80 00 00 00 ";
    static final String TEXT_TAIL = " 0000000000000000 0000000d ffffffff 00000023 00000031"
            + " 00000000 00000000 00000000 00000000";

    // Data-Out F, DSL 512, LUN 0, ITT 0x0b, TTT 0x99, ExpStatSN 0x31, DataSN 1, offset 512
    static final String DATA_OUT =
            "05 80 00 00 00 000200 0000000000000000 0000000b 00000099 00000000 00000031"
            + " 00000000 00000001 00000200 00000000";

    // Logout close session, immediate; ITT 0x0e; CID 0; CmdSN 0x24
    static final String LOGOUT =
            "46 80 00 00 00 000000 0000000000000000 0000000e 0000 0000 00000024 00000031"
            + " 00000000 00000000 00000000 00000000";

    // SNACK type 0 (data), ITT 0x0b, TTT ffffffff, BegRun 2, RunLength 1
    static final String SNACK =
            "10 80 00 00 00 000000 0000000000000000 0000000b ffffffff 00000000 00000031"
            + " 00000000 00000000 00000002 00000001";

    // Vendor-specific initiator opcode 0x1c with 3 data bytes
    static final String VENDOR_1C =
            "1c 80 00 00 00 000003 0000000000000000 0000000f ffffffff 00000000 00000000"
            + " 00000000 00000000 00000000 00000000";
}
