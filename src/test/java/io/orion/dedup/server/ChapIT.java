package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CHAP and ACLs set up live through the CLI on a target with demo mode off (RFC 7143 §12.1), checked
 * with libiscsi's tools and QEMU: the listed initiator logs in with its secret; a wrong secret
 * fails; an initiator without an ACL neither sees the target in discovery nor logs in; mutual CHAP
 * works with libiscsi's {@code target_user}/{@code target_password} URL arguments and fails when
 * the initiator expects another target secret; mapped LUNs hide the others; a write-protected ACL
 * cannot write. No secret appears in the server's log, in {@code target show} or in the metrics.
 */
class ChapIT {

    private static final String TARGET = "iqn.2026-11.io.orion:secure";
    private static final String CLIENT = "iqn.2026-11.io.orion:client";
    private static final String OTHER = "iqn.2026-11.io.orion:other";
    private static final String SECRET = "alice-secret-1234";
    private static final String MUTUAL_SECRET = "target-secret-5678";

    @Test
    void chapAndAclsGuardTheTarget(@TempDir Path dir) throws Exception {
        int port = ServerProcess.freePort();
        int metricsPort = ServerProcess.freePort();
        Path config = AdminTools.config(dir, metricsPort);
        Path targets = AdminTools.emptyTargets(dir);
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), targets, config, port)) {
            String portal = "127.0.0.1:" + port;
            cli(server, "target", "create", TARGET).assertOk();
            cli(server, "lun", "create", TARGET, "--lun", "0", "--size", "16MiB").assertOk();
            cli(server, "lun", "create", TARGET, "--lun", "1", "--size", "16MiB").assertOk();
            cli(server, "acl", "add", TARGET, CLIENT).assertOk();
            cli(server, "chap", "set", TARGET, "--initiator", CLIENT, "--user", "alice", "--secret", SECRET).assertOk();

            // the listed initiator with the right secret logs in and sees both LUNs
            String ok = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "-i", CLIENT,
                    "iscsi://alice%" + SECRET + "@" + portal).assertOk().output();
            assertTrue(ok.contains("Target:" + TARGET), ok);
            assertTrue(ok.contains("Lun:0") && ok.contains("Lun:1"), ok);

            // a wrong secret fails the login
            ExternalTool.Result wrong = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "-i", CLIENT,
                    "iscsi://alice%wrong-secret-0000@" + portal);
            assertNotEquals(0, wrong.exitCode(), wrong.output());
            assertFalse(wrong.output().contains("Lun:0"), wrong.output());
            // no secret at all fails too
            ExternalTool.Result none = ExternalTool.run(LIMIT, "iscsi-inq", "-i", CLIENT,
                    "iscsi://" + portal + "/" + TARGET + "/0");
            assertNotEquals(0, none.exitCode(), none.output());

            // an initiator without an ACL sees no target and cannot log in, even with the secret
            ExternalTool.Result other = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "-i", OTHER,
                    "iscsi://alice%" + SECRET + "@" + portal);
            assertFalse(other.output().contains(TARGET), other.output());
            ExternalTool.Result otherLogin = ExternalTool.run(LIMIT, "iscsi-inq", "-i", OTHER,
                    "iscsi://alice%" + SECRET + "@" + portal + "/" + TARGET + "/0");
            assertNotEquals(0, otherLogin.exitCode(), otherLogin.output());

            // mutual CHAP: the target proves itself with the mutual secret
            cli(server, "chap", "set", TARGET, "--initiator", CLIENT, "--user", "alice", "--secret", SECRET,
                    "--mutual-user", "orion", "--mutual-secret", MUTUAL_SECRET).assertOk();
            String mutual = ExternalTool.run(LIMIT, "iscsi-inq", "-i", CLIENT, "iscsi://alice%" + SECRET + "@" + portal
                    + "/" + TARGET + "/0?target_user=orion&target_password=" + MUTUAL_SECRET).assertOk().output();
            assertTrue(mutual.contains("DEDUP VOLUME") || mutual.contains("ORION"), mutual);
            ExternalTool.Result impostor = ExternalTool.run(LIMIT, "iscsi-inq", "-i", CLIENT, "iscsi://alice%" + SECRET
                    + "@" + portal + "/" + TARGET + "/0?target_user=orion&target_password=not-the-target-9");
            assertNotEquals(0, impostor.exitCode(), "the initiator must reject a target that cannot prove itself: "
                    + impostor.output());

            // mapped LUNs: the ACL limited to LUN 0 no longer sees LUN 1 (its one-way CHAP is kept)
            cli(server, "chap", "set", TARGET, "--initiator", CLIENT, "--user", "alice", "--secret", SECRET).assertOk();
            cli(server, "acl", "add", TARGET, CLIENT, "--luns", "0").assertOk();
            String masked = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "-i", CLIENT, "iscsi://alice%" + SECRET + "@"
                    + portal).assertOk().output();
            assertTrue(masked.contains("Lun:0"), masked);
            assertFalse(masked.contains("Lun:1"), masked);

            // write protection: QEMU cannot write through this ACL, reads still work
            cli(server, "acl", "add", TARGET, CLIENT, "--write-protect").assertOk();
            String opts = "driver=iscsi,transport=tcp,portal=" + portal + ",target=" + TARGET + ",lun=0,user=alice,"
                    + "password=" + SECRET + ",initiator-name=" + CLIENT;
            ExternalTool.Result write = ExternalTool.run(LIMIT, "qemu-io", "--image-opts", opts, "-c", "write -P 0xab 0 4k");
            assertTrue(write.exitCode() != 0 || write.output().toLowerCase().contains("protect")
                    || write.output().contains("failed"), "a write-protected ACL wrote: " + write.output());
            assertFalse(write.output().contains("wrote 4096/4096"), write.output());
            ExternalTool.run(LIMIT, "qemu-io", "-r", "--image-opts", opts, "-c", "read 0 4k").assertOk();

            // secrets stay secret
            String show = cli(server, "target", "show", TARGET, "--json").assertOk().output();
            assertFalse(show.contains(SECRET) || show.contains(MUTUAL_SECRET), show);
            String metrics = ExternalTool.run(LIMIT, "curl", "-s", "127.0.0.1:" + metricsPort + "/metrics").assertOk().output();
            assertTrue(metrics.contains("orion_iscsi_logins_total{result=\"failure\""), metrics);
            assertFalse(metrics.contains(SECRET) || metrics.contains("alice"), "metrics carry no CHAP data");
            assertFalse(server.output().contains(SECRET) || server.output().contains(MUTUAL_SECRET),
                    "the server log shows no secret");
            // the failed CHAP login is logged with its source address, never with the CHAP name
            assertTrue(server.output().lines().anyMatch(l -> l.contains("login from 127.0.0.1:")
                    && l.contains("0x0201") && l.contains("CHAP")), server.output());
            assertFalse(server.output().contains("alice"), "the server log shows a CHAP name");
            try (Stream<Path> files = Files.list(targets)) {
                assertEquals(1, files.count(), "one definition file for the new target");
            }
        }
    }
}
