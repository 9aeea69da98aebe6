package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A deleted LUN's data never shows up behind a new LUN (issue item 2), through the real CLI
 * against the real server: data written to LUN 0 with qemu-img; {@code lun delete} keeps the
 * volume, detached; {@code lun create} for LUN 0 again (same size, then smaller) gets a fresh,
 * all-zero volume; {@code volume list} and {@code stats} show the old volume detached;
 * {@code volume delete} drops its references and {@code dedup-reference-cleanup} then really
 * lowers the pool's stored and used bytes; a restart comes back the same; {@code --attach} and
 * {@code --destroy}; {@code target delete} and re-create follow the same rule.
 */
class VolumeLifecycleIT {

    private static final String IQN = ServerProcess.DEFAULT_IQN;
    private static final long WRITTEN = 8L << 20;

    @Test
    void aDeletedLunsDataNeverReappearsAndDeletedVolumesFreeTheirSpace(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path config = AdminTools.config(dir, 0);
        int port = ServerProcess.freePort();
        Path image = BlockIoIT.randomFile(dir, "tenant-a.img", WRITTEN, 11);
        Path zeros = dir.resolve("zeros.img");
        Files.write(zeros, new byte[(int) WRITTEN]);
        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", image.toString(),
                    server.url(0)).assertOk();
            compare(image, port, 0).assertOk();

            ExternalTool.Result deleted = cli(server, "lun", "delete", IQN, "0").assertOk();
            assertTrue(deleted.output().contains("volume default-0 was kept, detached"), deleted.output());

            // the same LUN number and size again: a new, empty volume
            ExternalTool.Result created = cli(server, "lun", "create", IQN, "--lun", "0", "--size", "16GiB").assertOk();
            assertTrue(created.output().contains("new volume default-0-2"), created.output());
            compare(zeros, port, 0).assertOk();

            // and a smaller one: again new and empty, and the old volume keeps its size
            cli(server, "lun", "delete", IQN, "0").assertOk();
            cli(server, "lun", "create", IQN, "--lun", "0", "--size", "64MiB").assertOk();
            compare(zeros, port, 0).assertOk();

            Map<String, JsonNode> vols = volumes(server);
            assertEquals(3, vols.size(), vols.toString());
            assertTrue(vols.get("default-0").get("target").isNull(), "default-0 is detached: " + vols);
            assertEquals(16L << 30, vols.get("default-0").get("size_bytes").asLong(), "not shrunk");
            assertEquals(WRITTEN, vols.get("default-0").get("logical_used_bytes").asLong());
            assertTrue(vols.get("default-0-2").get("target").isNull());
            assertEquals(IQN, vols.get("default-0-3").get("target").asText());
            String table = cli(server, "volume", "list").assertOk().output();
            assertTrue(table.matches("(?s).*default-0\\s+dedup\\s+16\\.0 GiB\\s+8\\.0 MiB\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+detached\\s+-.*"), table);

            JsonNode stats = AdminTools.json(cli(server, "stats", "--json").assertOk());
            boolean listed = false;
            for (JsonNode v : stats.get("volumes")) {
                if (v.get("volume").asText().equals("default-0")) {
                    listed = v.get("target").isNull() && v.get("logical_used_bytes").asLong() == WRITTEN;
                }
            }
            assertTrue(listed, "stats lists the detached volume with its data: " + stats);

