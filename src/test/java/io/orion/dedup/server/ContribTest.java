package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code contrib/} ships is checked: the Prometheus alert rules pass {@code promtool check
 * rules} and their unit tests ({@code promtool test rules}: each alert fires on the series that
 * should fire it); the Grafana dashboard is valid JSON, every query is valid PromQL (checked by
 * promtool as recording rules), and every metric it or the rules name is in a real scrape of the
 * server. promtool comes with Debian's {@code prometheus} package, which {@code scripts/test}
 * installs.
 */
class ContribTest {

    private static final Path RULES = Path.of("contrib/prometheus/orion-dedup-rules.yml");
    private static final Path RULE_TESTS = Path.of("contrib/prometheus/orion-dedup-rules.test.yml");
    private static final Path NEVER_SCRUBBED_TESTS = Path.of("contrib/prometheus/orion-dedup-rules-never-scrubbed.test.yml");
    private static final Path DASHBOARD = Path.of("contrib/grafana/orion-dedup.json");
    private static final Pattern METRIC = Pattern.compile("\\b((?:orion|jvm|process|system)_[a-z0-9_]+)");

    record Result(int status, String output) {}

    static Result promtool(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("promtool"));
        cmd.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("promtool is missing: install Debian's prometheus package (scripts/test does)", e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool finished");
        return new Result(p.exitValue(), out);
    }

    @Test
    void alertRulesPassPromtoolAndTheirUnitTests() throws Exception {
        Path dir = RULES.toAbsolutePath().getParent();
        Result check = promtool(dir, "check", "rules", RULES.getFileName().toString());
        assertEquals(0, check.status(), check.output());
        assertTrue(check.output().contains("SUCCESS: 4 rules found"), check.output());
        Result tests = promtool(dir, "test", "rules", RULE_TESTS.getFileName().toString());
        assertEquals(0, tests.status(), tests.output());
        // a server that never scrubbed (timestamp 0): quiet while young, alerting after 35 days up
        Result never = promtool(dir, "test", "rules", NEVER_SCRUBBED_TESTS.getFileName().toString());
        assertEquals(0, never.status(), never.output());
        String rules = Files.readString(RULES);
        for (String alert : new String[] {"OrionPoolNearlyFull", "OrionPoolReadOnly", "OrionChecksumErrors", "OrionScrubOverdue"}) {
            assertTrue(rules.contains("alert: " + alert), alert);
        }
        assertTrue(rules.contains("orion_job_last_success_timestamp_seconds{kind=\"scrub\"}"), "the scrub metric's agreed name");
    }

    /** Every PromQL expression of the dashboard (panel targets and template variable queries). */
    static List<String> expressions(JsonNode n, List<String> out) {
        if (n.isObject()) {
            n.fields().forEachRemaining(e -> {
                if (e.getKey().equals("expr") && e.getValue().isTextual()) {
                    out.add(e.getValue().asText());
                } else {
                    expressions(e.getValue(), out);
                }
            });
        } else if (n.isArray()) {
            n.forEach(x -> expressions(x, out));
        }
        return out;
    }

    @Test
    void theDashboardIsValidAndNamesOnlyMetricsTheServerExports(@TempDir Path dir) throws Exception {
        JsonNode dash = new ObjectMapper().readTree(Files.readString(DASHBOARD));
        assertEquals("Orion Dedup", dash.get("title").asText());
        List<String> exprs = expressions(dash, new ArrayList<>());
        assertTrue(exprs.size() >= 20, "queries: " + exprs.size());

        // each query is valid PromQL: promtool checks them as recording rules (Grafana's variables filled in)
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (int i = 0; i < exprs.size(); i++) {
            String e = exprs.get(i).replace("$__rate_interval", "5m").replace("$instance", ".*").replace("$target", ".*");
            rules.append("      - record: dashboard_query_").append(i).append("\n        expr: '")
                    .append(e.replace("'", "''")).append("'\n");
        }
        Files.writeString(dir.resolve("dashboard-rules.yml"), rules);
        Result check = promtool(dir, "check", "rules", "dashboard-rules.yml");
        assertEquals(0, check.status(), check.output() + "\n" + rules);

        Set<String> named = new TreeSet<>();
        for (String e : exprs) {
            Matcher m = METRIC.matcher(e);
            while (m.find()) {
                named.add(m.group(1));
            }
        }
        Matcher m = METRIC.matcher(Files.readString(RULES));
        while (m.find()) {
            named.add(m.group(1));
        }

        try (OrionServer server = MetricsExpositionTest.start(dir.resolve("server"))) {
            MetricsExpositionTest.io(server, 0);
            Set<String> exported = new TreeSet<>();
            for (int i = 0; i < 50 && !exported.containsAll(named); i++) {
                if (i > 0) {
                    System.gc();   // jvm_gc_pause_seconds appears after the first collection
                    Thread.sleep(100);
                }
                for (String line : MetricsExpositionTest.scrape(server.metricsAddress().orElseThrow()).split("\n")) {
                    if (!line.startsWith("#") && !line.isBlank()) {
                        exported.add(line.replaceAll("[{ ].*", ""));
                    }
                }
            }
            Set<String> missing = new TreeSet<>(named);
            missing.removeAll(exported);
            assertTrue(missing.isEmpty(), "named by contrib/ but not exported: " + missing);
        }
    }
}
