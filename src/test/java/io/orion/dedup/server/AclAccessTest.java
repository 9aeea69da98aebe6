package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.scsi.LunOptions;
import io.orion.dedup.scsi.Nexus;
import io.orion.dedup.scsi.ScsiCommand;
import io.orion.dedup.scsi.ScsiResponse;
import io.orion.dedup.scsi.ScsiTargetService;
import io.orion.dedup.scsi.TaskAttribute;
import io.orion.dedup.blockdev.RamBlockDevice;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What an initiator sees through its node ACL, end to end: {@link LiveTarget} fills the SCSI core's
 * access table from the ACLs, and the core shows mapped LUNs only, and refuses writes when the ACL is
 * write-protected.
 */
class AclAccessTest {

    private static final String TARGET = "iqn.2026-11.io.orion:t";
    private static final Nexus MASKED = Nexus.iscsi("iqn.2026-11.test:masked", 1, TARGET, 1);
    private static final Nexus OPEN = Nexus.iscsi("iqn.2026-11.test:open", 2, TARGET, 1);

    private ScsiTargetService scsi;
    private LiveTarget live;

    @BeforeEach
    void setUp() {
        scsi = new ScsiTargetService(TARGET, null);
        scsi.addLun(0, new RamBlockDevice(512, 2048), LunOptions.defaults());
        scsi.addLun(1, new RamBlockDevice(512, 2048), LunOptions.defaults());
        scsi.addLun(300, new RamBlockDevice(512, 2048), LunOptions.defaults());
        live = new LiveTarget(target(new AclDefinition("iqn.2026-11.test:masked", List.of(1), false, null)), scsi);
    }

    @AfterEach
    void tearDown() {
        scsi.close();
    }

    private void define(AclDefinition acl) {
        live.definition(target(acl));
    }

    private static TargetDefinition target(AclDefinition acl) {
        return (new TargetDefinition(TARGET, null, List.of(), List.of(
                LunDefinition.dedup(0, "v0", 1 << 20, 512), LunDefinition.dedup(1, "v1", 1 << 20, 512),
                LunDefinition.dedup(300, "v300", 1 << 20, 512)),
                List.of(acl), null, null, new TargetAttributes(false, true, 0)));
    }

    private ScsiResponse run(Nexus n, long lun, byte[] cdb, byte[] out) {
        ScsiCommand c = new ScsiCommand(n, lun, cdb, TaskAttribute.SIMPLE, out == null ? 4096 : out.length,
                out == null, out != null, out == null ? null : ByteBuffer.wrap(out), 1);
        ScsiResponse r = scsi.execute(c).join();
        return r.detached();
    }

