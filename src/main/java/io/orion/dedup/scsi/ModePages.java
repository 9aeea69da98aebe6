package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u8;

import java.io.ByteArrayOutputStream;

/**
 * MODE SENSE(6/10) and MODE SELECT(6/10) (SPC-4 §6.11-6.14) over the pages a direct-access device
 * needs: read-write error recovery (01h), caching (08h, WCE changeable), control (0Ah, D_SENSE and
 * SWP changeable) and informational exceptions control (1Ch). Saving is not supported: saved values
 * are the defaults, and SP=1 is refused.
 */
final class ModePages {

    static final int PC_CURRENT = 0;
    static final int PC_CHANGEABLE = 1;
    static final int PC_DEFAULT = 2;
    static final int PC_SAVED = 3;

    private static final int[] PAGES = {0x01, 0x08, 0x0a, 0x1c};

    private ModePages() {
    }

    /** One page in the given page control view. */
    static byte[] page(LogicalUnit lu, int code, int pc) {
        boolean cur = pc == PC_CURRENT;
        boolean chg = pc == PC_CHANGEABLE;
        switch (code) {
            case 0x01 -> {
                byte[] p = new byte[12];
                p[0] = 0x01;
                p[1] = 10;
                return p;
            }
            case 0x08 -> {
                byte[] p = new byte[20];
                p[0] = 0x08;
                p[1] = 18;
                boolean wce = cur ? lu.wce : LogicalUnit.DEFAULT_WCE;
                if (chg) {
                    p[2] = 0x04;
                } else if (wce) {
                    p[2] = 0x04;
                }
                return p;
            }
            case 0x0a -> {
                byte[] p = new byte[12];
                p[0] = 0x0a;
                p[1] = 10;
                if (chg) {
                    p[2] = 0x04; // D_SENSE
                    p[4] = 0x08; // SWP
                } else {
                    p[2] = (byte) (cur && lu.dSense ? 0x04 : 0);
                    p[3] = 0x10; // QUEUE ALGORITHM MODIFIER 1: unrestricted reordering
                    p[4] = (byte) (cur && lu.swp ? 0x08 : 0);
                    Cdb.put16(p, 8, 0xffff); // BUSY TIMEOUT PERIOD: unlimited
                }
                return p;
            }
            case 0x1c -> {
                byte[] p = new byte[12];
                p[0] = 0x1c;
                p[1] = 10;
                return p;
            }
            default -> throw new IllegalArgumentException("page " + code);
        }
    }

    static CommandSpec.Executor sense(Request r) {
        byte[] cdb = r.cdb;
        boolean ten = cdb.length == 10;
        boolean dbd = (u8(cdb, 1) & 0x08) != 0;
        boolean llbaa = ten && (u8(cdb, 1) & 0x10) != 0;
        int pc = u8(cdb, 2) >> 6;
        int code = u8(cdb, 2) & 0x3f;
        int sub = u8(cdb, 3);
        int alloc = ten ? u16(cdb, 7) : u8(cdb, 4);
        if (pc == PC_SAVED) {
            throw SenseReason.SAVING_PARAMETERS_NOT_SUPPORTED.ex();
        }
        ByteArrayOutputStream pages = new ByteArrayOutputStream();
        if (code == 0x3f) {
            if (sub != 0x00 && sub != 0xff) {
                throw SenseException.cdb(3, -1);
            }
            for (int c : PAGES) {
                pages.writeBytes(page(r.lu, c, pc));
            }
        } else {
            if (sub != 0x00 || !known(code)) {
                throw SenseException.cdb(2, 5);
            }
            pages.writeBytes(page(r.lu, code, pc));
        }
        LogicalUnit lu = r.lu;
        int deviceSpecific = (r.writeProtected() ? 0x80 : 0) | 0x10; // WP, DPOFUA
        byte[] bd = dbd ? new byte[0] : blockDescriptor(lu, llbaa);
        byte[] body = pages.toByteArray();
        int header = ten ? 8 : 4;
        byte[] d = new byte[header + bd.length + body.length];
        if (ten) {
            Cdb.put16(d, 0, d.length - 2);
            d[3] = (byte) deviceSpecific;
            d[4] = (byte) (llbaa && !dbd ? 1 : 0);
            Cdb.put16(d, 6, bd.length);
        } else {
            d[0] = (byte) (d.length - 1);
            d[2] = (byte) deviceSpecific;
            d[3] = (byte) bd.length;
        }
        System.arraycopy(bd, 0, d, header, bd.length);
        System.arraycopy(body, 0, d, header + bd.length, body.length);
        return () -> Responses.data(d, alloc);
    }

