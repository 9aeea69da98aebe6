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
        assertEquals(0.1, (Double) perf.get("lun." + t + "/3.write_iops"), 1e-9);
    }

    @Test
    void directionsFollowTheOpcode() {
        assertEquals(ServerMetrics.Direction.READ, ServerMetrics.Direction.of(0x28));
        assertEquals(ServerMetrics.Direction.WRITE, ServerMetrics.Direction.of(0x8A));
        assertEquals(ServerMetrics.Direction.WRITE, ServerMetrics.Direction.of(0x89));
        assertEquals(ServerMetrics.Direction.OTHER, ServerMetrics.Direction.of(0x12));
    }
}
