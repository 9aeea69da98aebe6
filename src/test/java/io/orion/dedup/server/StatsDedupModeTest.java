package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.blockdev.BlockDevice;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stats} and {@code lun list} show each LUN's dedup mode and its own dedup ratio, and flag
 * a LUN whose data does not dedup (ratio below 1.05 after at least 1 MiB written), from known
 * duplicate and unique data.
 */
class StatsDedupModeTest {
    private static final String IQN = "iqn.2026-11.io.orion:m";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BLOCKS = 512; // 2 MiB of 4 KiB blocks

    private static OrionServer start(Path dir) throws Exception {
        Path targets = Files.createDirectories(dir.resolve("targets"));
        StringBuilder t = new StringBuilder("iqn = \"" + IQN + "\"\n\n[attributes]\ndemo_mode = true\n");
        String[][] luns = {{"0", "m-unique", "inline"}, {"1", "m-dup", "inline"}, {"2", "m-off", "off"},
            {"3", "m-post", "post"}, {"4", "m-small", "inline"}};
        for (String[] l : luns) {
            t.append("\n[[lun]]\nid = ").append(l[0]).append("\nvolume = \"").append(l[1])
                    .append("\"\nsize = \"16MiB\"\nblock_size = 4096\ndedup = \"").append(l[2]).append("\"\n");
        }
        t.append("\n[[lun]]\nid = 5\nvolume = \"m-ram\"\nsize = \"4MiB\"\nbacking = \"ram\"\n");
        Files.writeString(targets.resolve("m.toml"), t);
        Path conf = dir.resolve("dedup.toml");
        Files.writeString(conf, "[deduplication]\ncache_size = \"16MB\"\nhash_cache_size = \"16MB\"\n\n"
                + "[metrics]\nenabled = false\n");
        return OrionServer.start(OrionConfig.load(conf), conf, targets, dir.resolve("data"),
                List.of(new InetSocketAddress("127.0.0.1", 0)));
    }

    private static void write(BlockDevice d, int blocks, int distinct, long seed) throws Exception {
        byte[][] pattern = new byte[distinct][4096];
        Random r = new Random(seed);
        for (byte[] b : pattern) {
            r.nextBytes(b);
        }
        for (int i = 0; i < blocks; i++) {
            d.write(i, ByteBuffer.wrap(pattern[i % distinct]), false);
        }
        d.flush();
    }

