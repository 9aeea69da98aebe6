package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ScsiHarness.bytes;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.RamBlockDevice;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Implicit ALUA (SPC-4 §5.15) over a target with two portal groups: each portal group is a target
 * port group whose one target port has the group's tag as relative target port identifier; the
 * device identification page names the port group of the path the command came through, REPORT
 * TARGET PORT GROUPS lists every group active/optimized, and the logical unit (its reservations
 * too) is one whatever the path.
 */
class TargetPortGroupsTest {

    static final String T = "iqn.2026-11.io.orion:t";
    /** Initiator a through portal group 1 and through portal group 2 (same ISID: two I_T nexuses). */
    static final Nexus A1 = Nexus.iscsi("iqn.2026-11.test:a", 0x23d000000001L, T, 1);
    static final Nexus A2 = Nexus.iscsi("iqn.2026-11.test:a", 0x23d000000001L, T, 2);
    /** Initiator b through portal group 2. */
    static final Nexus B2 = Nexus.iscsi("iqn.2026-11.test:b", 0x23d000000002L, T, 2);

    static final byte[] READ = cdb(0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0);
    static final byte[] WRITE = cdb(0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0);

    ScsiTargetService target;
    ScsiHarness h;

    @BeforeEach
    void setUp() {
        target = new ScsiTargetService(T, null);
        target.addLun(0, new RamBlockDevice(512, 1024), LunOptions.defaults());
        target.targetPortGroups(() -> new int[] {1, 2});
        h = new ScsiHarness(target);
        h.login(A1, 0);
        h.login(A2, 0);
        h.login(B2, 0);
    }

    @AfterEach
    void tearDown() {
        target.close();
    }

    /** A designator of the device identification page: association, type and identifier. */
    record Designator(int association, int type, byte[] id) {
        int u16() {
            return ((id[2] & 0xff) << 8) | (id[3] & 0xff);
        }
    }

    static List<Designator> identification(byte[] page) {
        assertEquals(0x83, page[1] & 0xff);
        int end = 4 + (((page[2] & 0xff) << 8) | (page[3] & 0xff));
        List<Designator> out = new ArrayList<>();
        for (int at = 4; at < end; ) {
            int len = page[at + 3] & 0xff;
            byte[] id = new byte[len];
            System.arraycopy(page, at + 4, id, 0, len);
            out.add(new Designator((page[at + 1] >> 4) & 3, page[at + 1] & 0x0f, id));
            at += 4 + len;
        }
        return out;
    }

    static Designator find(List<Designator> ds, int association, int type) {
        Designator d = ds.stream().filter(x -> x.association() == association && x.type() == type).findFirst()
                .orElse(null);
        assertNotNull(d, "no designator of association " + association + " type " + type);
        return d;
    }

    @Test
    void standardInquiryReportsImplicitAlua() {
        byte[] d = bytes(h.run(A1, cdb(0x12, 0, 0, 0, 96, 0)));
        assertEquals(0x10, d[5] & 0x30, "TPGS 01b: implicit ALUA only");
    }

    @Test
    void deviceIdentificationNamesThePortAndPortGroupOfThePath() {
        List<Designator> one = identification(bytes(h.run(A1, cdb(0x12, 1, 0x83, 0, 255, 0))));
        List<Designator> two = identification(bytes(h.run(A2, cdb(0x12, 1, 0x83, 0, 255, 0))));
        assertEquals(1, find(one, 1, 4).u16(), "relative target port through group 1");
        assertEquals(1, find(one, 1, 5).u16(), "target port group through group 1");
        assertEquals(2, find(two, 1, 4).u16(), "relative target port through group 2");
        assertEquals(2, find(two, 1, 5).u16(), "target port group through group 2");
        assertEquals(T + ",t,0x0002", new String(find(two, 1, 8).id(), StandardCharsets.UTF_8).replace("\0", ""));
        // the logical unit is the same on both paths: one NAA
        assertArrayEquals(find(one, 0, 3).id(), find(two, 0, 3).id());
    }

    static byte[] rtpg(int format, int alloc) {
        return cdb(0xa3, (format << 5) | 0x0a, 0, 0, 0, 0, alloc >>> 24, alloc >>> 16, alloc >>> 8, alloc, 0, 0);
    }

    @Test
    void reportTargetPortGroupsListsEveryGroupActiveOptimizedOnEveryPath() {
        for (Nexus n : List.of(A1, A2, B2)) {
            ByteBuffer d = ByteBuffer.wrap(bytes(h.run(n, rtpg(0, 4096))));
            assertEquals(2 * 12, d.getInt(0), "return data length: two descriptors of one port each");
            assertEquals(4 + 24, d.remaining());
            for (int g = 0; g < 2; g++) {
                int at = 4 + 12 * g;
                assertEquals(0, d.get(at) & 0x0f, "asymmetric access state active/optimized");
                assertEquals(0x01, d.get(at + 1) & 0xff, "AO_SUP only");
                assertEquals(g + 1, d.getShort(at + 2), "target port group");
                assertEquals(1, d.get(at + 7), "target port count");
                assertEquals(g + 1, d.getShort(at + 10), "relative target port identifier");
            }
        }
        // extended header: format type 001b, implicit transition time
        ByteBuffer x = ByteBuffer.wrap(bytes(h.run(A2, rtpg(1, 4096))));
        assertEquals(4 + 24, x.getInt(0));
        assertEquals(0x10, x.get(4) & 0x70);
        assertEquals(TargetPortGroups.IMPLICIT_TRANSITION_SECONDS, x.get(5) & 0xff);
        assertEquals(2, x.getShort(8 + 12 + 2));
        // truncated to the allocation length, the length field still tells the whole
        byte[] cut = bytes(h.run(A1, rtpg(0, 6)));
        assertEquals(6, cut.length);
        assertEquals(24, ByteBuffer.wrap(cut).getInt(0));
        // parameter data formats 010b..111b are reserved
        assertSense(h.run(A1, rtpg(2, 4096)), 0x5, 0x24, 0x00);
    }

