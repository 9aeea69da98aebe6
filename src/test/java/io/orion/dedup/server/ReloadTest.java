package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.admin.AdminException;
import io.orion.dedup.admin.ReloadResult;
import io.orion.dedup.admin.TargetSummary;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.iscsi.RawScsiSession;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code reload} (systemctl reload): the target files are read again and applied to the running server
 * while an initiator stays logged in; its session sees the new LUN on the next REPORT LUNS.
 */
class ReloadTest {

    private static final String A = "iqn.2026-11.io.orion:a";
    private static final String B = "iqn.2026-11.io.orion:b";
    private static final String HOST = "iqn.1994-05.com.redhat:reload";

    private static void target(Path dir, String iqn, int luns) throws IOException {
        String name = iqn.substring(iqn.indexOf(':') + 1);
        StringBuilder s = new StringBuilder("iqn = \"" + iqn + "\"\n\n[attributes]\ndemo_mode = true\n");
        for (int i = 0; i < luns; i++) {
            s.append("\n[[lun]]\nid = ").append(i).append("\nvolume = \"").append(name).append('-').append(i)
                    .append("\"\nsize = \"1MiB\"\nbacking = \"ram\"\n");
        }
        Files.writeString(dir.resolve(name + ".toml"), s);
    }

    private static List<Integer> reportLuns(RawScsiSession s) throws IOException {
        RawScsiSession.Result r = s.run(0, new byte[] {(byte) 0xA0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0}, null, 4096);
        assertEquals(0, r.status(), r.sense());
        ByteBuffer b = ByteBuffer.wrap(r.data());
        List<Integer> luns = new ArrayList<>();
        for (int i = 0; i < b.getInt(0) / 8; i++) {
            luns.add(((b.get(8 + 8 * i) & 0x3f) << 8) | (b.get(9 + 8 * i) & 0xff));
        }
        return luns;
    }

    @Test
    void reloadAppliesChangedFilesAndKeepsSessions(@TempDir Path dir) throws Exception {
        Path targets = Files.createDirectories(dir.resolve("targets"));
        target(targets, A, 1);
        Path conf = dir.resolve("dedup.toml");
        Files.writeString(conf, "[metrics]\nenabled = false\n");
        try (OrionServer server = OrionServer.start(OrionConfig.load(conf), conf, targets, dir.resolve("data"),
                List.of(new InetSocketAddress("127.0.0.1", 0)));
                RawScsiSession s = RawScsiSession.login(server.portals().get(0), HOST, A, 0x400001370001L)) {
            AdminService admin = new AdminService(server);
            assertEquals(List.of(0), reportLuns(s));

            target(targets, A, 2);   // a LUN added by hand
            target(targets, B, 1);   // a new target
            ReloadResult r = admin.reload();
            assertEquals(List.of(B), r.added());
            assertEquals(List.of(A), r.changed());
            assertEquals(List.of(), r.removed());
            assertEquals(1, server.iscsi().sessions().size(), "the session stays");
            s.clearAttentions(0); // REPORTED LUNS DATA HAS CHANGED
            assertEquals(List.of(0, 1), reportLuns(s), "the logged-in session sees the new LUN");
            assertEquals(List.of(A, B), admin.listTargets().stream().map(TargetSummary::iqn).toList());

            ReloadResult same = admin.reload();
            assertEquals(2, same.unchanged());
            assertTrue(same.added().isEmpty() && same.changed().isEmpty() && same.removed().isEmpty());

            Files.writeString(targets.resolve("a.toml"), "iqn = \"" + A + "\"\n[[lun]]\nid = 0\nsize = \"many\"\n");
            Files.delete(targets.resolve("b.toml"));
            AdminException e = assertThrows(AdminException.class, admin::reload);
            assertTrue(e.getMessage().startsWith("nothing reloaded: ") && e.getMessage().contains("a.toml"), e.getMessage());
            assertEquals(List.of(A, B), admin.listTargets().stream().map(TargetSummary::iqn).toList(),
                    "a file with an error changes nothing");

            target(targets, A, 2);
            assertEquals(List.of(B), admin.reload().removed());
            assertEquals(List.of(A), admin.listTargets().stream().map(TargetSummary::iqn).toList());
            assertEquals(List.of(0, 1), reportLuns(s), "still logged in");
        }
    }
}
