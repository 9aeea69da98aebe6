package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The transport hook feeds the Prometheus exposition and the performance figures. */
class ServerMetricsTest {

    @Test
    void commandsBytesAndLoginsAppearPerLunAndDirection() {
        ServerMetrics m = new ServerMetrics();
        String t = "iqn.2026-11.io.orion:t";
        m.loginSucceeded("iqn.2026-11.test:a", t, false);
        m.loginFailed("iqn.2026-11.test:b", t, 0x0201);
        m.bytesIn(t, 3, 8192);
        m.commandCompleted(t, 3, 0x2A, 0, 2_000_000);        // WRITE(10), 2 ms
        m.bytesOut(t, 3, 4096);
        m.commandCompleted(t, 3, 0x88, 0, 500_000);          // READ(16), 0.5 ms
        m.commandCompleted(t, 3, 0x00, 2, 10_000);           // TEST UNIT READY, CHECK CONDITION
        String text = m.registry().scrape();
        String lun = "lun=\"3\",target=\"" + t + "\"";
        assertTrue(text.contains("orion_scsi_bytes_total{direction=\"write\"," + lun + "} 8192.0"), text);
        assertTrue(text.contains("orion_scsi_bytes_total{direction=\"read\"," + lun + "} 4096.0"), text);
        assertTrue(text.contains("orion_scsi_commands_total{direction=\"write\"," + lun + "} 1.0"), text);
        assertTrue(text.contains("orion_scsi_command_errors_total{direction=\"other\"," + lun + "} 1.0"), text);
        assertTrue(text.contains("orion_scsi_latency_seconds_bucket{direction=\"read\"," + lun + ",le="), text);
        assertTrue(text.contains("orion_iscsi_logins_total{result=\"failure\",type=\"any\"} 1.0"), text);
        assertTrue(text.contains("orion_iscsi_logins_total{result=\"success\",type=\"normal\"} 1.0"), text);
        assertTrue(!text.contains("iqn.2026-11.test:"), "initiator names are not labels");

        Map<String, Object> perf = m.performance(10.0);
        assertEquals(3L, perf.get("commands"));
        assertEquals(12288L, perf.get("transferred_bytes"));
        assertEquals(1L, perf.get("lun." + t + "/3.write_commands"));
        double p99 = (Double) perf.get("lun." + t + "/3.write_latency_p99_micros");
        assertTrue(p99 >= 2000 && p99 < 4000, "p99 bucket bound near 2 ms: " + p99);
        assertEquals(0.1, (Double) perf.get("lun." + t + "/3.write_average_iops"), 1e-9);
    }

    /** Issue item 13: the percentiles never exceed the maximum (the histogram bucket bound did). */
    @Test
    void percentilesComeFromOneSnapshotAndNeverExceedTheMaximum() {
        ServerMetrics m = new ServerMetrics();
        String t = "iqn.2026-11.io.orion:t";
        for (int i = 0; i < 100; i++) {
            m.commandCompleted(t, 0, 0x2A, 0, 324_491_000L);   // 324.491 ms: in the bucket up to 357.9 ms
        }
        for (int i = 0; i < 900; i++) {
            m.commandCompleted(t, 0, 0x2A, 0, 1_000_000L + i * 1000L);   // 1..1.9 ms
        }
        Map<String, Object> perf = m.performance(10.0);
        String p = "lun." + t + "/0.write_";
        double p50 = (Double) perf.get(p + "latency_p50_micros");
        double p99 = (Double) perf.get(p + "latency_p99_micros");
        double max = (Double) perf.get(p + "latency_max_micros");
        assertEquals(324_491.0, max, 1e-6);
        assertTrue(p99 <= max, "p99 " + p99 + " <= max " + max);
        assertTrue(p99 > 200_000, "p99 is in the slow group: " + p99);
        assertTrue(p50 <= p99 && p50 >= 1000 && p50 < 2500, "p50 in the fast group: " + p50);
        assertEquals(1000L, perf.get(p + "commands"));
    }