    private static List<Integer> reportedLuns(ScsiResponse r) {
        assertEquals(ScsiResponse.GOOD, r.status());
        ByteBuffer b = r.dataIn().duplicate();
        int n = b.getInt(b.position()) / 8;
        List<Integer> luns = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int off = b.position() + 8 + 8 * i;
            luns.add(((b.get(off) & 0x3f) << 8) | (b.get(off + 1) & 0xff));
        }
        return luns;
    }

    private static byte[] reportLuns() {
        return new byte[] {(byte) 0xA0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0};
    }

    @Test
    void reportLunsListsOnlyTheMappedLuns() {
        assertEquals(List.of(1), reportedLuns(run(MASKED, 0, reportLuns(), null)));
        assertEquals(List.of(0, 1, 300), reportedLuns(run(OPEN, 0, reportLuns(), null)));
        define(new AclDefinition("iqn.2026-11.test:masked", List.of(300, 0), false, null));
        assertEquals(List.of(0, 300), reportedLuns(run(MASKED, 0, reportLuns(), null)), "ACL changes apply at once");
    }

    @Test
    void aHiddenLunLooksAbsent() {
        byte[] inquiry = {0x12, 0, 0, 0, (byte) 96, 0};
        ScsiResponse hidden = run(MASKED, 0, inquiry, null);
        assertEquals(ScsiResponse.GOOD, hidden.status());
        assertEquals(0x7f, hidden.dataIn().get(hidden.dataIn().position()) & 0xff, "peripheral qualifier 011b");
        ScsiResponse visible = run(MASKED, 1, inquiry, null);
        assertEquals(0x00, visible.dataIn().get(visible.dataIn().position()) & 0xff);
        byte[] tur = {0, 0, 0, 0, 0, 0};
        ScsiResponse r = run(MASKED, 0, tur, null);
        assertEquals(ScsiResponse.CHECK_CONDITION, r.status());
        assertEquals(0x05, r.sense()[2] & 0x0f);
        assertEquals(0x25, r.sense()[12] & 0xff, "LOGICAL UNIT NOT SUPPORTED");
        assertFalse(scsi.hasLun(MASKED, 0));
        assertTrue(scsi.hasLun(MASKED, 1));
        assertTrue(scsi.hasLun(OPEN, 0));
    }

    @Test
    void writeProtectedAclGetsDataProtectAndSeesWp() {
        define(new AclDefinition("iqn.2026-11.test:masked", List.of(), true, null));
        byte[] write10 = {0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0};
        ScsiResponse r = run(MASKED, 0, write10, new byte[512]);
        assertEquals(ScsiResponse.CHECK_CONDITION, r.status());
        assertEquals(0x07, r.sense()[2] & 0x0f, "DATA PROTECT");
        assertEquals(0x27, r.sense()[12] & 0xff, "WRITE PROTECTED");
        assertEquals(512, r.dataOutLength());
        byte[] modeSense6 = {0x1A, 0x08, 0x3f, 0, (byte) 192, 0};
        ScsiResponse m = run(MASKED, 0, modeSense6, null);
        if (m.status() == ScsiResponse.CHECK_CONDITION) {        // the first command reports POWER ON
            m = run(MASKED, 0, modeSense6, null);
        }
        assertEquals(ScsiResponse.GOOD, m.status());
        assertEquals(0x80, m.dataIn().get(m.dataIn().position() + 2) & 0x80, "WP bit");
        ScsiResponse other = run(OPEN, 0, modeSense6, null);
        if (other.status() == ScsiResponse.CHECK_CONDITION) {
            other = run(OPEN, 0, modeSense6, null);
        }
        assertEquals(0, other.dataIn().get(other.dataIn().position() + 2) & 0x80, "others may write");
    }

    private static byte[] tur() {
        return new byte[6];
    }

    @Test
    void aLunChangeIsReportedOnlyToTheInitiatorsThatSeeIt() {
        assertTrue(scsi.access().sees(MASKED, 1));
        assertFalse(scsi.access().sees(MASKED, 0));
        assertTrue(scsi.access().sees(OPEN, 0), "no ACL: demo mode sees every LUN");
        for (Nexus n : List.of(MASKED, OPEN)) {
            long lun = n == MASKED ? 1 : 0;
            assertEquals(ScsiResponse.CHECK_CONDITION, run(n, lun, tur(), null).status(), "power-on UA");
            assertEquals(ScsiResponse.GOOD, run(n, lun, tur(), null).status());
        }
        scsi.addLun(5, new RamBlockDevice(512, 2048), LunOptions.defaults());
        assertEquals(ScsiResponse.GOOD, run(MASKED, 1, tur(), null).status(), "LUN 5 is not mapped for MASKED");
        ScsiResponse open = run(OPEN, 0, tur(), null);
        assertEquals(ScsiResponse.CHECK_CONDITION, open.status());
        assertEquals(0x3f, open.sense()[12] & 0xff, "REPORTED LUNS DATA HAS CHANGED");
        assertEquals(0x0e, open.sense()[13] & 0xff);
    }

    @Test
    void theInitiatorsWhoseMappedLunsChangedAreTheOnesToRescan() {
        TargetDefinition before = live.definition();
        assertEquals(java.util.Set.of(), AdminService.viewChanged(before, before));
        TargetDefinition remapped = before.withAcl(new AclDefinition("iqn.2026-11.test:masked", List.of(1, 300), false,
                null));
        assertEquals(java.util.Set.of("iqn.2026-11.test:masked"), AdminService.viewChanged(before, remapped));
        TargetDefinition reordered = remapped.withAcl(new AclDefinition("iqn.2026-11.test:masked", List.of(300, 1),
                true, null));
        assertEquals(java.util.Set.of(), AdminService.viewChanged(remapped, reordered),
                "same LUNs in another order, write protection aside: the inventory is the same");
        TargetDefinition added = before.withAcl(new AclDefinition("iqn.2026-11.test:open", List.of(0), false, null));
        assertEquals(java.util.Set.of("iqn.2026-11.test:open"), AdminService.viewChanged(before, added));
    }
}
