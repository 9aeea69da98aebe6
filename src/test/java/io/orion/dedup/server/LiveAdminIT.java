package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live administration with real initiators holding sessions, through the real CLI against the
 * real server (the LIO behaviour each step follows is in brackets):
 * <ul>
 *   <li>{@code portal add} makes the server listen on the new portal at once; {@code portal
 *       remove} closes the listener once no target names the portal any more (a portal shared by
 *       two targets stays bound while one uses it) — connecting is then refused — while a session
 *       that logged in through it keeps working [LIO keeps established connections]; a target
 *       with portals of its own refuses logins through the server's other portals (0x0203)
 *       [LIO reaches a target only through its TPG's network portals];</li>
 *   <li>{@code lun delete} of a LUN in use is refused (exit 1) unless {@code --force}; forced, the
 *       LUN is gone for the session using it (its reads fail: LOGICAL UNIT NOT SUPPORTED) while the
 *       session and the other LUN keep working [LIO: the LUN leaves, sessions stay];</li>
 *   <li>{@code target delete} with a session is refused unless {@code --force}; forced, the
 *       target's sessions are dropped [LIO releases the TPG's sessions];</li>
 *   <li>{@code acl remove} of a logged-in initiator drops its session [LIO shuts down the
 *       sessions of a removed node ACL], and it cannot log in again;</li>
 *   <li>a target's own {@code queue_depth} (from its file, or set live with {@code target set
 *       --queue-depth}) is the CmdSN window its new sessions get in the Login Response
 *       (MaxCmdSN - ExpCmdSN + 1, RFC 7143 §3.2.2.1) [LIO's default_cmdsn_depth].</li>
 * </ul>
 */
class LiveAdminIT {

    private static final String IQN = ServerProcess.DEFAULT_IQN;
    private static final String SECOND = "iqn.2026-11.io.orion:second";
    private static final Duration QEMU_IO = Duration.ofSeconds(60);

    private static ServerProcess start(Path dir) throws Exception {
        return ServerProcess.start(dir.resolve("data"), ServerProcess.copyTargets(dir), AdminTools.config(dir, 0),
                ServerProcess.freePort());
    }

    private static void assertRefused(int port) {
        assertThrows(ConnectException.class, () -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            }
        }, "connecting to port " + port + " must be refused");
    }

    private static void assertAccepts(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        }
    }

    /** The targets of the sessions {@code status --json} lists. */
    private static List<String> sessionTargets(ServerProcess server) throws Exception {
        JsonNode status = AdminTools.json(cli(server, "status", "--json").assertOk());
        List<String> out = new ArrayList<>();
        for (JsonNode s : status.get("sessions")) {
            out.add(s.get("target").asText());
        }
        return out;
    }

    private static String ls(String portal) throws Exception {
        return ExternalTool.run(LIMIT, "iscsi-ls", "-s", "iscsi://" + portal).assertOk().output();
    }

    /**
     * Logs in to {@code target} with one Login Request straight into the operational stage and
     * returns the CmdSN window of the Login Response, MaxCmdSN - ExpCmdSN + 1 (RFC 7143 §11.13).
     */
    private static int loginWindow(int port, String target) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10000);
            byte[] keys = ("InitiatorName=iqn.2026-11.io.orion:depth-probe\0TargetName=" + target
                    + "\0SessionType=Normal\0HeaderDigest=None\0DataDigest=None\0").getBytes(StandardCharsets.UTF_8);
            ByteBuffer b = ByteBuffer.allocate(48 + (keys.length + 3) / 4 * 4);
            b.put((byte) 0x43).put((byte) 0x87).put((byte) 0).put((byte) 0);
            b.putInt(keys.length); // TotalAHSLength 0, DataSegmentLength
            b.putShort((short) 0x0023).putInt(0x0d000001).putShort((short) 0); // ISID, TSIH 0
            b.putInt(1).putShort((short) 0).putShort((short) 0).putInt(1).putInt(0); // ITT, CID, CmdSN, ExpStatSN
            b.position(48);
            b.put(keys);
            s.getOutputStream().write(b.array());
            DataInputStream in = new DataInputStream(s.getInputStream());
            byte[] bhs = new byte[48];
            in.readFully(bhs);
            ByteBuffer r = ByteBuffer.wrap(bhs);
            assertEquals(0x23, bhs[0] & 0x3f, "a Login Response");
            assertEquals(0, r.getShort(36), "login status");
            return r.getInt(32) - r.getInt(28) + 1;
        }
    }

    @Test
    void aTargetsOwnQueueDepthIsTheWindowOfItsSessions(@TempDir Path dir) throws Exception {
        Path targets = ServerProcess.copyTargets(dir);
        Path file = targets.resolve("default.toml");
        Files.writeString(file, Files.readString(file).replace("queue_depth = 0\n", "queue_depth = 64\n"));
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), targets, AdminTools.config(dir, 0),
                ServerProcess.freePort())) {
            assertEquals(64, loginWindow(server.port(), IQN), "the depth of targets/default.toml");
            cli(server, "target", "create", SECOND, "--demo-mode").assertOk();
            cli(server, "lun", "create", SECOND, "--lun", "0", "--size", "16MiB").assertOk();
            assertEquals(128, loginWindow(server.port(), SECOND), "queue_depth 0: [server] queue_depth of conf/dedup.toml");

            cli(server, "target", "set", SECOND, "--queue-depth", "16").assertOk();
            assertEquals(16, loginWindow(server.port(), SECOND), "set live: the next session gets it");
            JsonNode shown = AdminTools.json(cli(server, "target", "show", SECOND, "--json").assertOk());
            assertEquals(16, shown.get("attributes").get("queue_depth").asInt(), shown.toString());
            ExternalTool.Result tooDeep = cli(server, "target", "set", SECOND, "--queue-depth", "2000");
            assertEquals(2, tooDeep.exitCode(), "a value out of range is bad input: " + tooDeep.output());
            assertTrue(tooDeep.output().contains("--queue-depth: out of range"), tooDeep.output());

            ExternalTool.run(LIMIT, "qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", "-c", "read -P 0x5a 0 1M",
                    server.url(SECOND, 0)).assertOk();
            assertEquals(0, server.stop(Duration.ofSeconds(60)), server.output());
        }
        assertTrue(Files.readString(targets.resolve("default.toml")).contains("queue_depth = 64"));
    }

    @Test
    void portalsAreBoundAtOnceAndUnboundWhenNoTargetUsesThem(@TempDir Path dir) throws Exception {
        int extra = ServerProcess.freePort();
        String portal = "127.0.0.1:" + extra;
        try (ServerProcess server = start(dir)) {
            assertRefused(extra);
            cli(server, "portal", "add", IQN, portal).assertOk();
            String viaExtra = ls(portal);
            assertTrue(viaExtra.contains("Target:" + IQN) && viaExtra.contains("Lun:0"), viaExtra);
            // the target now has a portal of its own: it does not exist at the server's other portals
            ExternalTool.Result elsewhere = ExternalTool.run(LIMIT, "iscsi-inq",
                    "iscsi://127.0.0.1:" + server.port() + "/" + IQN + "/0");
            assertNotEquals(0, elsewhere.exitCode(), elsewhere.output());
            assertTrue(server.output().contains("failed with status 0x0203: target " + IQN
                    + " is not reachable through portal"), server.output());

            cli(server, "target", "create", SECOND, "--demo-mode").assertOk();
            cli(server, "lun", "create", SECOND, "--lun", "0", "--size", "16MiB").assertOk();
            cli(server, "portal", "add", SECOND, portal).assertOk();

            try (AdminTools.HeldSession held = new AdminTools.HeldSession("iscsi://" + portal + "/" + IQN + "/0")) {
                cli(server, "portal", "remove", IQN, portal).assertOk();
                String shared = ls(portal);
                assertTrue(shared.contains("Target:" + SECOND), "still bound: " + SECOND + " uses it\n" + shared);

                cli(server, "portal", "remove", SECOND, portal).assertOk();
                assertRefused(extra);
                ExternalTool.Result gone = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "iscsi://" + portal);
                assertNotEquals(0, gone.exitCode(), gone.output());

                String read = held.run("read 0 4k", QEMU_IO);
                assertTrue(read.contains("read 4096/4096 bytes"),
                        "a session logged in through the removed portal keeps working: " + read);
                assertTrue(sessionTargets(server).contains(IQN));
            }
            String viaServer = ls("127.0.0.1:" + server.port());
            assertTrue(viaServer.contains("Target:" + IQN) && viaServer.contains("Target:" + SECOND), viaServer);
            JsonNode status = AdminTools.json(cli(server, "status", "--json").assertOk());
            assertFalse(status.get("portals").toString().contains(":" + extra), status.toString());
            assertFalse(Files.readString(server.data().resolveSibling("targets").resolve("default.toml"))
                    .contains(portal), "the removal was saved");
        }
    }

    @Test
    void forcedLunAndTargetDeletesTakeTheLunsAndSessionsAway(@TempDir Path dir) throws Exception {
        try (ServerProcess server = start(dir)) {
            cli(server, "lun", "create", IQN, "--lun", "1", "--size", "16MiB").assertOk();
            try (AdminTools.HeldSession lun0 = new AdminTools.HeldSession(server.url(0));
                 AdminTools.HeldSession lun1 = new AdminTools.HeldSession(server.url(1))) {
                ExternalTool.Result refused = cli(server, "lun", "delete", IQN, "1");
                assertEquals(1, refused.exitCode(), refused.output());
                assertTrue(refused.output().contains("in use"), refused.output());
                assertTrue(lun1.run("read 0 4k", QEMU_IO).contains("read 4096/4096 bytes"), "refused = untouched");

                cli(server, "lun", "delete", IQN, "1", "--force").assertOk();
                String after = lun1.run("read 0 4k", QEMU_IO);
                assertTrue(after.contains("failed") && !after.contains("read 4096/4096"),
                        "the deleted LUN answers no more: " + after);
                assertTrue(lun0.run("read 0 4k", QEMU_IO).contains("read 4096/4096 bytes"),
                        "LUN 0 keeps working (its REPORTED LUNS DATA HAS CHANGED is retried by the initiator)");
                assertEquals(2, sessionTargets(server).stream().filter(IQN::equals).count(),
                        "a LUN delete leaves the sessions logged in");
                String ls = ls("127.0.0.1:" + server.port());
                assertFalse(ls.contains("Lun:1"), ls);
            }

            cli(server, "target", "create", SECOND, "--demo-mode").assertOk();
            cli(server, "lun", "create", SECOND, "--lun", "0", "--size", "16MiB").assertOk();
            AdminTools.HeldSession held = new AdminTools.HeldSession(server.url(SECOND, 0));
            try {
                assertTrue(sessionTargets(server).contains(SECOND));
                ExternalTool.Result refused = cli(server, "target", "delete", SECOND);
                assertEquals(1, refused.exitCode(), refused.output());
                assertTrue(refused.output().contains("session"), refused.output());
                assertTrue(sessionTargets(server).contains(SECOND), "a refused delete leaves the session");

                cli(server, "target", "delete", SECOND, "--force").assertOk();
                assertFalse(sessionTargets(server).contains(SECOND), "the target's session was dropped");
                assertTrue(server.output().contains("dropped 1 session(s) of " + SECOND), server.output());
                String ls = ls("127.0.0.1:" + server.port());
                assertFalse(ls.contains(SECOND), ls);
            } finally {
                held.kill();
            }
            assertEquals(0, server.stop(Duration.ofSeconds(60)), server.output());
        }
    }

    @Test
    void removingTheAclOfALoggedInInitiatorDropsItsSession(@TempDir Path dir) throws Exception {
        String client = "iqn.2026-11.io.orion:client";
        try (ServerProcess server = start(dir)) {
            cli(server, "target", "create", SECOND).assertOk();
            cli(server, "lun", "create", SECOND, "--lun", "0", "--size", "16MiB").assertOk();
            cli(server, "acl", "add", SECOND, client).assertOk();
            String opts = "driver=iscsi,transport=tcp,portal=127.0.0.1:" + server.port() + ",target=" + SECOND
                    + ",lun=0,initiator-name=" + client;
            AdminTools.HeldSession held = AdminTools.HeldSession.imageOpts(opts);
            try {
                assertTrue(sessionTargets(server).contains(SECOND));
                cli(server, "acl", "remove", SECOND, client).assertOk();
                assertFalse(sessionTargets(server).contains(SECOND), "the initiator's session was dropped");
                assertTrue(server.output().contains("ACL of " + client + " removed from " + SECOND + "; 1 session(s)"),
                        server.output());
            } finally {
                held.kill();
            }
            ExternalTool.Result again = ExternalTool.run(LIMIT, "iscsi-inq", "-i", client,
                    "iscsi://127.0.0.1:" + server.port() + "/" + SECOND + "/0");
            assertNotEquals(0, again.exitCode(), "no ACL, no login: " + again.output());
        }
    }
}
