package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With {@code DATA/meta} deleted, {@code serve} must not create a fresh pool over the old container
 * file (LUNs would read zeros with GOOD status and the first write would overwrite old data): it
 * exits 1 with one message naming the device, the pool its headers name and what to do, never
 * prints {@code ready}, and leaves the device's bytes as they were.
 */
class MissingMetadataIT {

    @Test
    void serveRefusesToInitialiseOverAUsedDevice(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path config = AdminTools.config(dir, 0);
        Path img = dir.resolve("one.img");
        byte[] bytes = new byte[1 << 20];
        new Random(7).nextBytes(bytes);
        Files.write(img, bytes);
        ServerProcess server = ServerProcess.start(data, targets, config, ServerProcess.freePort());
        try {
            ExternalTool.run(Duration.ofMinutes(2), "qemu-img", "convert", "-n", "-f", "raw", "--target-image-opts",
                    img.toString(), server.rawRange(0, bytes.length)).assertOk();
            assertEquals(0, server.stop(Duration.ofMinutes(1)), server.output());
        } finally {
            server.close();
        }
        Path device = data.resolve("store").resolve("chunks.0");
        byte[] before = Files.readAllBytes(device);
        assertTrue(before.length > 0);
        try (Stream<Path> s = Files.walk(data.resolve("meta"))) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }

        String jar = System.getProperty("orion.jar", "target/orion-dedup.jar");
        ExternalTool.Result r = ExternalTool.run(Duration.ofMinutes(2), "java", "--add-opens",
                "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-jar", jar,
                "serve", "--config", config.toString(), "--targets", targets.toString(), "--data", data.toString(),
                "--listen", "127.0.0.1:" + ServerProcess.freePort());
        assertEquals(1, r.exitCode(), r.output());
        assertFalse(r.timedOut(), r.output());
        assertFalse(r.output().contains("orion-dedup ready"), r.output());
        assertTrue(r.output().contains("orion-dedup: refusing to create a new pool: device " + device), r.output());
        assertTrue(r.output().contains("container slot header of pool "), "what it found: " + r.output());
        assertTrue(r.output().contains("restore that metadata directory"), "what to do: " + r.output());
        assertArrayEquals(before, Files.readAllBytes(device), "the old containers are untouched");
    }
}
