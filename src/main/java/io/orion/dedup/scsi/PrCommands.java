package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u32;
import static io.orion.dedup.scsi.Cdb.u64;
import static io.orion.dedup.scsi.Cdb.u8;

import io.orion.dedup.scsi.PersistentReservations.Change;
import io.orion.dedup.scsi.PersistentReservations.Result;
import io.orion.dedup.scsi.PrState.Registration;
import io.orion.dedup.blockdev.OutOfSpaceException;
import java.io.IOException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PERSISTENT RESERVE IN (SPC-4 §6.15: READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ FULL
 * STATUS) and PERSISTENT RESERVE OUT (SPC-4 §6.16: REGISTER, RESERVE, RELEASE, CLEAR, PREEMPT,
 * PREEMPT AND ABORT, REGISTER AND IGNORE EXISTING KEY, REGISTER AND MOVE), with ALL_TG_PT,
 * SPEC_I_PT (iSCSI TransportIDs of format 00b and 01b, SPC-4 §7.6.4.6) and APTPL. REPLACE LOST
 * RESERVATION (service action 8) is refused as an invalid service action.
 *
 * <p>A change that must persist (APTPL = 1) is saved before GOOD; a failed save ends the command
 * with CHECK CONDITION and changes nothing: HARDWARE ERROR, INTERNAL TARGET FAILURE, or ILLEGAL
 * REQUEST, INSUFFICIENT REGISTRATION RESOURCES when the pool has no space for it.
 */
final class PrCommands {

    private static final Logger LOG = LoggerFactory.getLogger(PrCommands.class);
    /** iSCSI protocol identifier (SPC-4 Table 444). */
    private static final int ISCSI = 5;
    /** Largest PR OUT parameter list accepted (a SPEC_I_PT list of many TransportIDs). */
    private static final int MAX_PARAMETERS = 64 * 1024;

    private PrCommands() {
    }

    // ---- PERSISTENT RESERVE IN ------------------------------------------------------------------

    static CommandSpec.Executor in(Request r) {
        int sa = u8(r.cdb, 1) & 0x1f;
        int alloc = u16(r.cdb, 7);
        PersistentReservations pr = r.lu.pr;
        PrState s = pr.snapshot();
        byte[] d = switch (sa) {
            case 0 -> readKeys(s);
            case 1 -> readReservation(s);
            case 2 -> reportCapabilities(pr.canPersist(), s.aptpl);
            case 3 -> readFullStatus(s);
            default -> throw SenseException.cdb(1, 4);
        };
        return () -> Responses.data(d, alloc);
    }

    private static byte[] readKeys(PrState s) {
        ByteBuffer b = ByteBuffer.allocate(8 + 8 * s.registrations.size());
        b.putInt(s.generation);
        b.putInt(8 * s.registrations.size());
        for (Registration reg : s.registrations) {
            b.putLong(reg.key);
        }
        return b.array();
    }

    private static byte[] readReservation(PrState s) {
        if (!s.reserved()) {
            ByteBuffer b = ByteBuffer.allocate(8);
            b.putInt(s.generation);
            return b.array();
        }
        ByteBuffer b = ByteBuffer.allocate(24);
        b.putInt(s.generation);
        b.putInt(16);
        b.putLong(s.allRegistrants() ? 0 : s.holder.key);
        b.putInt(0);
        b.put((byte) 0);
        b.put((byte) s.type); // scope 0h: logical unit
        return b.array();
    }

    /** REPORT CAPABILITIES (SPC-4 §6.15.4): PTPL_C only where the LU can persist. */
    private static byte[] reportCapabilities(boolean ptplC, boolean ptplA) {
        byte[] d = new byte[8];
        Cdb.put16(d, 0, 8);
        // CRH (SCSI-2 RESERVE conflicts while registrations exist), SIP_C, ATP_C, PTPL_C
        d[2] = (byte) (0x10 | 0x08 | 0x04 | (ptplC ? 0x01 : 0));
        d[3] = (byte) (0x80 | (ptplA ? 0x01 : 0)); // TMV: the type mask is valid; ALLOW COMMANDS 000b; PTPL_A
        d[4] = (byte) (0x80 | 0x40 | 0x20 | 0x08 | 0x02); // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
        d[5] = 0x01; // EX_AC_AR
        return d;
    }

