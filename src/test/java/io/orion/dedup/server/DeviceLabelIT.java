package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.containers.SlotHeader;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serve} finds the pool's devices by their labels: with {@code [pool] devices} listed in
 * another order every block reads back; a device labelled for another pool makes it exit 1 naming
 * the device, which is left byte-identical; a missing device makes it exit 1 naming it.
 */
class DeviceLabelIT {
    private static final Duration LIMIT = Duration.ofMinutes(2);

    private static Path config(Path dir, String name, Path... devices) throws Exception {
        Path base = AdminTools.config(dir, 0);
        StringBuilder list = new StringBuilder("devices = [\n");
        for (Path d : devices) {
            list.append("  { path = \"").append(d).append("\" },\n");
        }
        list.append("]\n");
        String text = Files.readString(base);
        assertTrue(text.contains("\n[pool]\n"), "the base config has a [pool] section");
        Path f = dir.resolve(name);
        Files.writeString(f, text.replace("\n[pool]\n", "\n[pool]\n" + list)); // inside [pool], whatever follows it
        return f;
    }

    private static ExternalTool.Result serveExpectingFailure(Path config, Path targets, Path data) throws Exception {
        String jar = System.getProperty("orion.jar", "target/orion-dedup.jar");
        return ExternalTool.run(LIMIT, "java", "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens",
                "java.base/sun.nio.ch=ALL-UNNAMED", "-jar", jar, "serve", "--config", config.toString(), "--targets",
                targets.toString(), "--data", data.toString(), "--listen", "127.0.0.1:" + ServerProcess.freePort());
    }

    @Test
    void devicesAreFoundByTheirLabels(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path d0 = dir.resolve("disks/a.img");
        Path d1 = dir.resolve("disks/b.img");
        byte[] content = new byte[2 << 20];
        new Random(3).nextBytes(content);

        ServerProcess server = ServerProcess.start(data, targets, config(dir, "ab.toml", d0, d1), ServerProcess.freePort());
        try {
            // in pieces: each batch of records is appended to the next device in turn
            int piece = content.length / 8;
            for (int i = 0; i < 8; i++) {
                Path part = dir.resolve("part.img");
                Files.write(part, java.util.Arrays.copyOfRange(content, i * piece, (i + 1) * piece));
                ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "--target-image-opts",
                        part.toString(), server.rawRange((long) i * piece, piece)).assertOk();
            }
            assertEquals(0, server.stop(LIMIT), server.output());
        } finally {
            server.close();
        }
        assertTrue(Files.size(d0) > SlotHeader.SIZE && Files.size(d1) > SlotHeader.SIZE,
                "both devices hold data: " + Files.size(d0) + ", " + Files.size(d1));

        server = ServerProcess.start(data, targets, config(dir, "ba.toml", d1, d0), ServerProcess.freePort());
        try {
            Path back = dir.resolve("back.img");
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-O", "raw", "--image-opts",
                    server.rawRange(0, content.length), back.toString()).assertOk();
            assertArrayEquals(content, Files.readAllBytes(back), "devices listed in another order");
            assertEquals(0, server.stop(LIMIT), server.output());
        } finally {
            server.close();
        }

        // a device of another pool in place of b.img: its label names that pool
        Path foreign = dir.resolve("disks/other.img");
        UUID other = UUID.randomUUID();
        ByteBuffer label = SlotHeader.encode(0, 0, 1, other);
        byte[] foreignBytes = new byte[8192];
        label.get(foreignBytes, 0, SlotHeader.SIZE);
        Files.write(foreign, foreignBytes);
        ExternalTool.Result r = serveExpectingFailure(config(dir, "foreign.toml", foreign, d0), targets, data);
        assertEquals(1, r.exitCode(), r.output());
        assertFalse(r.output().contains("orion-dedup ready"), r.output());
        assertTrue(r.output().contains(foreign.toString()) && r.output().contains(other.toString()), r.output());
        assertArrayEquals(foreignBytes, Files.readAllBytes(foreign), "the foreign device is not written");

        // b.img missing from the configuration
        r = serveExpectingFailure(config(dir, "a.toml", d0), targets, data);
        assertEquals(1, r.exitCode(), r.output());
        assertTrue(r.output().contains("device #1") && r.output().contains("missing"), r.output());
    }
}
