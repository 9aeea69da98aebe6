package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * {@code [pool] durable_commits = true} end to end: the server says the mode is on (log line at
 * pool open, {@code status} text and JSON); data written through iSCSI by {@code qemu-img} with
 * {@code -t unsafe} — QEMU then sends no SYNCHRONIZE CACHE at all, so nothing but the per-commit
 * durability stands behind the writes — is read back identical after kill -9 and a restart, and a
 * scrub finds nothing wrong. The same pool then opens with the default (false) and still holds
 * the data: the setting changes nothing on disk.
 *
 * <p>A power loss itself cannot be simulated here; what the mode adds against one (devices forced
 * and LMDB synced before every commit completes) is shown by the mode being in effect.
 */
class DurableCommitsIT {

    private static final Duration LIMIT = Duration.ofMinutes(5);
    private static final int BLOCK = 4096;

    /** 48 MiB: unique random blocks, repeats of a few blocks (shared chunks) and zero blocks. */
    private static Path mixedImage(Path dir) throws Exception {
        Path f = dir.resolve("mixed.img");
        Random rnd = new Random(20261125);
        byte[][] dups = new byte[4][BLOCK];
        for (byte[] d : dups) {
            rnd.nextBytes(d);
        }
        byte[] zero = new byte[BLOCK];
        byte[] unique = new byte[BLOCK];
        try (OutputStream out = Files.newOutputStream(f)) {
            for (int b = 0; b < (48 << 20) / BLOCK; b++) {
                int kind = rnd.nextInt(10);
                if (kind < 6) {
                    rnd.nextBytes(unique);
                    out.write(unique);
                } else if (kind < 9) {
                    out.write(dups[rnd.nextInt(dups.length)]);
                } else {
                    out.write(zero);
                }
            }
        }
        return f;
    }

    private static Path durableConfig(Path dir) throws Exception {
        Path config = AdminTools.config(dir, 0);
        String text = Files.readString(config);
        assertTrue(text.contains("\ndurable_commits = false\n"), "conf/dedup.toml ships the key with its default");
        Path durable = dir.resolve("durable.toml");
        Files.writeString(durable, text.replace("\ndurable_commits = false\n", "\ndurable_commits = true\n"));
        return durable;
    }

    private static boolean statusSaysDurable(ServerProcess server) throws Exception {
        ExternalTool.Result text = AdminTools.cli(server, "status").assertOk();
        JsonNode json = AdminTools.json(AdminTools.cli(server, "status", "--json").assertOk());
        assertTrue(json.has("durable_commits"), json.toString());
        boolean durable = json.get("durable_commits").asBoolean();
        String line = durable ? "Commits:   durable at every commit (durable_commits = true)"
                : "Commits:   durable at flushes (durable_commits = false)";
        assertTrue(text.output().contains(line), text.output());
        return durable;
    }

    private static void assertIdentical(Path image, ServerProcess server, String when) throws Exception {
        String cmp = ExternalTool.run(LIMIT, "qemu-img", "compare", "-f", "raw", "-F", "raw",
                image.toString(), server.url(0)).output();
        assertTrue(cmp.contains("Images are identical"), when + ": " + cmp);
    }

    private static void assertScrubClean(ServerProcess server) throws Exception {
        JsonNode scrub = AdminTools.json(AdminTools.cli(server, "scrub", "--json").assertOk());
        assertEquals(0, scrub.findValue("crc_errors").asLong(), scrub.toString());
        assertEquals(0, scrub.findValue("fingerprint_mismatches").asLong(), scrub.toString());
    }

    @Test
    void unflushedWritesSurviveKillNineAndTheModeIsVisible(@TempDir Path dir) throws Exception {
        Path image = mixedImage(dir);
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path durable = durableConfig(dir);
        int port = ServerProcess.freePort();

        ServerProcess first = ServerProcess.start(data, targets, durable, port);
        try {
            assertTrue(first.output().contains("durable commits: on"), first.output());
            assertTrue(statusSaysDurable(first));
            // -t unsafe: QEMU ignores flushes, so no SYNCHRONIZE CACHE reaches the target
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-t", "unsafe", "-W", "-m", "8", "-f", "raw",
                    "-O", "raw", image.toString(), first.url(0)).assertOk();
        } finally {
            first.kill();
        }
        assertFalse(first.alive());

        try (ServerProcess second = ServerProcess.start(data, targets, durable, port)) {
            assertTrue(statusSaysDurable(second));
            assertIdentical(image, second, "after kill -9 with durable commits");
            assertScrubClean(second);
            assertEquals(0, second.stop(Duration.ofSeconds(60)), second.output());
        }

        try (ServerProcess plain = ServerProcess.start(data, targets, AdminTools.config(dir, 0), port)) {
            assertTrue(plain.output().contains("durable commits: off"), plain.output());
            assertFalse(statusSaysDurable(plain));
            assertIdentical(image, plain, "the same pool opened with durable_commits = false");
        }
    }
}
