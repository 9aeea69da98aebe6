package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Prometheus endpoint after real I/O: {@code curl -s 127.0.0.1:PORT/metrics} lists bytes and
 * command counts per LUN and direction, latency histograms, sessions and logins (success and
 * failure), the dedup and compression ratios, logical/unique/stored bytes, cache hit rates and the
 * hashing throughput — each with a non-zero value where the I/O must have produced one.
 */
class MetricsIT {

    private static final String IQN = ServerProcess.DEFAULT_IQN;

    /** The value of the first sample whose name and labels match {@code selector} (a regex). */
    private static double value(String metrics, String selector) {
        Matcher m = Pattern.compile("(?m)^" + selector + " ([0-9.eE+-]+|NaN)$").matcher(metrics);
        if (!m.find()) {
            throw new AssertionError("no sample " + selector + " in:\n" + metrics);
        }
        return Double.parseDouble(m.group(1));
    }

    private static void positive(String metrics, String selector) {
        double v = value(metrics, selector);
        assertTrue(v > 0, selector + " = " + v);
    }

    @Test
    void metricsAfterIo(@TempDir Path dir) throws Exception {
        int port = ServerProcess.freePort();
        int metricsPort = ServerProcess.freePort();
        Path image = BlockIoIT.randomFile(dir, "random.img", 8L << 20, 11);
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), ServerProcess.copyTargets(dir),
                AdminTools.config(dir, metricsPort), port)) {
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", image.toString(),
                    server.url(0)).assertOk();
            String img = "json:{\"driver\":\"raw\",\"size\":" + (8L << 20) + ",\"file\":{\"driver\":\"iscsi\","
                    + "\"transport\":\"tcp\",\"portal\":\"127.0.0.1:" + port + "\",\"target\":\"" + IQN + "\",\"lun\":0}}";
            for (int i = 0; i < 2; i++) {
                ExternalTool.run(LIMIT, "qemu-img", "compare", "-f", "raw", "-F", "raw", image.toString(), img).assertOk();
            }
            // large reads of raw (incompressible) chunks are left to the page cache, and large writes
            // no longer fill the block cache: a small read is admitted, and read again it is a hit
            ExternalTool.run(LIMIT, "qemu-io", "-f", "raw", "-c", "read 0 4k", "-c", "read 0 4k", server.url(0))
                    .assertOk();
            ExternalTool.Result refused = ExternalTool.run(LIMIT, "iscsi-inq",
                    "iscsi://127.0.0.1:" + port + "/iqn.2026-11.io.orion:no-such-target/0");
            assertNotEquals(0, refused.exitCode(), refused.output());

            String metrics;
            try (AdminTools.HeldSession session = new AdminTools.HeldSession(server.url(0))) {
                metrics = ExternalTool.run(LIMIT, "curl", "-s", "127.0.0.1:" + metricsPort + "/metrics").assertOk().output();
                positive(metrics, "orion_iscsi_sessions\\{type=\"normal\"\\}");
            }
            // Pool gauges are computed at most once a second (ServerMetrics.STATS_TTL_NANOS): a scrape
            // right after the reads may show the figures of up to one second earlier.
            Thread.sleep(1100);
            metrics = ExternalTool.run(LIMIT, "curl", "-s", "127.0.0.1:" + metricsPort + "/metrics").assertOk().output();
            String lun0 = "lun=\"0\",target=\"" + Pattern.quote(IQN) + "\"";
            positive(metrics, "orion_scsi_bytes_total\\{direction=\"write\"," + lun0 + "\\}");
            positive(metrics, "orion_scsi_bytes_total\\{direction=\"read\"," + lun0 + "\\}");
            assertTrue(value(metrics, "orion_scsi_bytes_total\\{direction=\"write\"," + lun0 + "\\}") >= 8L << 20);
            assertTrue(value(metrics, "orion_scsi_bytes_total\\{direction=\"read\"," + lun0 + "\\}") >= 16L << 20);
            positive(metrics, "orion_scsi_commands_total\\{direction=\"write\"," + lun0 + "\\}");
            positive(metrics, "orion_scsi_commands_total\\{direction=\"read\"," + lun0 + "\\}");
            positive(metrics, "orion_scsi_latency_seconds_count\\{direction=\"write\"," + lun0 + "\\}");
            positive(metrics, "orion_scsi_latency_seconds_bucket\\{direction=\"read\"," + lun0 + ",le=\"\\+Inf\"\\}");
            positive(metrics, "orion_iscsi_logins_total\\{result=\"success\",type=\"normal\"\\}");
            positive(metrics, "orion_iscsi_logins_total\\{result=\"failure\",type=\"any\"\\}");
            assertEquals(8L << 20, (long) value(metrics, "orion_dedup_logical_bytes"));
            assertEquals(8L << 20, (long) value(metrics, "orion_dedup_unique_bytes"));
            assertEquals(2048, (long) value(metrics, "orion_dedup_unique_chunks"));
            positive(metrics, "orion_dedup_stored_bytes");
            assertEquals(0.0, value(metrics, "orion_dedup_saving_ratio"), "random data saves nothing");
            positive(metrics, "orion_dedup_hash_throughput_bytes_per_second");
            positive(metrics, "orion_pool_capacity_bytes");
            positive(metrics, "orion_pool_available_bytes");
            positive(metrics, "orion_dedup_hashed_bytes_total");
            positive(metrics, "orion_dedup_cache_hits_total\\{cache=\"block\"\\}");
            positive(metrics, "orion_dedup_cache_hit_ratio\\{cache=\"block\"\\}");
            assertEquals(2048, (long) value(metrics, "orion_volume_unique_chunks\\{volume=\"default-0\"\\}"));
        }
    }
}