    @Test
    void eachLunShowsItsModeAndRatioAndALunThatDoesNotDedupIsFlagged(@TempDir Path dir) throws Exception {
        try (OrionServer server = start(dir)) {
            Map<Integer, BlockDevice> byLun = server.liveTargets().get(0).devices();
            write(byLun.get(0), BLOCKS, BLOCKS, 1);      // 2 MiB, every block unique: 1.00x
            write(byLun.get(1), BLOCKS, 8, 2);           // 2 MiB of 8 distinct blocks: 64.00x
            write(byLun.get(2), BLOCKS, BLOCKS, 3);      // 2 MiB unique, but dedup is off anyway
            write(byLun.get(3), BLOCKS, BLOCKS, 4);      // 2 MiB unique, post-process: staged until the pass
            write(byLun.get(4), 16, 16, 5);              // 64 KiB unique: too little to judge
            write(byLun.get(5), BLOCKS, BLOCKS, 6);      // RAM: no dedup figures
            assertEquals(6, byLun.size());
            Path data = dir.resolve("data");

            StatsCommandTest.Run json = StatsCommandTest.cli(data, "stats", "--json");
            assertEquals(0, json.status(), json.err());
            Map<String, JsonNode> vols = new HashMap<>();
            for (JsonNode v : JSON.readTree(json.out()).get("volumes")) {
                vols.put(v.get("volume").asText(), v);
            }
            JsonNode u = vols.get("m-unique");
            assertEquals("inline", u.get("dedup_mode").asText());
            assertEquals(BLOCKS * 4096L, u.get("logical_used_bytes").asLong());
            assertEquals(BLOCKS * 4096L, u.get("unique_bytes").asLong());
            assertEquals(1.0, u.get("dedup_ratio").asDouble());
            assertTrue(u.get("low_dedup").asBoolean(), u.toString());

            JsonNode d = vols.get("m-dup");
            assertEquals("inline", d.get("dedup_mode").asText());
            assertEquals(BLOCKS * 4096L, d.get("logical_used_bytes").asLong());
            assertEquals(8 * 4096L, d.get("unique_bytes").asLong());
            assertEquals(64.0, d.get("dedup_ratio").asDouble());
            assertFalse(d.get("low_dedup").asBoolean(), d.toString());

            JsonNode o = vols.get("m-off");
            assertEquals("off", o.get("dedup_mode").asText());
            assertEquals(1.0, o.get("dedup_ratio").asDouble());
            assertFalse(o.get("low_dedup").asBoolean(), "an off LUN is not told to turn dedup off: " + o);

            JsonNode p = vols.get("m-post");
            assertEquals("post", p.get("dedup_mode").asText());
            assertEquals(BLOCKS * 4096L, p.get("logical_used_bytes").asLong());
            assertEquals(BLOCKS, p.get("staged_blocks").asLong(), p.toString());
            assertEquals(1.0, p.get("dedup_ratio").asDouble());
            assertFalse(p.get("low_dedup").asBoolean(), "not judged while blocks wait for the pass: " + p);
            assertEquals(0, u.get("staged_blocks").asLong());
            JsonNode s = vols.get("m-small");
            assertEquals(1.0, s.get("dedup_ratio").asDouble());
            assertFalse(s.get("low_dedup").asBoolean(), "64 KiB is too little to judge: " + s);
            JsonNode ram = vols.get("m-ram");
            assertTrue(ram.get("dedup_mode").isNull() && ram.get("dedup_ratio").isNull()
                    && ram.get("staged_blocks").isNull(), ram.toString());
            assertFalse(ram.get("low_dedup").asBoolean());

            StatsCommandTest.Run text = StatsCommandTest.cli(data, "stats");
            assertEquals(0, text.status(), text.err());
            String out = text.out();
            assertTrue(out.contains("Note: LUN 0 of " + IQN + " (volume m-unique): dedup ratio 1.00x after 2.0 MiB"
                    + " written — its data does not dedup; consider dedup = \"off\" for it."), out);
            assertEquals(1, out.split("Note: ", -1).length - 1, "only m-unique is flagged:\n" + out);
            assertTrue(line(out, "m-dup").matches(".*\\s64\\.00x\\s.*\\sinline"), out);
            assertTrue(line(out, "m-off").matches(".*\\soff"), out);
            assertTrue(line(out, "m-post").matches(".*\\spost"), out);
            assertTrue(line(out, "m-ram").matches(".*\\s-"), out);

            // after the pass the post-process LUN's unique data is judged like the inline one's
            assertEquals(0, StatsCommandTest.cli(data, "dedup", "run").status());
            JsonNode after = null;
            for (JsonNode v : JSON.readTree(StatsCommandTest.cli(data, "stats", "--json").out()).get("volumes")) {
                if (v.get("volume").asText().equals("m-post")) {
                    after = v;
                }
            }
            assertEquals(0, after.get("staged_blocks").asLong(), after.toString());
            assertEquals(1.0, after.get("dedup_ratio").asDouble());
            assertTrue(after.get("low_dedup").asBoolean(), after.toString());
            assertTrue(StatsCommandTest.cli(data, "stats").out().contains("Note: LUN 3 of " + IQN + " (volume m-post)"));

            JsonNode luns = JSON.readTree(StatsCommandTest.cli(data, "lun", "list", IQN, "--json").out());
            Map<Integer, String> modes = new HashMap<>();
            luns.forEach(l -> modes.put(l.get("lun").asInt(), l.get("dedup_mode").isNull() ? null
                    : l.get("dedup_mode").asText()));
            Map<Integer, String> want = new HashMap<>(Map.of(0, "inline", 1, "inline", 2, "off", 3, "post", 4, "inline"));
            want.put(5, null);
            assertEquals(want, modes);
            String list = StatsCommandTest.cli(data, "lun", "list", IQN).out();
            assertTrue(list.split("\\R")[0].contains("DEDUP MODE"), list);
            assertTrue(line(list, "m-post").matches(".*\\sm-post\\s.*\\s4096\\s+post\\s+dedup\\s.*"), list);
            assertTrue(line(list, "m-ram").matches(".*\\sm-ram\\s.*\\s-\\s+-\\s+ram\\s.*"), list);
        }
    }

    private static String line(String out, String contains) {
        for (String l : out.split("\\R")) {
            if (l.contains(contains)) {
                return l;
            }
        }
        return "";
    }
}
