package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.admin.AdminException;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.OrionConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's listeners follow the portals the target definitions name (an in-process server
 * with RAM LUNs): a portal two targets share stays bound until the last one removes it; a wildcard
 * listener that gives way is replaced by the specific portal another target still names; a portal
 * that cannot be bound refuses the change and leaves the definition as it was.
 */
class PortalSyncTest {

    private static final String A = "iqn.2026-11.io.orion:a";
    private static final String B = "iqn.2026-11.io.orion:b";
    private static final String C = "iqn.2026-11.io.orion:c";
    private static final String D = "iqn.2026-11.io.orion:d";

    private static void target(Path dir, String iqn, String portal) throws IOException {
        String name = iqn.substring(iqn.indexOf(':') + 1);
        Files.writeString(dir.resolve(name + ".toml"), "iqn = \"" + iqn + "\"\n\n[attributes]\ndemo_mode = true\n\n"
                + "[[portal_group]]\ntag = 1\nportals = [\"" + portal + "\"]\n\n"
                + "[[lun]]\nid = 0\nvolume = \"" + name + "-0\"\nsize = \"1MiB\"\nbacking = \"ram\"\n");
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void listenersFollowTheTargetsPortals(@TempDir Path dir) throws Exception {
        int shared = ServerProcess.freePort();
        int wild = ServerProcess.freePort();
        Path targets = Files.createDirectories(dir.resolve("targets"));
        target(targets, A, "127.0.0.1:" + shared);
        target(targets, B, "127.0.0.1:" + shared);
        target(targets, C, "0.0.0.0:" + wild);
        target(targets, D, "127.0.0.1:" + wild);
        Path conf = dir.resolve("dedup.toml");
        Files.writeString(conf, "[metrics]\nenabled = false\n");
        OrionConfig config = OrionConfig.load(conf);
        try (OrionServer server = OrionServer.start(config, conf, targets, dir.resolve("data"),
                List.of(new InetSocketAddress("127.0.0.1", 0)))) {
            AdminService admin = new AdminService(server);
            assertEquals(3, server.portals().size(), "server portal, the shared one, the wildcard one: " + server.portals());
            assertTrue(accepts(shared) && accepts(wild));

            admin.removePortal(A, 1, new HostPort("127.0.0.1", shared));
            assertTrue(accepts(shared), B + " still names it");
            admin.removePortal(B, 1, new HostPort("127.0.0.1", shared));
            assertFalse(accepts(shared), "no target names it: unbound");

            admin.removePortal(C, 1, new HostPort("0.0.0.0", wild));
            assertTrue(accepts(wild), D + " still names 127.0.0.1:" + wild);
            assertTrue(server.portals().contains(new InetSocketAddress("127.0.0.1", wild)), server.portals().toString());
            admin.deleteTarget(D, false);
            assertFalse(accepts(wild), "the last target naming it is gone");
            assertEquals(1, server.portals().size(), server.portals().toString());

            try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
                HostPort busy = new HostPort("127.0.0.1", taken.getLocalPort());
                AdminException e = assertThrows(AdminException.class, () -> admin.addPortal(A, 1, busy));
                assertTrue(e.getMessage().contains("cannot listen"), e.getMessage());
                assertFalse(Files.readString(targets.resolve("a.toml")).contains(":" + taken.getLocalPort()),
                        "a refused change is not saved");
            }
            admin.addPortal(A, 1, new HostPort("127.0.0.1", shared));
            assertTrue(accepts(shared), "bound again at once");
        }
    }
}
