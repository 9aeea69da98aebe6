package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.dedup.DedupMode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lun create --dedup inline|post|off} against an in-process server: the new LUN's volume
 * has that mode, its target file says so, and a bad value exits 2 naming {@code --dedup}.
 */
class LunDedupModeCliTest {
    private static final String IQN = "iqn.2026-11.io.orion:s";

    @Test
    void lunCreateTakesTheModeAndRefusesABadOne(@TempDir Path dir) throws Exception {
        try (OrionServer server = StatsCommandTest.start(dir)) {
            Path data = dir.resolve("data");
            StatsCommandTest.Run r = StatsCommandTest.cli(data, "lun", "create", IQN, "--lun", "5", "--volume", "p",
                    "--size", "4MiB", "--dedup", "post");
            assertEquals(0, r.status(), r.err());
            r = StatsCommandTest.cli(data, "lun", "create", IQN, "--lun", "6", "--volume", "o", "--size", "4MiB",
                    "--dedup", "OFF");
            assertEquals(0, r.status(), r.err());
            assertEquals(DedupMode.POST, server.volumes().pool().dedupMode("p"));
            assertEquals(DedupMode.OFF, server.volumes().pool().dedupMode("o"));
            assertEquals(DedupMode.INLINE, server.volumes().pool().dedupMode("s-0"), "no --dedup: the default");
            String file = Files.readString(dir.resolve("targets/s.toml"));
            assertTrue(file.contains("volume = \"p\"") && file.contains("dedup = \"post\"")
                    && file.contains("dedup = \"off\""), file);

            r = StatsCommandTest.cli(data, "lun", "create", IQN, "--size", "4MiB", "--dedup", "sometimes");
            assertEquals(2, r.status(), r.out() + r.err());
            assertTrue(r.err().contains("--dedup") && r.err().contains("inline, post or off"), r.err());
            r = StatsCommandTest.cli(data, "lun", "create", IQN, "--size", "4MiB", "--backing", "ram", "--dedup", "off");
            assertEquals(2, r.status(), r.out() + r.err());
            assertTrue(r.err().contains("--dedup"), r.err());
            assertTrue(server.volumes().pool().volumes().stream().noneMatch(v -> !v.name().matches("s-[01]|p|o")),
                    "a refused create makes no volume");

            // the key edited in the file, then reload: the live volume's mode follows, sessions stay
            Path f = dir.resolve("targets/s.toml");
            Files.writeString(f, Files.readString(f).replace("dedup = \"post\"", "dedup = \"off\""));
            r = StatsCommandTest.cli(data, "reload");
            assertEquals(0, r.status(), r.err());
            assertEquals(DedupMode.OFF, server.volumes().pool().dedupMode("p"));
            assertEquals(DedupMode.OFF, server.volumes().pool().dedupMode("o"));
        }
    }
}
