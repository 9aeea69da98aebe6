package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u32;
import static io.orion.dedup.scsi.Cdb.u64;
import static io.orion.dedup.scsi.Cdb.u8;

import io.orion.dedup.scsi.PersistentReservations.Registration;
import io.orion.dedup.scsi.PersistentReservations.Reservation;
import io.orion.dedup.scsi.PersistentReservations.Result;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * PERSISTENT RESERVE IN (SPC-4 §6.15: READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ FULL
 * STATUS) and PERSISTENT RESERVE OUT (SPC-4 §6.16: REGISTER, REGISTER AND IGNORE EXISTING KEY,
 * RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT AND ABORT). Not supported, and refused as such:
 * REGISTER AND MOVE, REPLACE LOST RESERVATION, SPEC_I_PT, ALL_TG_PT and APTPL.
 */
final class PrCommands {

    private PrCommands() {
    }

    // ---- PERSISTENT RESERVE IN ------------------------------------------------------------------

    static CommandSpec.Executor in(Request r) {
        int sa = u8(r.cdb, 1) & 0x1f;
        int alloc = u16(r.cdb, 7);
        PersistentReservations pr = r.lu.pr;
        byte[] d = switch (sa) {
            case 0 -> readKeys(pr);
            case 1 -> readReservation(pr);
            case 2 -> reportCapabilities();
            case 3 -> readFullStatus(pr);
            default -> throw SenseException.cdb(1, 4);
        };
        return () -> Responses.data(d, alloc);
    }

    private static byte[] readKeys(PersistentReservations pr) {
        synchronized (pr) {
            List<Registration> regs = pr.registrations();
            ByteBuffer b = ByteBuffer.allocate(8 + 8 * regs.size());
            b.putInt(pr.generation());
            b.putInt(8 * regs.size());
            for (Registration reg : regs) {
                b.putLong(reg.key());
            }
            return b.array();
        }
    }

    private static byte[] readReservation(PersistentReservations pr) {
        synchronized (pr) {
            Reservation res = pr.reservation();
            if (res == null) {
                ByteBuffer b = ByteBuffer.allocate(8);
                b.putInt(pr.generation());
                return b.array();
            }
            ByteBuffer b = ByteBuffer.allocate(24);
            b.putInt(pr.generation());
            b.putInt(16);
            Long key = res.allRegistrants() ? Long.valueOf(0) : pr.keyOf(res.holder());
            b.putLong(key == null ? 0 : key);
            b.putInt(0);
            b.put((byte) 0);
            b.put((byte) res.type()); // scope 0h: logical unit
            return b.array();
        }
    }

    private static byte[] reportCapabilities() {
        byte[] d = new byte[8];
        Cdb.put16(d, 0, 8);
        d[2] = 0x10; // CRH: SCSI-2 RESERVE conflicts while registrations exist
        d[3] = (byte) 0x80; // TMV: the type mask is valid; ALLOW COMMANDS 000b
        d[4] = (byte) (0x80 | 0x40 | 0x20 | 0x08 | 0x02); // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
        d[5] = 0x01; // EX_AC_AR
        return d;
    }

    private static byte[] readFullStatus(PersistentReservations pr) {
        synchronized (pr) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Reservation res = pr.reservation();
            for (Registration reg : pr.registrations()) {
                byte[] tid = transportId(reg.nexus());
                ByteBuffer b = ByteBuffer.allocate(24 + tid.length);
                b.putLong(reg.key());
                b.putInt(0);
                boolean holder = pr.isHolder(reg.nexus());
                b.put((byte) (holder ? 0x01 : 0x00));
                b.put((byte) (holder ? res.type() : 0));
                b.putInt(0);
                b.putShort((short) reg.nexus().relativeTargetPort());
                b.putInt(tid.length);
                b.put(tid);
                out.writeBytes(b.array());
            }
            byte[] body = out.toByteArray();
            ByteBuffer d = ByteBuffer.allocate(8 + body.length);
            d.putInt(pr.generation());
            d.putInt(body.length);
            d.put(body);
            return d.array();
        }
    }

    /** iSCSI TransportID, format 01b: initiator port name "iqn,i,0xISID" (SPC-4 §7.6.4.6). */
    static byte[] transportId(Nexus n) {
        byte[] name = n.initiatorPort().getBytes(StandardCharsets.UTF_8);
        int len = (name.length + 1 + 3) & ~3;
        byte[] t = new byte[4 + len];
        t[0] = (byte) 0x45;
        Cdb.put16(t, 2, len);
        System.arraycopy(name, 0, t, 4, name.length);
        return t;
    }

    // ---- PERSISTENT RESERVE OUT -----------------------------------------------------------------

    static CommandSpec.Executor out(Request r) {
        byte[] cdb = r.cdb;
        int sa = u8(cdb, 1) & 0x1f;
        int scope = u8(cdb, 2) >> 4;
        int type = u8(cdb, 2) & 0x0f;
        long len = u32(cdb, 5);
        if (sa > 6) {
            throw SenseException.cdb(1, 4);
        }
        if (len != 24) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        byte[] p = r.parameters(24);
        long key = u64(p, 0);
        long sark = u64(p, 8);
        int flags = u8(p, 20);
        if ((flags & 0x08) != 0 || (flags & 0x04) != 0 || (flags & 0x01) != 0) {
            throw SenseException.param(20);
        }
        boolean typed = sa == 1 || sa == 2 || sa == 4 || sa == 5;
        if (typed && scope != 0) {
            throw SenseException.cdb(2, 7);
        }
        if (typed && !PersistentReservations.validType(type)) {
            throw SenseException.cdb(2, 3);
        }
        LogicalUnit lu = r.lu;
        Nexus n = r.nexus();
        return () -> {
            List<Nexus> ua = new ArrayList<>();
            Result res = switch (sa) {
                case 0 -> lu.pr.register(n, key, sark, false, ua);
                case 6 -> lu.pr.register(n, key, sark, true, ua);
                case 1 -> lu.pr.reserve(n, key, type);
                case 2 -> lu.pr.release(n, key, type, ua);
                case 3 -> lu.pr.clear(n, key, ua);
                default -> lu.pr.preempt(n, key, sark, type, ua);
            };
            SenseReason reason = switch (sa) {
                case 3 -> SenseReason.RESERVATIONS_PREEMPTED;
                case 4, 5 -> SenseReason.REGISTRATIONS_PREEMPTED;
                default -> SenseReason.RESERVATIONS_RELEASED;
            };
            for (Nexus other : ua) {
                lu.raiseFor(other, reason);
            }
            return switch (res) {
                case GOOD -> Responses.goodOut(24);
                case CONFLICT -> Responses.conflict(24);
                case INVALID_RELEASE -> throw SenseReason.INVALID_RELEASE_OF_PERSISTENT_RESERVATION.ex();
                case INVALID_PARAMETER -> throw SenseException.param(8);
            };
        };
    }
}
