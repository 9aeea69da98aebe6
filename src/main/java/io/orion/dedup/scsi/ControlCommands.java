package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u32;
import static io.orion.dedup.scsi.Cdb.u8;

import java.io.ByteArrayOutputStream;
import java.util.List;

/**
 * SPC-4 commands that do no block I/O: TEST UNIT READY, REQUEST SENSE, REPORT LUNS, REPORT
 * SUPPORTED OPERATION CODES, RESERVE/RELEASE (SPC-2 §7.21, §7.17), START STOP UNIT and PREVENT
 * ALLOW MEDIUM REMOVAL (SBC-4 §5.25, §5.6) and READ DEFECT DATA (SBC-4 §5.17-5.18).
 */
final class ControlCommands {

    private ControlCommands() {
    }

    static CommandSpec.Executor testUnitReady(Request r) {
        return Responses::good;
    }

    /** REQUEST SENSE (SPC-4 §6.39): returns and clears a pending unit attention, else NO SENSE. */
    static CommandSpec.Executor requestSense(Request r) {
        boolean desc = (u8(r.cdb, 1) & 1) != 0;
        int alloc = u8(r.cdb, 4);
        byte[] d;
        if (r.lu == null) {
            d = SenseData.build(SenseReason.LOGICAL_UNIT_NOT_SUPPORTED, desc);
        } else {
            SenseReason ua = r.lu.takeAttention(r.nexus());
            SenseReason none = r.lu.sanitizeFailed ? SenseReason.SANITIZE_COMMAND_FAILED : SenseReason.NO_SENSE;
            d = SenseData.build(ua == null ? none : ua, desc);
        }
        return () -> Responses.data(d, alloc);
    }

    /** REPORT LUNS (SPC-4 §6.33). */
    static CommandSpec.Executor reportLuns(Request r) {
        int select = u8(r.cdb, 2);
        long alloc = u32(r.cdb, 6);
        if (alloc < 16) {
            throw SenseException.cdb(6, -1);
        }
        List<Long> luns;
        switch (select) {
            case 0x00, 0x02 -> luns = r.target.sortedLuns(r.nexus());
            case 0x01 -> luns = List.of();
            case 0x11 -> {
                if (r.command.lun() != 0) {
                    throw SenseException.cdb(2, -1);
                }
                luns = r.target.sortedLuns(r.nexus());
            }
            default -> throw SenseException.cdb(2, -1);
        }
        byte[] d = new byte[8 + 8 * luns.size()];
        Cdb.put32(d, 0, 8L * luns.size());
        for (int i = 0; i < luns.size(); i++) {
            long lun = luns.get(i);
            int at = 8 + 8 * i;
            if (lun < 256) {
                d[at + 1] = (byte) lun;
            } else {
                d[at] = (byte) (0x40 | (lun >> 8));
                d[at + 1] = (byte) lun;
            }
        }
        if (r.lu != null) {
            r.lu.clearAttention(r.nexus(), SenseReason.REPORTED_LUNS_DATA_CHANGED);
        }
        return () -> Responses.data(d, alloc);
    }

