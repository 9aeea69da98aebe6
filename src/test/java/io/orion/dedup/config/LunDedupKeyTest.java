package io.orion.dedup.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.dedup.DedupMode;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The optional {@code dedup = "inline" | "post" | "off"} key of a target file's {@code [[lun]]}. */
class LunDedupKeyTest {
    @TempDir
    Path dir;

    private static final String HEAD = "iqn = \"iqn.2026-11.io.orion:t\"\n";

    @Test
    void readWrittenBackAndRefusedWhenBad() throws Exception {
        TargetDefinition t = TargetFiles.parse(dir.resolve("t.toml"), HEAD
                + "[[lun]]\nid = 0\nsize = 4096\ndedup = \"post\"\n"
                + "[[lun]]\nid = 1\nsize = 4096\ndedup = \"OFF\"\n"
                + "[[lun]]\nid = 2\nsize = 4096\n");
        assertEquals(DedupMode.POST, t.lun(0).orElseThrow().dedup());
        assertEquals(DedupMode.OFF, t.lun(1).orElseThrow().dedup());
        assertNull(t.lun(2).orElseThrow().dedup());
        Path f = dir.resolve("t2.toml");
        TargetFiles.write(f, t);
        assertEquals(t, TargetFiles.read(f));
        assertTrue(TargetFiles.render(t).contains("dedup = \"post\""));
        // the resize/attach copies keep it
        assertEquals(DedupMode.POST, t.lun(0).orElseThrow().withSize(8192).dedup());
        assertEquals(DedupMode.POST, t.lun(0).orElseThrow().withVolume("x", 8192, 512, 0).dedup());

        ConfigException bad = assertThrows(ConfigException.class, () -> TargetFiles.parse(dir.resolve("b.toml"),
                HEAD + "[[lun]]\nid = 0\nsize = 4096\ndedup = \"sometimes\"\n"));
        assertEquals("lun[0].dedup", bad.key());
        assertEquals(5, bad.line());
        assertTrue(bad.getMessage().contains("\"inline\", \"post\", \"off\""), bad.getMessage());

        ConfigException file = assertThrows(ConfigException.class, () -> TargetFiles.parse(dir.resolve("c.toml"),
                HEAD + "[[lun]]\nid = 0\nsize = 4096\nbacking = \"file\"\ndedup = \"off\"\n"));
        assertEquals("lun[0].dedup", file.key());
    }
}
