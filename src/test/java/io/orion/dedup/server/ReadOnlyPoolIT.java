package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pool that turned read-only says so everywhere an admin looks (issue item 14): a chunk record
 * in the metadata is damaged while the server is stopped; after the restart the first read of that
 * block fails (MEDIUM ERROR) and the pool stops trusting its metadata. {@code status} (human and
 * {@code --json}), {@code stats} and the Prometheus endpoint ({@code orion_pool_read_only 1})
 * then show it, with the reason, not only {@code stats --verbose} and the log.
 */
class ReadOnlyPoolIT {

    @Test
    void statusStatsAndMetricsShowAReadOnlyPool(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        int metricsPort = ServerProcess.freePort();
        Path config = AdminTools.config(dir, metricsPort);
        int port = ServerProcess.freePort();
        Path block = BlockIoIT.randomFile(dir, "block.img", 4096, 5);
        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", block.toString(),
                    server.url(0)).assertOk();
            String status = cli(server, "status").assertOk().output();
            assertTrue(status.contains("Pool:      read-write"), status);
            assertTrue(metrics(metricsPort).contains("\norion_pool_read_only 0.0"));
            assertEquals(0, server.stop(Duration.ofSeconds(60)), server.output());
        }

        damageChunkRecord(data.resolve("meta/data.mdb"), MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(block)));

        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            ExternalTool.Result read = ExternalTool.run(LIMIT, "qemu-io", "-f", "raw", "-c", "read 0 4k", server.url(0));
            assertTrue(read.output().contains("failed") || read.exitCode() != 0,
                    "the damaged block is not read as GOOD: " + read.output());

            String status = cli(server, "status").assertOk().output();
            assertTrue(status.matches("(?s).*Pool:\\s+READ-ONLY: \\S.*writes fail with DATA PROTECT.*"), status);
            JsonNode json = AdminTools.json(cli(server, "status", "--json").assertOk());
            assertEquals("read-only", json.get("pool").asText(), json.toString());
            assertTrue(json.get("pool_read_only").asBoolean());
            assertNotEquals("", json.get("pool_read_only_reason").asText());

            String stats = cli(server, "stats").assertOk().output();
            assertTrue(stats.contains("The pool is READ-ONLY: " + json.get("pool_read_only_reason").asText()), stats);
            assertTrue(metrics(metricsPort).contains("\norion_pool_read_only 1.0"), "the gauge says 1");
        }
    }

    private static String metrics(int port) throws Exception {
        return ExternalTool.run(LIMIT, "curl", "-s", "127.0.0.1:" + port + "/metrics").assertOk().output();
    }

    /**
     * Flips a byte of the length field of every stored copy of the chunk record of {@code fp} (fingerprint
     * followed by a small container id) so that its CRC no longer matches (as CorruptionTest does).
     */
    private static void damageChunkRecord(Path mdb, byte[] fp) throws Exception {
        byte[] meta = Files.readAllBytes(mdb);
        int hits = 0;
        for (int i = 0; i + 50 < meta.length; i++) {
            boolean match = true;
            for (int j = 0; j < 32 && match; j++) {
                match = meta[i + j] == fp[j];
            }
            if (match && meta[i + 32] == 0 && meta[i + 33] == 0 && meta[i + 34] == 0) {
                meta[i + 42] ^= 0x40;
                hits++;
            }
        }
        assertTrue(hits > 0, "chunk record found in the metadata file");
        Files.write(mdb, meta);
    }
}
