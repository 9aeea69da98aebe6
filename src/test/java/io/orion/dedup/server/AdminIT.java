package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live LUN administration through the real CLI against the real server: {@code lun create} adds
 * LUN 1 that {@code iscsi-ls -s} shows without restart; data written to it and its new size
 * survive a restart (the definition was saved to targets/ at once); {@code lun resize} is what
 * READ CAPACITY reports; {@code lun delete} is refused while a session uses the LUN and works once
 * it logged out.
 */
class AdminIT {

    private static final String IQN = ServerProcess.DEFAULT_IQN;

    @Test
    void lunCreateResizeDeleteOnALiveServer(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path config = AdminTools.config(dir, ServerProcess.freePort());
        int port = ServerProcess.freePort();
        Path image = BlockIoIT.randomFile(dir, "lun1.img", 4L << 20, 7);
        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            String before = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + port).assertOk().output();
            assertFalse(before.contains("Lun:1"), before);

            ExternalTool.Result created = cli(server, "lun", "create", IQN, "--lun", "1", "--size", "64MiB", "--json")
                    .assertOk();
            JsonNode info = AdminTools.json(created);
            assertEquals(1, info.get("lun").asInt());
            assertEquals(64L << 20, info.get("size_bytes").asLong());

            String after = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + port).assertOk().output();
            assertTrue(after.matches("(?s).*Lun:1\\s+Type:DIRECT_ACCESS.*"), "LUN 1 visible without restart:\n" + after);
            assertTrue(Files.readString(targets.resolve("default.toml")).contains("id = 1"),
                    "the new LUN was saved to targets/ at once");

            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", image.toString(),
                    server.url(1)).assertOk();

            cli(server, "lun", "resize", IQN, "1", "128MiB").assertOk();
            String cap = ExternalTool.run(LIMIT, "iscsi-readcapacity16", server.url(1)).assertOk().output();
            assertTrue(cap.contains("Total size:" + (128L << 20)), cap);
            ExternalTool.Result shrink = cli(server, "lun", "resize", IQN, "1", "32MiB");
            assertEquals(1, shrink.exitCode(), shrink.output());
            assertTrue(shrink.output().contains("shrinking"), shrink.output());

            try (AdminTools.HeldSession session = new AdminTools.HeldSession(server.url(1))) {
                ExternalTool.Result refused = cli(server, "lun", "delete", IQN, "1");
                assertEquals(1, refused.exitCode(), refused.output());
                assertTrue(refused.output().contains("in use"), refused.output());
                assertEquals(1, refused.output().strip().lines().count(), "one-line reason: " + refused.output());
            }
            assertEquals(0, server.stop(java.time.Duration.ofSeconds(60)), server.output());
        }

        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            String ls = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + port).assertOk().output();
            assertTrue(ls.contains("Lun:1"), "LUN 1 is back after the restart:\n" + ls);
            String cap = ExternalTool.run(LIMIT, "iscsi-readcapacity16", server.url(1)).assertOk().output();
            assertTrue(cap.contains("Total size:" + (128L << 20)), "the resize survived the restart: " + cap);
            ExternalTool.run(LIMIT, "qemu-img", "compare", "-f", "raw", "-F", "raw", image.toString(),
                    "json:{\"driver\":\"raw\",\"size\":" + (4L << 20) + ",\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\","
                            + "\"portal\":\"127.0.0.1:" + port + "\",\"target\":\"" + IQN + "\",\"lun\":1}}").assertOk();

            cli(server, "lun", "delete", IQN, "1").assertOk();
            String gone = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + port).assertOk().output();
            assertFalse(gone.contains("Lun:1"), gone);
            assertTrue(gone.contains("Lun:0"), gone);
            assertFalse(Files.readString(targets.resolve("default.toml")).contains("id = 1"));
        }
    }
}
