package io.orion.dedup.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.ControlSettings;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.config.TargetFiles;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlServerTest {

    private static final String IQN = "iqn.2026-11.io.orion:test";

    @TempDir
    Path dir;

    private FakeAdminApi api;
    private ControlServer server;
    private Path socket;

    @BeforeEach
    void start() throws Exception {
        api = new FakeAdminApi(dir.resolve("targets"));
        socket = dir.resolve("data").resolve("control.sock");
        server = ControlServer.start(api, socket, ControlSettings.permissions(0660));
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    @Test
    void socketHasMode0660AndIsRemovedOnClose() throws Exception {
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
        server.close();
        assertFalse(Files.exists(socket));
        IOException e = assertThrows(IOException.class, () -> AdminClient.connect(socket));
        assertEquals("server not running: no control socket at " + socket, e.getMessage());
    }

    @Test
    void targetsAndLunsRoundTripAndPersist() throws Exception {
        try (AdminClient c = AdminClient.connect(socket)) {
            TargetDefinition created = c.createTarget(IQN, "Test target", false);
            assertEquals(IQN, created.iqn());
            assertEquals("Test target", created.alias());
            LunInfo lun = c.createLun(IQN, LunDefinition.dedup(1, "test-1", 1L << 30, 4096));
            assertEquals(new LunInfo(IQN, 1, "test-1", 1L << 30, 4096, 4096, false, true, "dedup", 0), lun);
            assertEquals(2L << 30, c.resizeLun(IQN, 1, 2L << 30).sizeBytes());
            assertEquals(List.of(lun.volume()), c.listLuns(null).stream().map(LunInfo::volume).toList());
            c.addPortal(IQN, 2, new HostPort("127.0.0.1", 13380));
            assertEquals(List.of(new HostPort("127.0.0.1", 13380)), c.showTarget(IQN).portalGroup(2).orElseThrow().portals());
            assertEquals(1, c.listTargets().size());
        }
        TargetDefinition onDisk = TargetFiles.read(dir.resolve("targets").resolve("test.toml"));
        assertEquals(2L << 30, onDisk.lun(1).orElseThrow().size());
    }

    @Test
    void refusalsArriveAsAdminExceptionsWithTheReason() throws Exception {
        try (AdminClient c = AdminClient.connect(socket)) {
            AdminException e = assertThrows(AdminException.class, () -> c.showTarget("iqn.2026-11.io.orion:nope"));
            assertEquals("no such target: iqn.2026-11.io.orion:nope", e.getMessage());
            c.createTarget(IQN, null, true);
            c.createLun(IQN, LunDefinition.dedup(0, "t-0", 1L << 20, 512));
            api.busyLuns.add(IQN + "/0");
            AdminException busy = assertThrows(AdminException.class, () -> c.deleteLun(IQN, 0, false));
            assertTrue(busy.getMessage().contains("--force"));
            c.deleteLun(IQN, 0, true);
            assertEquals(List.of(), c.listLuns(IQN));
            // The connection stays usable after errors.
            assertEquals(1, c.listTargets().size());
        }
    }

    @Test
    void secretsNeverLeaveTheServer() throws Exception {
        try (AdminClient c = AdminClient.connect(socket)) {
            c.createTarget(IQN, null, false);
            c.addAcl(IQN, new AclDefinition("iqn.1994-05.com.redhat:c1", List.of(), false, null));
            c.setChap(IQN, ChapScope.ACL, "iqn.1994-05.com.redhat:c1",
                    new ChapCredentials("c1", "acl-secret-0001", "tgt", "mutual-secret-1"));
            c.setChap(IQN, ChapScope.TARGET, null, ChapCredentials.oneWay("all", "target-secret-1"));
            // The secret reached the server's definition file ...
            assertTrue(Files.readString(dir.resolve("targets/test.toml")).contains("acl-secret-0001"));
            // ... but every answer carries it masked.
            String raw = c.call(AdminProtocol.TARGET_SHOW, Map.of("iqn", IQN)).toString()
                    + c.call(AdminProtocol.ACL_LIST, Map.of("iqn", IQN)).toString();
            for (String s : List.of("acl-secret-0001", "mutual-secret-1", "target-secret-1")) {
                assertFalse(raw.contains(s), raw);
            }
            AclDefinition acl = c.listAcls(IQN).get(0);
            assertEquals(ChapCredentials.MASK, acl.chap().secret());
            assertEquals("c1", acl.chap().user());
            c.clearChap(IQN, ChapScope.ACL, "iqn.1994-05.com.redhat:c1");
            assertEquals(null, c.listAcls(IQN).get(0).chap());
        }
    }

    @Test
    void managementCommandsAndStats() throws Exception {
        try (AdminClient c = AdminClient.connect(socket)) {
            for (ManagementCommand m : ManagementCommand.values()) {
                // Compare as JSON text: integers may come back as Integer where the server had Long.
                assertEquals(AdminJson.mapper().writeValueAsString(api.management(m)),
                        AdminJson.mapper().writeValueAsString(c.management(m)), m.command());
            }
            assertEquals(2, api.cacheFlushes); // once by the fake call above, once over the socket
            StatsReport s = c.stats(true);
            assertEquals(api.stats(true).volumes(), s.volumes());
            assertEquals(api.stats(true).pool(), s.pool());
            assertEquals(AdminJson.mapper().writeValueAsString(api.stats(true).counters()),
                    AdminJson.mapper().writeValueAsString(s.counters()));
            assertEquals(75.0, s.volumes().get(0).savingPercent(), 1e-9);
            assertTrue(c.stats(false).counters().isEmpty());
            assertEquals(api.status(), c.status());
        }
    }

    @Test
    void badRequestsGetErrorsNotCrashes() throws Exception {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            assertEquals("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"unknown method: nope\"},\"id\":1}",
                    exchange(ch, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}"));
            assertEquals("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"missing parameter: iqn\","
                    + "\"data\":{\"param\":\"iqn\"}},\"id\":2}",
                    exchange(ch, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"target.show\",\"params\":{}}"));
            assertEquals("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"parse error: request is not JSON\"},"
                    + "\"id\":null}", exchange(ch, "hello"));
            // a line that is not JSON ends at its newline, so the connection goes on
            assertTrue(exchange(ch, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"status\"}").contains("\"result\""));
        }
        try (AdminClient c = AdminClient.connect(socket)) {
            assertNotNull(c.status());
        }
    }

    @Test
    void staleSocketIsReplacedButALiveOneIsNot() throws Exception {
        IOException e = assertThrows(IOException.class,
                () -> ControlServer.start(api, socket, ControlSettings.permissions(0660)));
        assertTrue(e.getMessage().contains("already listening"));
        Path stale = dir.resolve("stale.sock");
        Files.createFile(stale);
        try (ControlServer s2 = ControlServer.start(api, stale, ControlSettings.permissions(0600));
                AdminClient c = AdminClient.connect(stale)) {
            assertEquals(0, c.listTargets().size());
            assertEquals(stale, s2.socket());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(stale)));
        }
    }

    @Test
    void clientsAreServedConcurrently() throws Exception {
        try (AdminClient a = AdminClient.connect(socket); AdminClient b = AdminClient.connect(socket)) {
            a.createTarget(IQN, null, true);
            assertEquals(1, b.listTargets().size());
            assertEquals(1, a.listTargets().size());
        }
    }

    private static String exchange(SocketChannel ch, String line) throws IOException {
        ch.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
        StringBuilder sb = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            if (ch.read(one) < 0) {
                return sb.toString();
            }
            char c = (char) one.get(0);
            if (c == '\n') {
                return sb.toString();
            }
            sb.append(c);
        }
    }
}