    /** REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35), every reporting option, RCTD timeouts. */
    static CommandSpec.Executor reportSupportedOpcodes(Request r) {
        byte[] cdb = r.cdb;
        boolean rctd = (u8(cdb, 2) & 0x80) != 0;
        int options = u8(cdb, 2) & 0x07;
        int opcode = u8(cdb, 3);
        int sa = u16(cdb, 4);
        long alloc = u32(cdb, 6);
        CommandTable table = r.target.table();
        byte[] d;
        switch (options) {
            case 0 -> {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                for (CommandSpec s : table.all()) {
                    if (!BlockCommands.supported(r.lu, s.opcode())) {
                        continue;
                    }
                    byte[] desc = new byte[8];
                    desc[0] = (byte) s.opcode();
                    Cdb.put16(desc, 2, Math.max(0, s.serviceAction()));
                    desc[5] = (byte) ((rctd ? 0x02 : 0) | (s.serviceAction() >= 0 ? 0x01 : 0));
                    Cdb.put16(desc, 6, s.usage().length);
                    out.writeBytes(desc);
                    if (rctd) {
                        out.writeBytes(timeouts());
                    }
                }
                byte[] list = out.toByteArray();
                d = new byte[4 + list.length];
                Cdb.put32(d, 0, list.length);
                System.arraycopy(list, 0, d, 4, list.length);
            }
            case 1, 2, 3 -> {
                boolean hasSa = table.hasServiceActions(opcode);
                if (options == 1 && hasSa) {
                    throw SenseException.cdb(2, 0);
                }
                if (options == 2 && !hasSa) {
                    throw SenseException.cdb(2, 0);
                }
                CommandSpec s = hasSa ? table.find(opcode, sa) : (sa == 0 || options == 1 ? table.find(opcode, -1) : null);
                if (s == null || !BlockCommands.supported(r.lu, s.opcode())) {
                    d = new byte[4];
                    d[1] = 0x01; // not supported
                } else {
                    byte[] usage = s.usage();
                    d = new byte[4 + usage.length + (rctd ? 12 : 0)];
                    d[1] = (byte) ((rctd ? 0x80 : 0) | 0x03);
                    Cdb.put16(d, 2, usage.length);
                    System.arraycopy(usage, 0, d, 4, usage.length);
                    if (rctd) {
                        System.arraycopy(timeouts(), 0, d, 4 + usage.length, 12);
                    }
                }
            }
            default -> throw SenseException.cdb(2, 2);
        }
        byte[] data = d;
        return () -> Responses.data(data, alloc);
    }

    /** Command timeouts descriptor (SPC-4 §6.35.4): nominal 10 s, recommended 30 s. */
    private static byte[] timeouts() {
        byte[] t = new byte[12];
        Cdb.put16(t, 0, 0x0a);
        Cdb.put32(t, 4, 10);
        Cdb.put32(t, 8, 30);
        return t;
    }

    /** RESERVE(6)/(10) (SPC-2 §7.21-7.22): logical unit reservations only, no third party. */
    static CommandSpec.Executor reserve(Request r) {
        byte[] cdb = r.cdb;
        if (cdb.length == 6 ? (u8(cdb, 1) & 0x01) != 0 : (u8(cdb, 1) & 0x12) != 0) {
            throw SenseException.cdb(1, -1);
        }
        LogicalUnit lu = r.lu;
        Nexus n = r.nexus();
        return () -> {
            if (lu.pr.active() || !lu.reserve(n)) {
                return Responses.conflict(0);
            }
            return Responses.good();
        };
    }

    static CommandSpec.Executor release(Request r) {
        byte[] cdb = r.cdb;
        if (cdb.length == 6 ? (u8(cdb, 1) & 0x01) != 0 : (u8(cdb, 1) & 0x12) != 0) {
            throw SenseException.cdb(1, -1);
        }
        LogicalUnit lu = r.lu;
        Nexus n = r.nexus();
        return () -> {
            if (lu.pr.active()) {
                return Responses.conflict(0);
            }
            lu.release(n);
            return Responses.good();
        };
    }

    /** START STOP UNIT (SBC-4 §5.25): the medium is not removable and always ready. */
    static CommandSpec.Executor startStopUnit(Request r) {
        int pc = u8(r.cdb, 4) >> 4;
        if (pc != 0 && pc != 1 && pc != 2 && pc != 3 && pc != 7 && pc != 0x0a && pc != 0x0b) {
            throw SenseException.cdb(4, 7);
        }
        return Responses::good;
    }

    /** PREVENT ALLOW MEDIUM REMOVAL (SBC-4 §5.6). */
    static CommandSpec.Executor preventAllow(Request r) {
        int prevent = u8(r.cdb, 4) & 0x03;
        LogicalUnit lu = r.lu;
        return () -> {
            lu.preventRemoval = prevent != 0;
            return Responses.good();
        };
    }

    /** READ DEFECT DATA (10)/(12) (SBC-4 §5.17-5.18): an empty list in the requested format. */
    static CommandSpec.Executor readDefectData(Request r) {
        byte[] cdb = r.cdb;
        boolean twelve = cdb.length == 12;
        int flags = u8(cdb, twelve ? 1 : 2);
        long alloc = twelve ? u32(cdb, 6) : u16(cdb, 7);
        byte[] d = new byte[twelve ? 8 : 4];
        // Neither PLIST nor GLIST is returned with a list; report the format we were asked for.
        d[1] = (byte) (flags & 0x1f);
        return () -> Responses.data(d, alloc);
    }
}