    /**
     * With the 15 fixed buckets a bucket is wide (1 to 2.5 ms): interpolating inside it would put
     * p50 of commands that all took 1.2 ms at 1.75 ms, above the maximum. The percentiles come
     * from one snapshot and are capped at the largest latency seen.
     */
    @Test
    void percentilesInAWideBucketStayAtOrBelowTheMaximum() {
        ServerMetrics m = new ServerMetrics();
        String t = "iqn.2026-11.io.orion:t";
        for (int i = 0; i < 10; i++) {
            m.commandCompleted(t, 2, 0x28, 0, 1_200_000L);
        }
        Map<String, Object> perf = m.performance(10.0);
        String p = "lun." + t + "/2.read_";
        assertEquals(1200.0, (Double) perf.get(p + "latency_max_micros"), 1e-6);
        assertEquals(1200.0, (Double) perf.get(p + "latency_p50_micros"), 1e-6);
        assertEquals(1200.0, (Double) perf.get(p + "latency_p99_micros"), 1e-6);
        assertEquals(16, m.registry().scrape().lines()
                .filter(l -> l.startsWith("orion_scsi_latency_seconds_bucket{direction=\"read\",lun=\"2\"")).count(),
                "15 buckets and +Inf");
    }

    /** Issue item 13: recent rates over the last minute, next to the lifetime averages. */
    @Test
    void recentRatesCoverTheLastMinuteOnly() {
        long[] now = {0};
        ServerMetrics m = new ServerMetrics(() -> now[0]);
        String t = "iqn.2026-11.io.orion:t";
        for (int s = 0; s < 10; s++) {
            now[0] = s * 1_000_000_000L;
            for (int i = 0; i < 60; i++) {
                m.bytesIn(t, 1, 1_000_000);
                m.commandCompleted(t, 1, 0x2A, 0, 100_000);
            }
        }
        now[0] = 10_000_000_000L;
        Map<String, Object> busy = m.performance(10.0);
        assertEquals(10.0, (Double) busy.get("recent_window_seconds"), 1e-9);
        assertEquals(60.0, (Double) busy.get("recent_iops"), 1e-9);
        assertEquals(60.0, (Double) busy.get("recent_mb_per_s"), 1e-9);
        assertEquals(60.0, (Double) busy.get("lun." + t + "/1.write_recent_iops"), 1e-9);

        now[0] = 200_000_000_000L;   // idle for over a minute
        Map<String, Object> idle = m.performance(200.0);
        assertEquals(60.0, (Double) idle.get("recent_window_seconds"), 1e-9);
        assertEquals(0.0, (Double) idle.get("recent_iops"), 1e-9, "nothing in the last minute");
        assertEquals(3.0, (Double) idle.get("average_iops"), 1e-9, "600 commands over 200 s");
        assertEquals(600L, idle.get("commands"));
    }

    /** Issue item 14: the Prometheus endpoint shows a read-only pool. */
    @Test
    void aReadOnlyPoolIsAGauge(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        ServerMetrics m = new ServerMetrics();
        try (io.orion.dedup.dedup.DedupPool pool = io.orion.dedup.dedup.PoolFaults.open(dir)) {
            m.bindPoolState(() -> java.util.Optional.of(pool));
            assertTrue(m.registry().scrape().contains("\norion_pool_read_only 0.0"), m.registry().scrape());
            io.orion.dedup.dedup.PoolFaults.untrust(pool, "chunk 7 failed its CRC32C check");
            assertTrue(m.registry().scrape().contains("\norion_pool_read_only 1.0"), m.registry().scrape());
        }
    }

    @Test
    void directionsFollowTheOpcode() {
        assertEquals(ServerMetrics.Direction.READ, ServerMetrics.Direction.of(0x28));
        assertEquals(ServerMetrics.Direction.WRITE, ServerMetrics.Direction.of(0x8A));
        assertEquals(ServerMetrics.Direction.WRITE, ServerMetrics.Direction.of(0x89));
        assertEquals(ServerMetrics.Direction.OTHER, ServerMetrics.Direction.of(0x12));
    }
}
