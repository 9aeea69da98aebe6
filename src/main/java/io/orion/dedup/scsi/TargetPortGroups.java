package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u32;
import static io.orion.dedup.scsi.Cdb.u8;

import java.util.TreeSet;

/**
 * Asymmetric logical unit access (SPC-4 §5.15), implicit only: every iSCSI portal group of the
 * target is a target port group with one target port, whose relative target port identifier and
 * target port group are both the portal group tag. Every logical unit is reachable through every
 * group and all groups are active/optimized, so a host spreads its I/O over all paths; the logical
 * unit's state (data, reservations) is one, whichever path a command takes. SET TARGET PORT GROUPS
 * (explicit ALUA) is not offered.
 */
final class TargetPortGroups {

    /** The implicit transition time reported in the extended header: none ever happens. */
    static final int IMPLICIT_TRANSITION_SECONDS = 0;

    private TargetPortGroups() {
    }

    /** The groups of the target plus the one the command came through, ascending. */
    static int[] groups(Request r) {
        TreeSet<Integer> tags = new TreeSet<>();
        for (int t : r.target.targetPortGroups()) {
            tags.add(t);
        }
        Nexus n = r.nexus();
        if (n != null) {
            tags.add(n.relativeTargetPort());
        }
        return tags.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * REPORT TARGET PORT GROUPS (MAINTENANCE IN, service action 0Ah; SPC-4 §6.36): parameter data
     * format 000b (length only) or 001b (extended header with the implicit transition time).
     */
    static CommandSpec.Executor report(Request r) {
        int format = u8(r.cdb, 1) >>> 5;
        if (format > 1) {
            throw SenseException.cdb(1, 7);
        }
        long alloc = u32(r.cdb, 6);
        int[] groups = groups(r);
        int header = format == 1 ? 8 : 4;
        byte[] d = new byte[header + groups.length * 12];
        Cdb.put32(d, 0, d.length - 4);
        if (format == 1) {
            d[4] = 0x10; // FORMAT TYPE 001b
            d[5] = (byte) IMPLICIT_TRANSITION_SECONDS;
        }
        int at = header;
        for (int tag : groups) {
            d[at] = 0x00; // PREF 0 (no group is preferred over another), ASYMMETRIC ACCESS STATE 0h: active/optimized
            d[at + 1] = 0x01; // AO_SUP: the only state there is
            Cdb.put16(d, at + 2, tag); // TARGET PORT GROUP
            // STATUS CODE 00h: no state was ever altered
            d[at + 7] = 1; // TARGET PORT COUNT
            Cdb.put16(d, at + 10, tag); // RELATIVE TARGET PORT IDENTIFIER
            at += 12;
        }
        return () -> Responses.data(d, alloc);
    }
}
