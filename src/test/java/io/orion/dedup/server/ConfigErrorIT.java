package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bad configuration stops {@code serve} before anything starts: exit status 2 and one message
 * naming the file, the line and the key — for an unknown key, an out-of-range
 * {@code compression_threshold}, a {@code durable_commits} that is no boolean and an out-of-range
 * target {@code queue_depth}. Nothing is left
 * listening and no control socket is created.
 */
class ConfigErrorIT {

    private static ExternalTool.Result serve(Path dir, Path config) throws Exception {
        return serve(dir, config, ServerProcess.copyTargets(dir));
    }

    private static ExternalTool.Result serve(Path dir, Path config, Path targets) throws Exception {
        String jar = System.getProperty("orion.jar", "target/orion-dedup.jar");
        return ExternalTool.run(Duration.ofMinutes(2), "java", "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-jar", jar, "serve", "--config", config.toString(),
                "--targets", targets.toString(), "--data", dir.resolve("data").toString(),
                "--listen", "127.0.0.1:" + ServerProcess.freePort());
    }

    @Test
    void cachesThatDoNotFitTheHeapExitTwo(@TempDir Path dir) throws Exception {
        // the default caches (1 GB + 256 MB) in a 1 GiB heap: before, the server started and answered
        // writes with HARDWARE ERROR once the block cache had filled the heap (OutOfMemoryError)
        String jar = System.getProperty("orion.jar", "target/orion-dedup.jar");
        ExternalTool.Result r = ExternalTool.run(Duration.ofMinutes(2), "java", "-Xmx1g", "-jar", jar, "serve",
                "--config", "conf/dedup.toml", "--targets", ServerProcess.copyTargets(dir).toString(),
                "--data", dir.resolve("data").toString(), "--listen", "127.0.0.1:" + ServerProcess.freePort());
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains("conf/dedup.toml: deduplication.cache_size = 1.0 GiB"), r.output());
        assertTrue(r.output().contains("ORION_HEAP=2g"), r.output());
        assertFalse(r.output().contains("orion-dedup ready"), r.output());
    }

    @Test
    void aTargetQueueDepthOutOfRangeExitsTwo(@TempDir Path dir) throws Exception {
        Path targets = ServerProcess.copyTargets(dir);
        Path file = targets.resolve("default.toml");
        String text = Files.readString(file);
        assertTrue(text.contains("queue_depth = 0\n"));
        Files.writeString(file, text.replace("queue_depth = 0\n", "queue_depth = 2000\n"));
        int line = 1 + Files.readAllLines(file).indexOf("queue_depth = 2000");
        ExternalTool.Result r = serve(dir, AdminTools.config(dir, 0), targets);
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains(file + ":" + line + ":"), "file and line: " + r.output());
        assertTrue(r.output().contains("attributes.queue_depth"), "key: " + r.output());
        assertTrue(r.output().contains("0..1024"), "the range: " + r.output());
        assertFalse(r.output().contains("orion-dedup ready"), r.output());
    }

    /** conf/dedup.toml with {@code line} inserted right after {@code [deduplication]}; returns its 1-based line number. */
    private static int withLine(Path file, String line) throws Exception {
        List<String> lines = new java.util.ArrayList<>(Files.readAllLines(Path.of("conf/dedup.toml")));
        int at = lines.indexOf("[deduplication]") + 1;
        assertTrue(at > 0, "conf/dedup.toml has a [deduplication] section");
        lines.add(at, line);
        Files.write(file, lines);
        return at + 1;
    }

    @Test
    void unknownKeyExitsTwoNamingFileLineAndKey(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("unknown.toml");
        int line = withLine(config, "hash_algoritm = \"sha256\"");
        ExternalTool.Result r = serve(dir, config);
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains(config + ":" + line + ":"), "file and line: " + r.output());
        assertTrue(r.output().contains("deduplication.hash_algoritm"), "key: " + r.output());
        assertFalse(r.output().contains("orion-dedup ready"), r.output());
        assertFalse(Files.exists(dir.resolve("data").resolve("control.sock")));
    }

    @Test
    void compressionThresholdAboveOneExitsTwo(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("threshold.toml");
        String text = Files.readString(Path.of("conf/dedup.toml"));
        assertTrue(text.contains("compression_threshold = 0.8\n"));
        Files.writeString(config, text.replace("compression_threshold = 0.8\n", "compression_threshold = 2.0\n"));
        int line = 1 + (int) Files.readAllLines(config).indexOf("compression_threshold = 2.0");
        ExternalTool.Result r = serve(dir, config);
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains(config + ":" + line + ":"), "file and line: " + r.output());
        assertTrue(r.output().contains("deduplication.compression_threshold"), "key: " + r.output());
        assertTrue(r.output().contains("2.0"), "value: " + r.output());
        assertFalse(r.output().contains("orion-dedup ready"), r.output());
    }

    @Test
    void durableCommitsThatIsNoBooleanExitsTwo(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("durable.toml");
        String text = Files.readString(Path.of("conf/dedup.toml"));
        assertTrue(text.contains("\ndurable_commits = false\n"));
        Files.writeString(config, text.replace("\ndurable_commits = false\n", "\ndurable_commits = \"yes\"\n"));
        int line = 1 + Files.readAllLines(config).indexOf("durable_commits = \"yes\"");
        ExternalTool.Result r = serve(dir, config);
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains(config + ":" + line + ": pool.durable_commits"),
                "file, line, key: " + r.output());
        assertTrue(r.output().contains("expected true or false"), "the reason: " + r.output());
        assertFalse(r.output().contains("orion-dedup ready"), r.output());
        assertFalse(Files.exists(dir.resolve("data").resolve("control.sock")));
    }
}