            // a volume in use cannot be deleted; a detached one can, and cleanup reclaims its bytes
            ExternalTool.Result busy = cli(server, "volume", "delete", "default-0-3");
            assertEquals(1, busy.exitCode(), busy.output());
            assertTrue(busy.output().contains("backs LUN 0 of " + IQN), busy.output());
            long storedBefore = stats.get("counters").get("pool").get("stored_bytes").asLong();
            long usedBefore = stats.get("pool").get("used_bytes").asLong();
            assertTrue(storedBefore >= WRITTEN, "random data is stored as is: " + storedBefore);
            cli(server, "volume", "delete", "default-0").assertOk();
            JsonNode cleanup = AdminTools.json(AdminTools.script(server, "dedup-reference-cleanup", "--json").assertOk());
            assertTrue(cleanup.get("reclaimed_bytes").asLong() >= WRITTEN, cleanup.toString());
            JsonNode after = AdminTools.json(cli(server, "stats", "--json").assertOk());
            long storedAfter = after.get("counters").get("pool").get("stored_bytes").asLong();
            long usedAfter = after.get("pool").get("used_bytes").asLong();
            assertTrue(storedAfter <= storedBefore - WRITTEN, storedBefore + " -> " + storedAfter);
            assertTrue(usedAfter <= usedBefore - WRITTEN, "device bytes in use: " + usedBefore + " -> " + usedAfter);
            assertEquals(0, server.stop(Duration.ofSeconds(60)), server.output());
        }

        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            Map<String, JsonNode> vols = volumes(server);
            assertEquals(java.util.Set.of("default-0-2", "default-0-3"), vols.keySet(), "the deletion is persistent");
            assertTrue(vols.get("default-0-2").get("target").isNull(), "still detached after the restart");
            assertEquals(IQN, vols.get("default-0-3").get("target").asText());
            compare(zeros, port, 0).assertOk();
            String cap = ExternalTool.run(LIMIT, "iscsi-readcapacity16", server.url(0)).assertOk().output();
            assertTrue(cap.contains("Total size:" + (64L << 20)), cap);

            // --attach gives a LUN the detached volume back, with its geometry
            ExternalTool.Result attached = cli(server, "lun", "create", IQN, "--lun", "1", "--volume", "default-0-2",
                    "--attach", "--json").assertOk();
            assertEquals(16L << 30, AdminTools.json(attached).get("size_bytes").asLong());
            ExternalTool.Result again = cli(server, "lun", "create", IQN, "--lun", "2", "--volume", "default-0-2",
                    "--attach");
            assertNotEquals(0, again.exitCode(), "a volume backs one LUN only: " + again.output());
            ExternalTool.Result destroyed = cli(server, "lun", "delete", IQN, "1", "--destroy").assertOk();
            assertTrue(destroyed.output().contains("volume default-0-2 was destroyed"), destroyed.output());
            assertEquals(java.util.Set.of("default-0-3"), volumes(server).keySet());

            // target delete and re-create: the same rule
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", image.toString(),
                    server.url(0)).assertOk();
            ExternalTool.Result targetGone = cli(server, "target", "delete", IQN).assertOk();
            assertTrue(targetGone.output().contains("volume default-0-3 was kept, detached"), targetGone.output());
            cli(server, "target", "create", IQN, "--demo-mode").assertOk();
            ExternalTool.Result fresh = cli(server, "lun", "create", IQN, "--lun", "0", "--size", "64MiB").assertOk();
            assertTrue(!fresh.output().contains("default-0-3"), fresh.output());
            compare(zeros, port, 0).assertOk();
            Map<String, JsonNode> left = volumes(server);
            assertTrue(left.get("default-0-3").get("target").isNull(), left.toString());
            assertEquals(WRITTEN, left.get("default-0-3").get("logical_used_bytes").asLong());

            // file LUNs: the image file in <data>/luns is the volume, under the same rules
            cli(server, "lun", "create", IQN, "--lun", "5", "--backing", "file", "--size", "16MiB").assertOk();
            Path img = data.resolve("luns/default-5.img");
            assertTrue(Files.exists(img), "image file created");
            cli(server, "lun", "delete", IQN, "5").assertOk();
            assertTrue(Files.exists(img), "lun delete keeps the file");
            ExternalTool.Result second = cli(server, "lun", "create", IQN, "--lun", "5", "--backing", "file",
                    "--size", "16MiB").assertOk();
            assertTrue(second.output().contains("new volume default-5-2"), second.output());
            JsonNode file = volumes(server).get("default-5");
            assertEquals("file", file.get("backing").asText());
            assertTrue(file.get("target").isNull(), file.toString());
            cli(server, "volume", "delete", "default-5").assertOk();
            assertTrue(!Files.exists(img), "volume delete removes the detached image file");
            cli(server, "lun", "delete", IQN, "5", "--destroy").assertOk();
            assertTrue(!Files.exists(data.resolve("luns/default-5-2.img")), "--destroy removes the LUN's file");
        }
    }

    private static Map<String, JsonNode> volumes(ServerProcess server) throws Exception {
        Map<String, JsonNode> out = new HashMap<>();
        for (JsonNode v : AdminTools.json(cli(server, "volume", "list", "--json").assertOk())) {
            out.put(v.get("volume").asText(), v);
        }
        return out;
    }

    /** qemu-img compare of {@code expected} against the first bytes of a LUN. */
    private static ExternalTool.Result compare(Path expected, int port, int lun) throws Exception {
        return ExternalTool.run(LIMIT, "qemu-img", "compare", "-f", "raw", "-F", "raw", expected.toString(),
                "json:{\"driver\":\"raw\",\"size\":" + Files.size(expected) + ",\"file\":{\"driver\":\"iscsi\","
                        + "\"transport\":\"tcp\",\"portal\":\"127.0.0.1:" + port + "\",\"target\":\"" + IQN
                        + "\",\"lun\":" + lun + "}}");
    }
}