    @Test
    void setTargetPortGroupsIsNotOfferedAndReportTargetPortGroupsIsListed() {
        // SET TARGET PORT GROUPS (MAINTENANCE OUT 0xA4 / 0x0A): explicit ALUA is not there. With no
        // MAINTENANCE OUT service action at all that is INVALID COMMAND OPERATION CODE; once another
        // MAINTENANCE OUT service action exists, the service-action table answers INVALID FIELD IN CDB.
        ScsiResponse stpg = h.write(A1, cdb(0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0), new byte[8]);
        assertEquals(ScsiResponse.CHECK_CONDITION, stpg.status());
        if (!target.table().hasServiceActions(0xa4)) {
            assertSense(stpg, 0x5, 0x20, 0x00);
        } else {
            assertSense(stpg, 0x5, 0x24, 0x00);
        }
        byte[] one = bytes(h.run(A1, cdb(0xa3, 0x0c, 0x02, 0xa3, 0, 0x0a, 0, 0, 1, 0, 0, 0)));
        assertEquals(3, one[1] & 7, "REPORT TARGET PORT GROUPS supported");
        assertEquals(12, ByteBuffer.wrap(one).getShort(2));
        assertEquals(0xa3, one[4] & 0xff);
        byte[] all = bytes(h.run(A1, cdb(0xa3, 0x0c, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0)));
        boolean listed = false;
        for (int at = 4; at + 8 <= all.length; at += 8) {
            listed |= (all[at] & 0xff) == 0xa3 && ByteBuffer.wrap(all).getShort(at + 2) == 0x0a;
        }
        assertTrue(listed, "REPORT SUPPORTED OPERATION CODES lists A3h/0Ah");
    }

    ScsiResponse prOut(Nexus n, int sa, int type, long key, long sark) {
        ByteBuffer p = ByteBuffer.allocate(24).putLong(key).putLong(sark);
        return h.run(n, 0, cdb(0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0), p.array(), 24);
    }

    int status(Nexus n, byte[] c) {
        return c[0] == 0x2a ? h.write(n, c, new byte[512]).status() : h.run(n, c).status();
    }

    /**
     * A persistent reservation held through portal group 1 binds the logical unit on portal group 2
     * as well: another initiator there gets RESERVATION CONFLICT, and the holder's own second path
     * is another I_T nexus, which (without ALL_TG_PT) is neither registered nor the holder.
     */
    @Test
    void reservationHeldThroughOnePathIsHonouredOnTheOther() {
        assertGood(prOut(A1, 0, 0, 0, 0xa1)); // REGISTER through group 1
        assertGood(prOut(A1, 1, 1, 0xa1, 0)); // RESERVE, WRITE EXCLUSIVE
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, status(B2, WRITE), "other initiator, other path: write");
        assertEquals(ScsiResponse.GOOD, status(B2, READ), "write exclusive lets others read");
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, status(A2, WRITE), "the holder's other path is not the holder");
        assertEquals(ScsiResponse.GOOD, status(A1, WRITE));
        // READ RESERVATION through group 2 sees the reservation made through group 1
        ByteBuffer rr = ByteBuffer.wrap(bytes(h.run(B2, cdb(0x5e, 1, 0, 0, 0, 0, 0, 0, 64, 0))));
        assertEquals(16, rr.getInt(4));
        assertEquals(0xa1, rr.getLong(8));
        assertEquals(1, rr.get(21) & 0x0f);

        // WRITE EXCLUSIVE - REGISTRANTS ONLY: a path registered on its own may write, unregistered not
        assertGood(prOut(A1, 2, 1, 0xa1, 0)); // RELEASE
        assertGood(prOut(A1, 1, 5, 0xa1, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, status(A2, WRITE));
        assertGood(prOut(A2, 0, 0, 0, 0xa2)); // the second path registers itself
        assertEquals(ScsiResponse.GOOD, status(A2, WRITE));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, status(B2, WRITE));

        // EXCLUSIVE ACCESS: only the holder's I_T nexus may even read
        assertGood(prOut(A1, 2, 5, 0xa1, 0));
        // releasing a registrants-only reservation tells the other registrants, here A's second path
        assertSense(h.run(A2, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x04);
        assertGood(prOut(A1, 1, 3, 0xa1, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, status(B2, READ));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, status(A2, READ));
        assertEquals(ScsiResponse.GOOD, status(A1, READ));
        // REPORT TARGET PORT GROUPS is allowed under a reservation (SPC-4 Table 43)
        assertGood(h.run(B2, rtpg(0, 4096)));
    }
}
