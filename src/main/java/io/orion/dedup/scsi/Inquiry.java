package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u8;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * INQUIRY (SPC-4 §6.6): standard data and the vital product data pages 00h, 80h, 83h (SPC-4
 * §7.8.6, with an NAA type 6 designator derived from the device's stable UUID), 86h, 8Fh (third-party
 * copy, built by {@link ThirdPartyCopy}), and the SBC
 * pages B0h (block limits), B1h (block device characteristics), B2h (logical block provisioning).
 */
final class Inquiry {

    static final byte[] SUPPORTED_PAGES = {0x00, (byte) 0x80, (byte) 0x83, (byte) 0x86, (byte) 0x8f,
        (byte) 0xb0, (byte) 0xb1, (byte) 0xb2};
    static final String REVISION = "0001";

    private Inquiry() {
    }

    static CommandSpec.Executor parse(Request r) {
        byte[] cdb = r.cdb;
        boolean evpd = (u8(cdb, 1) & 1) != 0;
        if ((u8(cdb, 1) & 0x02) != 0) {
            throw SenseException.cdb(1, 1); // CMDDT is obsolete
        }
        int page = u8(cdb, 2);
        int alloc = u16(cdb, 3);
        if (!evpd && page != 0) {
            throw SenseException.cdb(2, -1);
        }
        if (r.lu == null) {
            if (evpd) {
                throw SenseException.cdb(1, 0);
            }
            byte[] d = standard(null, 0x7f);
            return () -> Responses.data(d, alloc);
        }
        byte[] d = evpd ? vpd(r, page) : standard(r.lu, 0x00);
        return () -> Responses.data(d, alloc);
    }

    static byte[] standard(LogicalUnit lu, int peripheral) {
        byte[] d = new byte[96];
        d[0] = (byte) peripheral;
        d[2] = 0x06; // SPC-4
        d[3] = 0x12; // HISUP, response data format 2
        d[4] = (byte) (d.length - 5);
        d[5] = 0x10 | 0x08; // TPGS 01b: implicit ALUA (REPORT TARGET PORT GROUPS); 3PC: third-party copy
        d[7] = 0x02; // CMDQUE
        String vendor = lu == null ? LunOptions.DEFAULT_VENDOR : lu.options.vendorOrDefault();
        String product = lu == null ? LunOptions.DEFAULT_PRODUCT : lu.options.productOrDefault();
        ascii(d, 8, 8, vendor);
        ascii(d, 16, 16, product);
        ascii(d, 32, 4, REVISION);
        int[] versions = {0x00a0 /* SAM-5 */, 0x0960 /* iSCSI */, 0x0460 /* SPC-4 */, 0x04c0 /* SBC-3 */};
        for (int i = 0; i < versions.length; i++) {
            Cdb.put16(d, 58 + 2 * i, versions[i]);
        }
        return d;
    }

    private static void ascii(byte[] d, int at, int len, String s) {
        for (int i = 0; i < len; i++) {
            char c = i < s.length() ? s.charAt(i) : ' ';
            d[at + i] = (byte) (c >= 0x20 && c < 0x7f ? c : ' ');
        }
    }

    private static byte[] vpd(Request r, int page) {
        LogicalUnit lu = r.lu;
        byte[] body = switch (page) {
            case 0x00 -> SUPPORTED_PAGES.clone();
            case 0x80 -> serial(lu).getBytes(StandardCharsets.US_ASCII);
            case 0x83 -> identification(r);
            case 0x86 -> extended();
            case 0x8f -> ThirdPartyCopy.vpdDescriptors(lu);
            case 0xb0 -> blockLimits(lu);
            case 0xb1 -> characteristics();
            case 0xb2 -> provisioning(lu);
            default -> throw SenseException.cdb(2, -1);
        };
        byte[] d = new byte[4 + body.length];
        d[1] = (byte) page;
        Cdb.put16(d, 2, body.length);
        System.arraycopy(body, 0, d, 4, body.length);
        return d;
    }

    /** Unit serial number: the device UUID without dashes (SPC-4 §7.8.15). */
    static String serial(LogicalUnit lu) {
        return lu.device.uuid().replace("-", "");
    }