    private static byte[] readFullStatus(PrState s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Registration reg : s.registrations) {
            byte[] tid = transportId(reg);
            ByteBuffer b = ByteBuffer.allocate(24 + tid.length);
            b.putLong(reg.key);
            b.putInt(0);
            boolean holder = s.holds(reg);
            b.put((byte) ((reg.allTargetPorts() ? 0x02 : 0x00) | (holder ? 0x01 : 0x00)));
            b.put((byte) (holder ? s.type : 0));
            b.putInt(0);
            b.putShort((short) (reg.allTargetPorts() ? 0 : reg.rtp));
            b.putInt(tid.length);
            b.put(tid);
            out.writeBytes(b.array());
        }
        byte[] body = out.toByteArray();
        ByteBuffer d = ByteBuffer.allocate(8 + body.length);
        d.putInt(s.generation);
        d.putInt(body.length);
        d.put(body);
        return d.array();
    }

    /** iSCSI TransportID of the I_T nexus's initiator port, format 01b (SPC-4 §7.6.4.6). */
    static byte[] transportId(Nexus n) {
        return transportId(Registration.of(n, false, 0));
    }

    /**
     * iSCSI TransportID (SPC-4 §7.6.4.6): format 01b with the initiator port name
     * {@code iqn,i,0xISID}, or format 00b with the bare name for a registration of a whole
     * initiator device; null-terminated, padded to a multiple of four, at least 20 bytes.
     */
    static byte[] transportId(Registration reg) {
        byte[] name = reg.initiatorPort().getBytes(StandardCharsets.UTF_8);
        int len = Math.max(20, (name.length + 1 + 3) & ~3);
        byte[] t = new byte[4 + len];
        t[0] = (byte) (reg.isid < 0 ? ISCSI : 0x40 | ISCSI);
        Cdb.put16(t, 2, len);
        System.arraycopy(name, 0, t, 4, name.length);
        return t;
    }

    /** A TransportID parsed from a parameter list: name, ISID (-1 for format 00b), bytes used. */
    record TransportId(String name, long isid, int length) {
    }

    /**
     * Parses the iSCSI TransportID at {@code at} (SPC-4 §7.6.4.6); anything else (another
     * protocol, another format, no terminating NUL, a bad ISID) is INVALID FIELD IN PARAMETER LIST.
     */
    static TransportId parseTransportId(byte[] p, int at, int end) {
        if (at + 4 > end) {
            throw SenseException.param(at);
        }
        int b0 = u8(p, at);
        int format = b0 >> 6;
        if ((b0 & 0x0f) != ISCSI || (b0 & 0x30) != 0 || format > 1) {
            throw SenseException.param(at);
        }
        int len = u16(p, at + 2);
        if (len < 4 || at + 4 + len > end) {
            throw SenseException.param(at + 2);
        }
        int nul = -1;
        for (int i = at + 4; i < at + 4 + len; i++) {
            if (p[i] == 0) {
                nul = i;
                break;
            }
        }
        if (nul <= at + 4) {
            throw SenseException.param(at + 4);
        }
        String text = new String(p, at + 4, nul - at - 4, StandardCharsets.UTF_8);
        if (format == 0) {
            if (text.contains(",")) {
                throw SenseException.param(at + 4);
            }
            return new TransportId(text, -1, 4 + len);
        }
        int sep = text.toLowerCase(java.util.Locale.ROOT).indexOf(",i,0x");
        String hex = sep < 0 ? "" : text.substring(sep + 5);
        if (sep <= 0 || hex.isEmpty() || hex.length() > 12) {
            throw SenseException.param(at + 4);
        }
        try {
            return new TransportId(text.substring(0, sep), Long.parseLong(hex, 16), 4 + len);
        } catch (NumberFormatException e) {
            throw SenseException.param(at + 4);
        }
    }

    // ---- PERSISTENT RESERVE OUT -----------------------------------------------------------------

    static CommandSpec.Executor out(Request r) {
        byte[] cdb = r.cdb;
        int sa = u8(cdb, 1) & 0x1f;
        int scope = u8(cdb, 2) >> 4;
        int type = u8(cdb, 2) & 0x0f;
        long len = u32(cdb, 5);
        if (sa > 7) {
            throw SenseException.cdb(1, 4);
        }
        if (len < 24 || len > MAX_PARAMETERS) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        LogicalUnit lu = r.lu;
        Nexus n = r.nexus();
        byte[] p = r.parameters(24);
        long key = u64(p, 0);
        long sark = u64(p, 8);
        Change change;
        if (sa == 7) {
            change = registerAndMove(r, lu, n, (int) len, key, sark);
        } else {
            int flags = u8(p, 20);
            boolean specIPt = (flags & 0x08) != 0;
            boolean allTgPt = (flags & 0x04) != 0;
            boolean aptpl = (flags & 0x01) != 0;
            boolean register = sa == 0 || sa == 6;
            if (specIPt && sa != 0) {
                throw SenseException.param(20); // SPEC_I_PT is valid for REGISTER only
            }
            if (!specIPt && len != 24) {
                throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
            }
            if (register && aptpl && !lu.pr.canPersist()) {
                throw SenseException.param(20); // PTPL_C is 0 on this LU (SPC-4 §6.16.3)
            }
            boolean typed = sa == 1 || sa == 2 || sa == 4 || sa == 5;
            if (typed && scope != 0) {
                throw SenseException.cdb(2, 7);
            }
            if (typed && !PersistentReservations.validType(type)) {
                throw SenseException.cdb(2, 3);
            }
            List<Registration> others = specIPt ? specifiedPorts(r, n, (int) len, sark, allTgPt) : null;
            change = switch (sa) {
                case 0 -> PersistentReservations.register(n, key, sark, false, allTgPt, aptpl, others);
                case 6 -> PersistentReservations.register(n, key, sark, true, allTgPt, aptpl, null);
                case 1 -> PersistentReservations.reserve(n, key, type);
                case 2 -> PersistentReservations.release(n, key, type);
                case 3 -> PersistentReservations.clear(n, key);
                default -> PersistentReservations.preempt(n, key, sark, type);
            };
        }
        int edtl = (int) len;
        return () -> {
            List<Registration> ua = new ArrayList<>();
            Result res;
            try {
                res = lu.pr.apply(change, ua);
            } catch (IOException e) {
                LOG.error("PERSISTENT RESERVE OUT from {} on LUN {} not done: saving the reservations failed: {}",
                        n.initiatorPort(), lu.lun, e.toString());
                throw (e instanceof OutOfSpaceException ? SenseReason.INSUFFICIENT_REGISTRATION_RESOURCES
                        : SenseReason.INTERNAL_TARGET_FAILURE).ex();
            }
            SenseReason reason = switch (sa) {
                case 3 -> SenseReason.RESERVATIONS_PREEMPTED;
                case 4, 5 -> SenseReason.REGISTRATIONS_PREEMPTED;
                default -> SenseReason.RESERVATIONS_RELEASED;
            };
            for (Registration other : ua) {
                for (Nexus known : lu.knownNexuses()) {
                    if (other.matches(known) && !known.equals(n)) {
                        lu.raiseFor(known, reason);
                    }
                }
            }
            return switch (res) {
                case GOOD -> Responses.goodOut(edtl);
                case CONFLICT -> Responses.conflict(edtl);
                case INVALID_RELEASE -> throw SenseReason.INVALID_RELEASE_OF_PERSISTENT_RESERVATION.ex();
                case INVALID_PARAMETER -> throw SenseException.param(8);
                case INVALID_TRANSPORT_ID -> throw SenseException.param(24);
                case INVALID_CDB -> throw SenseReason.INVALID_FIELD_IN_CDB.ex();
            };
        };
    }

    /**
     * The registrations a REGISTER with SPEC_I_PT = 1 asks for (SPC-4 §6.16.3, Table 178): bytes
     * 24-27 give the length of the TransportIDs that follow; each names an initiator port (01b) or
     * device (00b), registered through the same target port as the command, or through every
     * target port with ALL_TG_PT.
     */
    private static List<Registration> specifiedPorts(Request r, Nexus n, int len, long sark, boolean allTgPt) {
        if (len < 28) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        byte[] p = r.parameters(len);
        long tids = u32(p, 24);
        if (tids + 28 != len) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        List<Registration> out = new ArrayList<>();
        int at = 28;
        while (at < len) {
            TransportId t = parseTransportId(p, at, len);
            out.add(new Registration(t.name(), t.isid(), allTgPt ? null : n.targetPort(), n.relativeTargetPort(),
                    sark));
            at += t.length();
        }
        return out;
    }

    /**
     * REGISTER AND MOVE (SPC-4 §6.16.4, Table 179): key, service action key, UNREG and APTPL in
     * byte 17, the destination's relative target port in bytes 18-19, and one TransportID.
     */
    private static Change registerAndMove(Request r, LogicalUnit lu, Nexus n, int len, long key, long sark) {
        byte[] p = r.parameters(len);
        int flags = u8(p, 17);
        boolean unreg = (flags & 0x02) != 0;
        boolean aptpl = (flags & 0x01) != 0;
        int rtp = u16(p, 18);
        long tidLen = u32(p, 20);
        if (tidLen + 24 != len || tidLen < 24) {
            throw SenseException.param(20);
        }
        if (aptpl && !lu.pr.canPersist()) {
            throw SenseException.param(17);
        }
        if (rtp == 0) {
            throw SenseException.param(18);
        }
        TransportId t = parseTransportId(p, 24, len);
        String port = Nexus.iscsi(t.name(), 0, r.target.targetName(), rtp).targetPort();
        Registration dest = new Registration(t.name(), t.isid(), port, rtp, sark);
        return PersistentReservations.registerAndMove(n, key, sark, dest, unreg, aptpl);
    }
}
