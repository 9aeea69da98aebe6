package io.orion.dedup.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve} as a real process: ready line, then SIGTERM gives a clean shutdown and exit 0. */
class ServeProcessTest {

    @TempDir
    Path dir;

    @Test
    void sigtermStopsCleanlyWithExitZero() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path data = dir.resolve("data");
        Process p = new ProcessBuilder(List.of(java.toString(), "-cp", System.getProperty("java.class.path"),
                "-Dorion.server.class=" + FakeOrionServer.class.getName(), OrionCli.class.getName(),
                "serve", "--data", data.toString(), "--targets", dir.resolve("targets").toString(),
                "--listen", "127.0.0.1:0"))
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line = r.readLine();
            assertTrue(line != null && line.contains("ready") && line.contains("127.0.0.1:"), String.valueOf(line));
            p.toHandle().destroy(); // SIGTERM (Process.destroy would also close our end of the pipe)
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), "serve did not stop on SIGTERM");
            assertEquals(0, p.exitValue());
            assertEquals("orion-dedup stopped", r.readLine());
        } finally {
            p.destroyForcibly();
        }
        assertEquals("clean\n", Files.readString(data.resolve("closed")));
    }
}