    /** The 16-byte NAA IEEE Registered Extended designator (NAA 6h), from the device UUID. */
    static byte[] naa(LogicalUnit lu) {
        byte[] h;
        try {
            h = MessageDigest.getInstance("SHA-256").digest(
                    ("orion-dedup:" + lu.device.uuid()).getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by the JDK", e);
        }
        byte[] n = new byte[16];
        System.arraycopy(h, 0, n, 0, 16);
        n[0] = (byte) (0x60 | (n[0] & 0x0f));
        return n;
    }

    private static byte[] identification(Request r) {
        LogicalUnit lu = r.lu;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // NAA (type 3), binary, associated with the logical unit.
        designator(out, 0x01, 0x03, naa(lu));
        // T10 vendor ID based (type 1), ASCII: vendor + serial.
        byte[] t10 = new byte[8 + 32];
        ascii(t10, 0, 8, lu.options.vendorOrDefault());
        ascii(t10, 8, 32, serial(lu));
        designator(out, 0x02, 0x01, t10);
        Nexus n = r.nexus();
        // Target port: relative port (type 4), target port group (type 5), name (type 8), iSCSI.
        byte[] rel = new byte[4];
        Cdb.put16(rel, 2, n.relativeTargetPort());
        designator(out, 0x51, 0x80 | 0x10 | 0x04, rel);
        // The target port group of the path the command came through: one group per portal group,
        // numbered by its tag, as the relative target port is (TargetPortGroups).
        byte[] tpg = new byte[4];
        Cdb.put16(tpg, 2, n.relativeTargetPort());
        designator(out, 0x01, 0x10 | 0x05, tpg);
        designator(out, 0x53, 0x80 | 0x10 | 0x08, scsiName(n.targetPort()));
        // Target device name (association 10b).
        designator(out, 0x53, 0x80 | 0x20 | 0x08, scsiName(r.target.targetName()));
        return out.toByteArray();
    }

    /** SCSI name string: UTF-8, null-terminated, padded to a multiple of 4 (SPC-4 §7.8.6.11). */
    private static byte[] scsiName(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int len = (b.length + 1 + 3) & ~3;
        byte[] out = new byte[len];
        System.arraycopy(b, 0, out, 0, b.length);
        return out;
    }

    private static void designator(ByteArrayOutputStream out, int protoCodeSet, int pivAssocType, byte[] id) {
        out.write(protoCodeSet);
        out.write(pivAssocType);
        out.write(0);
        out.write(id.length);
        out.write(id, 0, id.length);
    }

    private static byte[] extended() {
        byte[] b = new byte[0x3c];
        b[1] = 0x07; // HEADSUP, ORDSUP, SIMPSUP
        b[2] = 0x01; // V_SUP: volatile cache
        b[3] = 0x01; // LUICLR
        return b;
    }

    private static byte[] blockLimits(LogicalUnit lu) {
        int bs = lu.device.blockSize();
        int per = BlockCommands.blocksPerPhysical(lu.device);
        byte[] b = new byte[0x3c];
        b[1] = (byte) BlockCommands.MAX_COMPARE_AND_WRITE_BLOCKS;
        // OPTIMAL TRANSFER LENGTH GRANULARITY: the dedup block (smaller writes read-modify-write)
        Cdb.put16(b, 2, per);
        Cdb.put32(b, 4, BlockCommands.maxTransferBlocks(bs));
        Cdb.put32(b, 8, (128 << 10) / bs);
        if (lu.device.thin()) {
            Cdb.put32(b, 16, BlockCommands.MAX_UNMAP_BLOCKS);
            Cdb.put32(b, 20, BlockCommands.MAX_UNMAP_DESCRIPTORS);
            Cdb.put32(b, 24, per); // OPTIMAL UNMAP GRANULARITY: only whole dedup blocks free space
            Cdb.put32(b, 28, 0x80000000); // UGAVALID, UNMAP GRANULARITY ALIGNMENT 0
        }
        Cdb.put64(b, 32, BlockCommands.maxWriteSameBlocks(bs));
        // MAXIMUM ATOMIC TRANSFER LENGTH; ATOMIC ALIGNMENT, ATOMIC TRANSFER LENGTH GRANULARITY and the
        // atomic boundary fields stay 0: any aligned or unaligned write up to the maximum is atomic.
        // A device whose writes are not atomic (a file LUN) reports 0: no atomic writes.
        if (lu.device.atomicWrites()) {
            Cdb.put32(b, 40, BlockCommands.maxAtomicBlocks(bs));
        }
        return b;
    }

    private static byte[] characteristics() {
        byte[] b = new byte[0x3c];
        Cdb.put16(b, 0, 1); // MEDIUM ROTATION RATE: non-rotating
        b[3] = 0x40; // WABEREQ 01b: reads after a SANITIZE BLOCK ERASE succeed (they return zeros)
        return b;
    }

    private static byte[] provisioning(LogicalUnit lu) {
        byte[] b = new byte[4];
        if (lu.device.thin()) {
            b[0] = (byte) LogPages.thresholdExponent(lu.device); // THRESHOLD EXPONENT
            b[1] = (byte) (0x80 | 0x40 | 0x20 | 0x04); // LBPU, LBPWS, LBPWS10, LBPRZ=001b
            b[2] = 0x02; // MINIMUM PERCENTAGE 0, provisioning type: thin
            b[3] = (byte) lu.warningPercent(); // THRESHOLD PERCENTAGE: the soft threshold
        }
        return b;
    }

}
