package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orion.dedup.admin.ManagementCommand;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI's output conventions against an in-process server (two dedup LUNs with data, an ACL, a
 * RAM LUN): every {@code --json} output has snake_case keys (names of volumes and LUNs are values
 * or keys of a map of them, never part of a key), lowercase enums, null (not -1) for an unknown
 * size; bad input exits 2 with a message that names the option or argument, never an internal
 * path like {@code lun[1].size}.
 */
class CliConventionsTest {

    private static final String IQN = "iqn.2026-11.io.orion:s";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Maps keyed by a name (volume, LUN, device path): their keys are data. */
    private static final Set<String> NAME_MAPS = Set.of("by_volume", "by_lun", "volumes");

    private static void conventions(String where, String key, JsonNode n, List<String> bad) {
        if (n.isObject()) {
            boolean names = NAME_MAPS.contains(key) && n.isObject();
            n.fields().forEachRemaining(e -> {
                if (!names && !e.getKey().matches("[a-z][a-z0-9_]*")) {
                    bad.add(where + ": key " + e.getKey() + " is not snake_case");
                }
                JsonNode v = e.getValue();
                if (e.getKey().endsWith("_bytes") && v.isIntegralNumber() && v.longValue() == -1) {
                    bad.add(where + ": " + e.getKey() + " = -1 (unknown must be null)");
                }
                if (Set.of("backing", "pool", "scope").contains(e.getKey()) && v.isTextual()
                        && !v.asText().equals(v.asText().toLowerCase(java.util.Locale.ROOT))) {
                    bad.add(where + ": " + e.getKey() + " = " + v.asText() + " (enums are lowercase)");
                }
                conventions(where, names ? "" : e.getKey(), v, bad);
            });
        } else if (n.isArray()) {
            n.forEach(x -> conventions(where, key, x, bad));
        }
    }

    @Test
    void everyJsonOutputFollowsTheConventions(@TempDir Path dir) throws Exception {
        try (OrionServer server = StatsCommandTest.start(dir)) {
            StatsCommandTest.fill(server);
            Path data = dir.resolve("data");
            assertEquals(0, StatsCommandTest.cli(data, "acl", "add", IQN, "iqn.1994-05.com.redhat:h1").status());
            assertEquals(0, StatsCommandTest.cli(data, "lun", "create", IQN, "--lun", "3", "--backing", "ram",
                    "--size", "1MiB").status());
            List<String[]> commands = new ArrayList<>(List.of(new String[] {"status"}, new String[] {"stats"},
                    new String[] {"stats", "--histogram"}, new String[] {"stats", "--verbose"}, new String[] {"lun", "list"},
                    new String[] {"volume", "list"}, new String[] {"target", "list"}, new String[] {"target", "show", IQN},
                    new String[] {"acl", "list", IQN}, new String[] {"scrub"}));
            for (ManagementCommand c : ManagementCommand.values()) {
                commands.add(new String[] {c.command()});
            }
            List<String> bad = new ArrayList<>();
            for (String[] c : commands) {
                String[] args = java.util.Arrays.copyOf(c, c.length + 1);
                args[c.length] = "--json";
                StatsCommandTest.Run r = StatsCommandTest.cli(data, args);
                assertEquals(0, r.status(), String.join(" ", c) + ": " + r.err());
                conventions(String.join(" ", c), "", JSON.readTree(r.out()), bad);
            }
            assertTrue(bad.isEmpty(), String.join("\n", bad));

            // what the conventions changed, as a script sees it
            JsonNode lun = JSON.readTree(StatsCommandTest.cli(data, "target", "show", IQN, "--json").out()).get("luns").get(0);
            assertEquals("dedup", lun.get("backing").asText());
            assertEquals(4096, lun.get("block_size").asInt());
            JsonNode ram = null;
            for (JsonNode v : JSON.readTree(StatsCommandTest.cli(data, "stats", "--json").out()).get("volumes")) {
                if (v.get("lun").asInt() == 3) {
                    ram = v;
                }
            }
            assertTrue(ram != null && ram.get("exclusive_bytes").isNull() && ram.get("dedup_ratio").isNull(), String.valueOf(ram));
            JsonNode refs = JSON.readTree(StatsCommandTest.cli(data, "dedup-reference-stats", "--json").out());
            assertEquals(12, refs.get("by_volume").get("s-0").get("references").asInt(), refs.toString());
            assertTrue(StatsCommandTest.cli(data, "dedup-reference-stats").out().contains("volume.s-0.references"),
                    "the table keeps its dotted names");
        }
    }

    @Test
    void badInputExitsTwoNamingTheOption(@TempDir Path dir) throws Exception {
        try (OrionServer server = StatsCommandTest.start(dir)) {
            Path data = dir.resolve("data");
            Map<String, String[]> cases = new java.util.LinkedHashMap<>();
            cases.put("--size", new String[] {"lun", "create", IQN, "--size", "0"});
            cases.put("--size ", new String[] {"lun", "create", IQN, "--size", "-5"});
            cases.put("--size  ", new String[] {"lun", "create", IQN, "--size", "1000", "--block-size", "512"});
            cases.put("--lun", new String[] {"lun", "create", IQN, "--size", "1GiB", "--lun", "-3"});
            cases.put("--lun ", new String[] {"lun", "create", IQN, "--size", "1GiB", "--lun", "20000"});
            cases.put("--block-size", new String[] {"lun", "create", IQN, "--size", "1GiB", "--block-size", "513"});
            cases.put("--volume", new String[] {"lun", "create", IQN, "--size", "1GiB", "--volume", ".hidden"});
            cases.put("IQN", new String[] {"target", "create", "not-an-iqn"});
            cases.put("IQN ", new String[] {"lun", "create", "iqn.2026-11", "--size", "1GiB"});
            cases.put("INITIATOR", new String[] {"acl", "add", IQN, "host1"});
            cases.put("--luns", new String[] {"acl", "add", IQN, "iqn.1994-05.com.redhat:h1", "--luns", "7"});
            cases.put("--queue-depth", new String[] {"target", "set", IQN, "--queue-depth", "5000"});
            cases.put("--queue-depth ", new String[] {"target", "set", IQN, "--queue-depth", "-1"});
            cases.put("SIZE", new String[] {"lun", "resize", IQN, "0", "0"});
            cases.put("--interval", new String[] {"stats", "--interval", "0"});
            for (Map.Entry<String, String[]> c : cases.entrySet()) {
                StatsCommandTest.Run r = StatsCommandTest.cli(data, c.getValue());
                String cmd = String.join(" ", c.getValue());
                assertEquals(2, r.status(), cmd + ": " + r.err());
                String option = c.getKey().strip();
                assertTrue(r.err().startsWith("orion-dedup: " + option + ": ")
                        || r.err().startsWith("orion-dedup: Invalid value for option '" + option + "'"), cmd + ": " + r.err());
                assertFalse(r.err().matches("(?s).*(lun|acl|portal_group)\\[\\d+].*") || r.err().contains("attributes."),
                        cmd + ": " + r.err());
            }
            assertEquals(2, server.targetDirectory().targets().get(0).luns().size(), "nothing was changed");
        }
    }
}
