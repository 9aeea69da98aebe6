package io.orion.dedup.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which control socket an admin command talks to: options first, then ./data, then the installed service's. */
class ConnectionOptionsTest {

    @Test
    void theInstalledServiceSocketIsFoundWhenThereIsNoLocalOne(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(System.getenv("ORION_CONTROL_SOCKET") == null);
        Path data = dir.resolve("data");
        Path installed = Files.createFile(dir.resolve("installed.sock"));
        ConnectionOptions o = new ConnectionOptions();
        assertEquals(installed, o.socketPath(data, installed), "no ./data/control.sock: the service's");
        Files.createDirectories(data);
        Files.createFile(data.resolve("control.sock"));
        assertEquals(data.resolve("control.sock"), o.socketPath(data, installed), "a local server comes first");
        Files.delete(installed);
        Files.delete(data.resolve("control.sock"));
        assertEquals(data.resolve("control.sock"), o.socketPath(data, installed), "neither: the local one is named");
        o.data = dir.resolve("other");
        Files.createFile(installed);
        assertEquals(dir.resolve("other").resolve("control.sock"), o.socketPath(data, installed), "--data wins");
        o.socket = dir.resolve("s.sock");
        assertEquals(dir.resolve("s.sock"), o.socketPath(data, installed), "--socket wins");
    }
}
