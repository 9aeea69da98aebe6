package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.OrionConfig;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Prometheus endpoint of an in-process server with two dedup LUNs, scraped over HTTP: every
 * metric family has HELP text and a TYPE; counters end in {@code _total}; no percent gauges (ratios
 * are 0..1); JVM, process, build and pool capacity metrics are there; the latency histogram has 15
 * fixed buckets (+Inf) per LUN and direction; a deleted LUN's series and its destroyed volume's
 * gauges are gone from the next scrape.
 */
class MetricsExpositionTest {

    private static final String IQN = "iqn.2026-11.io.orion:m";

    /** One metric family of the exposition: its HELP, TYPE and sample lines. */
    record Family(String help, String type, List<String> samples) {}

    /** Parses the text exposition format into families by name (samples grouped by their family). */
    static Map<String, Family> parse(String text) {
        Map<String, String> help = new LinkedHashMap<>();
        Map<String, String> type = new LinkedHashMap<>();
        Map<String, List<String>> samples = new LinkedHashMap<>();
        Pattern sample = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{.*\\})? (\\S+)$");
        for (String line : text.split("\n")) {
            if (line.startsWith("# HELP ")) {
                String[] p = line.split(" ", 4);
                help.put(p[2], p.length > 3 ? p[3] : "");
            } else if (line.startsWith("# TYPE ")) {
                String[] p = line.split(" ", 4);
                type.put(p[2], p[3]);
            } else if (!line.isBlank() && !line.startsWith("#")) {
                Matcher m = sample.matcher(line);
                assertTrue(m.matches(), "a sample line: " + line);
                String name = m.group(1);
                String family = type.containsKey(name) ? name
                        : name.replaceAll("_(bucket|count|sum|total|created)$", "");
                if (!type.containsKey(family) && type.containsKey(name.replaceAll("_(bucket|count|sum|created)$", ""))) {
                    family = name.replaceAll("_(bucket|count|sum|created)$", "");
                }
                samples.computeIfAbsent(family, k -> new java.util.ArrayList<>()).add(line);
            }
        }
        Map<String, Family> out = new LinkedHashMap<>();
        for (String name : new TreeSet<>(samples.keySet())) {
            out.put(name, new Family(help.get(name), type.get(name), samples.get(name)));
        }
        for (String name : type.keySet()) {
            out.putIfAbsent(name, new Family(help.get(name), type.get(name), List.of()));
        }
        return out;
    }

    static String scrape(InetSocketAddress a) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + a.getPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        return r.body();
    }

    static OrionServer start(Path dir) throws Exception {
        Path targets = Files.createDirectories(dir.resolve("targets"));
        Files.writeString(targets.resolve("m.toml"), "iqn = \"" + IQN + "\"\n\n[attributes]\ndemo_mode = true\n\n"
                + "[[lun]]\nid = 0\nvolume = \"m-0\"\nsize = \"64MiB\"\n\n"
                + "[[lun]]\nid = 1\nvolume = \"m-1\"\nsize = \"64MiB\"\n");
        Path conf = dir.resolve("dedup.toml");
        Files.writeString(conf, "[deduplication]\ncache_size = \"16MB\"\nhash_cache_size = \"16MB\"\n\n"
                + "[metrics]\nlisten = \"127.0.0.1:" + ServerProcess.freePort() + "\"\n");
        return OrionServer.start(OrionConfig.load(conf), conf, targets, dir.resolve("data"),
                List.of(new InetSocketAddress("127.0.0.1", 0)));
    }

    /** I/O as the transport reports it: a write and a read on {@code lun}. */
    static void io(OrionServer server, int lun) {
        ServerMetrics m = server.metrics();
        m.bytesIn(IQN, lun, 4096);
        m.commandCompleted(IQN, lun, 0x2A, 0, 300_000);
        m.bytesOut(IQN, lun, 4096);
        m.commandCompleted(IQN, lun, 0x28, 0, 80_000);
    }

    @Test
    void everyMetricHasHelpAndATypeAndFollowsTheNamingRules(@TempDir Path dir) throws Exception {
        try (OrionServer server = start(dir)) {
            io(server, 0);
            Map<String, Family> families = parse(scrape(server.metricsAddress().orElseThrow()));
            for (Map.Entry<String, Family> e : families.entrySet()) {
                String name = e.getKey();
                Family f = e.getValue();
                assertTrue(f.help() != null && !f.help().isBlank(), "HELP text of " + name);
                assertTrue(f.type() != null, "TYPE of " + name);
                if (f.type().equals("counter")) {
                    assertTrue(f.samples().stream().allMatch(s -> s.startsWith(name + "_total")
                            || s.startsWith(name + "_created")) || name.endsWith("_total"), "counter " + name + " ends in _total");
                }
                assertFalse(name.contains("percent"), "ratios are 0..1, not percent: " + name);
                if (name.endsWith("_ratio")) {
                    for (String s : f.samples()) {
                        double v = Double.parseDouble(s.substring(s.lastIndexOf(' ') + 1));
                        assertTrue(Double.isNaN(v) || v >= 0 && v <= 1, s);
                    }
                }
            }
            for (String expected : new String[] {"jvm_memory_used_bytes", "jvm_gc_live_data_size_bytes", "jvm_threads_live_threads",
                "process_cpu_usage", "process_files_open_files", "process_uptime_seconds", "orion_build_info",
                "orion_pool_capacity_bytes", "orion_pool_available_bytes", "orion_pool_used_bytes",
                "orion_pool_provisioned_bytes", "orion_pool_read_only", "orion_dedup_saving_ratio",
                "orion_dedup_logical_bytes", "orion_dedup_unique_bytes", "orion_dedup_stored_bytes",
                "orion_volume_logical_bytes", "orion_volume_saving_ratio"}) {
                assertTrue(families.containsKey(expected), expected + " in " + families.keySet());
            }
            assertEquals("counter", families.get("orion_dedup_checksum_errors_total").type());
            assertEquals("counter", families.get("orion_dedup_verify_mismatches_total").type());
            assertEquals("counter", families.get("orion_dedup_repaired_chunks_total").type());
            assertEquals("counter", families.get("orion_scsi_commands_total").type());
            assertEquals("histogram", families.get("orion_scsi_latency_seconds").type());
            assertTrue(families.get("orion_build_info").samples().get(0).matches(
                    "orion_build_info\\{revision=\"[^\"]+\",version=\"[^\"]+\"} 1(\\.0)?"), families.get("orion_build_info").toString());
            assertEquals(128L << 20, (long) value(families.get("orion_pool_provisioned_bytes").samples().get(0)));
            double capacity = value(families.get("orion_pool_capacity_bytes").samples().get(0));
            double available = value(families.get("orion_pool_available_bytes").samples().get(0));
            assertTrue(capacity > 0 && available > 0 && available <= capacity, capacity + " / " + available);
            long buckets = families.get("orion_scsi_latency_seconds").samples().stream()
                    .filter(s -> s.contains("_bucket{direction=\"write\",lun=\"0\"")).count();
            assertEquals(16, buckets, "15 fixed buckets and +Inf");
        }
    }

    @Test
    void aDeletedLunsSeriesAreGone(@TempDir Path dir) throws Exception {
        try (OrionServer server = start(dir)) {
            io(server, 0);
            io(server, 1);
            InetSocketAddress a = server.metricsAddress().orElseThrow();
            String before = scrape(a);
            assertTrue(before.contains("lun=\"1\""), before);
            assertTrue(before.contains("volume=\"m-1\""), before);
            new AdminService(server).deleteLun(IQN, 1, false, true);
            String after = scrape(a);
            assertFalse(after.contains("lun=\"1\""), "no series of the deleted LUN:\n" + after);
            assertFalse(after.contains("volume=\"m-1\""), "no gauges of its destroyed volume:\n" + after);
            assertTrue(after.contains("orion_scsi_commands_total{direction=\"write\",lun=\"0\",target=\"" + IQN + "\"} 1"), after);
            assertTrue(after.contains("volume=\"m-0\""), after);
            assertTrue(server.metrics().performance(1).keySet().stream().noneMatch(k -> k.contains("/1.")),
                    "dedup-performance-stats drops it too");

            // a LUN created again under the same number starts from zero
            new AdminService(server).createLun(IQN, LunDefinition.dedup(1, "m-1b", 64L << 20, 512));
            io(server, 1);
            assertTrue(scrape(a).contains("orion_scsi_commands_total{direction=\"write\",lun=\"1\",target=\"" + IQN + "\"} 1"));
        }
    }

    private static double value(String sample) {
        return Double.parseDouble(sample.substring(sample.lastIndexOf(' ') + 1));
    }
}
