package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u8;

import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.Provisioning;
import java.io.ByteArrayOutputStream;
import java.io.IOException;

/**
 * LOG SENSE (SPC-4 §6.6) with the Supported Log Pages page (00h, and subpage FFh: supported pages
 * and subpages) and the Logical Block Provisioning log page (0Ch, SBC-4 §6.4.5): how many LBA
 * mapping resources the store behind the LU still has and has used, in threshold sets of
 * 2^THRESHOLD EXPONENT logical blocks (the exponent the Logical Block Provisioning VPD page
 * reports), with their scope (dedicated to this LU, or a pool shared by several). Log parameters
 * cannot be saved or reset: SP = 1 is refused, LOG SELECT is not supported.
 */
final class LogPages {

    static final int SUPPORTED = 0x00;
    static final int PROVISIONING = 0x0c;

    private LogPages() {
    }

    static CommandSpec.Executor sense(Request r) {
        byte[] cdb = r.cdb;
        if ((u8(cdb, 1) & 0x01) != 0) {
            throw SenseException.cdb(1, 0); // SP: parameters cannot be saved
        }
        int page = u8(cdb, 2) & 0x3f;
        int subpage = u8(cdb, 3);
        int pointer = u16(cdb, 5);
        int alloc = u16(cdb, 7);
        BlockDevice dev = r.lu.device;
        if (page == SUPPORTED && subpage == 0x00) {
            byte[] d = page(SUPPORTED, 0, false, new byte[] {SUPPORTED, PROVISIONING});
            return () -> Responses.data(d, alloc);
        }
        if (page == SUPPORTED && subpage == 0xff) {
            byte[] d = page(SUPPORTED, 0xff, true, new byte[] {SUPPORTED, 0, SUPPORTED, (byte) 0xff, PROVISIONING, 0});
            return () -> Responses.data(d, alloc);
        }
        if (page == PROVISIONING && subpage == 0 && dev.thin()) {
            return () -> Responses.data(provisioning(dev, pointer), alloc);
        }
        throw SenseException.cdb(page == SUPPORTED || page == PROVISIONING ? 3 : 2, -1);
    }

    private static byte[] page(int code, int subpage, boolean spf, byte[] body) {
        byte[] d = new byte[4 + body.length];
        d[0] = (byte) (code | (spf ? 0x40 : 0));
        d[1] = (byte) subpage;
        Cdb.put16(d, 2, body.length);
        System.arraycopy(body, 0, d, 4, body.length);
        return d;
    }

    /** The Logical Block Provisioning log page: parameters 0001h (available) and 0002h (used). */
    static byte[] provisioning(BlockDevice dev, int pointer) throws IOException {
        Provisioning p = dev.provisioning();
        long set = (long) dev.blockSize() << thresholdExponent(dev);
        int scope = p.dedicated() ? 0x01 : 0x02;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (pointer <= 0x0001) {
            parameter(out, 0x0001, p.availableBytes() / set, scope);
        }
        if (pointer <= 0x0002 && p.usedBytes() >= 0) {
            parameter(out, 0x0002, (p.usedBytes() + set - 1) / set, scope);
        }
        return page(PROVISIONING, 0, false, out.toByteArray());
    }

    private static void parameter(ByteArrayOutputStream out, int code, long count, int scope) {
        byte[] b = new byte[12];
        Cdb.put16(b, 0, code);
        b[2] = 0x03; // FORMAT AND LINKING 11b: binary list
        b[3] = 8;
        Cdb.put32(b, 4, Math.min(count, 0xffffffffL)); // RESOURCE COUNT, in threshold sets
        b[8] = (byte) scope; // SCOPE: 01b dedicated to this LU, 10b not dedicated
        out.write(b, 0, b.length);
    }

    /**
     * THRESHOLD EXPONENT (SBC-4 §6.6.6): a threshold set is 2^exponent logical blocks. At least
     * one physical (dedup) block, and large enough that the LU's capacity in threshold sets fits
     * the 32-bit resource counts. Never 0: 0 would say thresholds are not supported.
     */
    static int thresholdExponent(BlockDevice dev) {
        int e = Math.max(1, BlockCommands.physicalExponent(dev));
        while (e < 63 && (dev.blockCount() >>> e) > 0xffffffffL) {
            e++;
        }
        return e;
    }
}