    private static boolean known(int code) {
        for (int c : PAGES) {
            if (c == code) {
                return true;
            }
        }
        return false;
    }

    private static byte[] blockDescriptor(LogicalUnit lu, boolean llbaa) {
        long blocks = lu.device.blockCount();
        int bs = lu.device.blockSize();
        if (llbaa) {
            byte[] b = new byte[16];
            Cdb.put64(b, 0, blocks);
            Cdb.put32(b, 12, bs);
            return b;
        }
        byte[] b = new byte[8];
        long n = Math.min(blocks, 0xffffffffL);
        Cdb.put32(b, 0, n);
        Cdb.put32(b, 4, bs & 0xffffff);
        return b;
    }

    static CommandSpec.Executor select(Request r) {
        byte[] cdb = r.cdb;
        boolean ten = cdb.length == 10;
        boolean pf = (u8(cdb, 1) & 0x10) != 0;
        boolean sp = (u8(cdb, 1) & 0x01) != 0;
        int len = ten ? u16(cdb, 7) : u8(cdb, 4);
        if (sp) {
            throw SenseException.cdb(1, 0);
        }
        if (len == 0) {
            return Responses::good;
        }
        if (!pf) {
            throw SenseException.cdb(1, 4);
        }
        int header = ten ? 8 : 4;
        if (len < header) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        byte[] p = r.parameters(len);
        int bdLen = ten ? u16(p, 6) : u8(p, 3);
        int at = header + bdLen;
        if (at > len) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        LogicalUnit lu = r.lu;
        boolean wce = lu.wce;
        boolean dSense = lu.dSense;
        boolean swp = lu.swp;
        while (at < len) {
            if (at + 2 > len) {
                throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
            }
            int code = u8(p, at) & 0x3f;
            boolean spf = (u8(p, at) & 0x40) != 0;
            if (spf || !known(code)) {
                throw SenseException.param(at);
            }
            byte[] cur = page(lu, code, PC_CURRENT);
            byte[] chg = page(lu, code, PC_CHANGEABLE);
            int plen = u8(p, at + 1) + 2;
            if (plen != cur.length) {
                throw SenseException.param(at + 1);
            }
            if (at + plen > len) {
                throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
            }
            for (int i = 2; i < plen; i++) {
                int fixed = ~chg[i] & 0xff;
                if (((p[at + i] ^ cur[i]) & fixed) != 0) {
                    throw SenseException.param(at + i);
                }
            }
            if (code == 0x08) {
                wce = (p[at + 2] & 0x04) != 0;
            } else if (code == 0x0a) {
                dSense = (p[at + 2] & 0x04) != 0;
                swp = (p[at + 4] & 0x08) != 0;
            }
            at += plen;
        }
        boolean changed = wce != lu.wce || dSense != lu.dSense || swp != lu.swp;
        boolean newWce = wce;
        boolean newDSense = dSense;
        boolean newSwp = swp;
        Nexus nexus = r.nexus();
        int out = len;
        return () -> {
            boolean flush = lu.wce && !newWce;
            if (flush) {
                lu.device.flush();
            }
            lu.wce = newWce;
            lu.dSense = newDSense;
            lu.swp = newSwp;
            if (changed) {
                lu.raise(SenseReason.MODE_PARAMETERS_CHANGED, nexus);
            }
            return Responses.goodOut(out);
        };
    }
}
