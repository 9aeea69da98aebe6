package io.orion.dedup.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetDirectory;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TargetEditorTest {

    private static final String A = "iqn.2026-11.io.orion:a";
    private static final String B = "iqn.2026-11.io.orion:b";

    @TempDir
    Path dir;

    private String refusal(Executable e) {
        return assertThrows(AdminException.class, e::run).getMessage();
    }

    interface Executable {
        void run() throws Exception;
    }

    @Test
    void refusesWhatWouldBreakTheDefinitions() throws Exception {
        TargetEditor ed = new TargetEditor(TargetDirectory.load(dir));
        ed.createTarget(A, null, false);
        ed.createTarget(B, null, true);
        assertEquals("target " + A + " already exists", refusal(() -> ed.createTarget(A.toUpperCase(), null, false)));
        assertTrue(refusal(() -> ed.createTarget("not-a-name", null, false)).startsWith("not-a-name: not an iSCSI name"));

        ed.addLun(A, LunDefinition.dedup(0, "vol", 1L << 30, 512));
        assertEquals("LUN 0 already exists in " + A, refusal(() -> ed.addLun(A, LunDefinition.dedup(0, "x", 1L << 30, 512))));
        assertEquals("volume vol is already LUN 0 of " + A, refusal(() -> ed.addLun(B, LunDefinition.dedup(0, "vol", 1L << 30, 512))));
        assertEquals("lun[0].size: must be a multiple of the block size 4096",
                refusal(() -> ed.addLun(B, LunDefinition.dedup(0, "odd", 1000 * 4096 + 512, 4096))));
        assertTrue(refusal(() -> ed.resizeLun(A, 0, 1L << 20)).contains("shrinking"));
        assertEquals(2L << 30, ed.resizeLun(A, 0, 2L << 30).lun(0).orElseThrow().size());
        assertEquals("no LUN 7 in " + A, refusal(() -> ed.removeLun(A, 7)));

        assertTrue(refusal(() -> ed.removePortal(A, 1, new HostPort("1.2.3.4", 3260))).contains("server's portals"));
        ed.addPortal(A, 1, new HostPort("127.0.0.1", 13381));
        assertTrue(refusal(() -> ed.addPortal(A, 1, new HostPort("127.0.0.1", 13381))).contains("already"));

        ed.addAcl(A, new AclDefinition("IQN.1994-05.com.redhat:H1", List.of(), false, null));
        ed.setChap(A, ChapScope.ACL, "iqn.1994-05.com.redhat:h1", ChapCredentials.oneWay("h1", "h1-secret-0001"));
        ed.addAcl(A, new AclDefinition("iqn.1994-05.com.redhat:h1", List.of(0), true, null));
        AclDefinition acl = ed.get(A).acl("iqn.1994-05.com.redhat:h1").orElseThrow();
        assertEquals("h1-secret-0001", acl.chap().secret(), "re-adding an ACL keeps its CHAP");
        assertEquals(List.of(0), acl.mappedLuns());
        assertEquals("chap.secret: a CHAP secret must be 12 to 255 characters (has 5)",
                refusal(() -> ed.setChap(A, ChapScope.TARGET, null, ChapCredentials.oneWay("u", "short"))));
        assertEquals("no ACL for iqn.x:y in " + A, refusal(() -> ed.setChap(A, ChapScope.ACL, "iqn.x:y", null)));

        // Everything that was accepted is on disk, and only that.
        TargetDirectory reloaded = TargetDirectory.load(dir);
        assertEquals(ed.get(A), reloaded.find(A).orElseThrow());
        assertEquals(ed.get(B), reloaded.find(B).orElseThrow());
        assertEquals(A, ed.deleteTarget(A).iqn());
        assertEquals(1, TargetDirectory.load(dir).targets().size());
    }
}
