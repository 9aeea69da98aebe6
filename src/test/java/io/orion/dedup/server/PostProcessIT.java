package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Post-process dedup the way an admin meets it: a LUN with {@code dedup = "post"} in its target file,
 * an image written to it by qemu over iSCSI (stored as it comes: every block its own chunk, staged),
 * then {@code orion-dedup dedup run}; the same image written to an inline LUN of the same pool then
 * stores nothing new, both LUNs show the same figures, both read back the image, before and after a
 * restart.
 */
class PostProcessIT {
    static final String POST_IQN = "iqn.2026-11.io.orion:post";
    static final int BLOCK = 4096;
    static final int BLOCKS = 8192; // 32 MiB
    static final int CONTENTS = 1024;
    static final int DISTINCT = 1008;

    /**
     * 32 MiB of 4 KiB blocks: every 64th block zeros, the others drawn from 1024 random contents
     * (block i has content 7i mod 1024: the zero positions take the same 16 contents out of each
     * cycle, so 1008 distinct contents are used, about 8 times each).
     */
    static Path image(Path dir) throws Exception {
        byte[][] contents = new byte[CONTENTS][BLOCK];
        Random r = new Random(2026);
        for (byte[] c : contents) {
            r.nextBytes(c);
        }
        Path f = dir.resolve("image.raw");
        try (OutputStream out = Files.newOutputStream(f)) {
            for (int i = 0; i < BLOCKS; i++) {
                out.write(i % 64 == 63 ? new byte[BLOCK] : contents[(i * 7) % CONTENTS]);
            }
        }
        return f;
    }

    static void write(ServerProcess server, String iqn, Path image) throws Exception {
        ExternalTool.run(Duration.ofMinutes(3), "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw",
                image.toString(), server.url(iqn, 0)).assertOk();
    }

    static void compare(ServerProcess server, String iqn, Path image) throws Exception {
        String out = ExternalTool.run(Duration.ofMinutes(3), "qemu-img", "compare", "-f", "raw", "-F", "raw",
                image.toString(), server.url(iqn, 0)).output();
        // the LUN is larger than the image: qemu-img compares the image's length and reports the rest
        assertTrue(out.contains("Images are identical") || out.contains("Warning: Image size mismatch!")
                && !out.contains("Content mismatch"), iqn + ": " + out);
    }

    static JsonNode volume(JsonNode stats, String name) {
        for (JsonNode v : stats.get("volumes")) {
            if (name.equals(v.path("volume").asText())) {
                return v;
            }
        }
        throw new AssertionError("no volume " + name + " in " + stats.toPrettyString());
    }

    @Test
    void aPostProcessLunEndsWithTheFiguresOfAnInlineLun(@TempDir Path dir) throws Exception {
        Path image = image(dir);
        Path targets = ServerProcess.copyTargets(dir);
        Files.writeString(targets.resolve("post.toml"), "iqn = \"" + POST_IQN + "\"\n\n[attributes]\n"
                + "authentication = false\ndemo_mode = true\n\n[[portal_group]]\ntag = 1\nportals = []\n\n"
                + "[[lun]]\nid = 0\nvolume = \"post-0\"\nsize = \"64MiB\"\nblock_size = 512\nthin = true\n"
                + "backing = \"dedup\"\ndedup = \"post\"\n");
        Path data = dir.resolve("data");
        int port = ServerProcess.freePort();
        long nonZero = BLOCKS - BLOCKS / 64;
        try (ServerProcess server = ServerProcess.start(data, targets, port)) {
            write(server, POST_IQN, image);
            JsonNode before = StatsJson.fetch(data);
            JsonNode post = volume(before, "post-0");
            assertEquals("post", post.path("dedup_mode").asText(), post.toPrettyString());
            assertEquals(nonZero, post.path("staged_blocks").asLong(), "every non-zero block waits for the pass");
            assertEquals(nonZero, StatsJson.pool(before).path("unique_chunks").asLong(),
                    "stored as it came: one chunk per non-zero block");

            ExternalTool.Result run = ExternalTool.run(Duration.ofMinutes(3), "scripts/orion-dedup", "dedup", "run",
                    "--data", data.toString()).assertOk();

            JsonNode after = StatsJson.fetch(data);
            post = volume(after, "post-0");
            assertEquals(0, post.path("staged_blocks").asLong(), run.output());
            assertEquals(DISTINCT, StatsJson.pool(after).path("unique_chunks").asLong(), run.output());
            assertEquals((long) DISTINCT * BLOCK, post.path("unique_bytes").asLong());
            compare(server, POST_IQN, image);

            // the same image to the inline default LUN: every block is found in the index
            write(server, ServerProcess.DEFAULT_IQN, image);
            JsonNode both = StatsJson.fetch(data);
            JsonNode inline = volume(both, "default-0");
            assertEquals("inline", inline.path("dedup_mode").asText());
            assertEquals(DISTINCT, StatsJson.pool(both).path("unique_chunks").asLong(), "nothing new stored");
            for (String field : new String[] {"logical_used_bytes", "stored_bytes", "unique_bytes"}) {
                assertEquals(inline.path(field).asLong(), volume(both, "post-0").path(field).asLong(), field);
            }
            compare(server, ServerProcess.DEFAULT_IQN, image);
            assertEquals(0, server.stop(Duration.ofSeconds(60)));
        }
        try (ServerProcess server = ServerProcess.start(data, targets, port)) {
            compare(server, POST_IQN, image);
            compare(server, ServerProcess.DEFAULT_IQN, image);
            JsonNode restarted = StatsJson.fetch(data);
            assertEquals(DISTINCT, StatsJson.pool(restarted).path("unique_chunks").asLong());
            assertEquals("post", volume(restarted, "post-0").path("dedup_mode").asText());
        }
    }
}
