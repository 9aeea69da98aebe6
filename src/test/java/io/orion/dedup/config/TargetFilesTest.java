package io.orion.dedup.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TargetFilesTest {

    @TempDir
    Path dir;

    private static TargetDefinition full() {
        return new TargetDefinition("iqn.2026-11.io.orion:db", "Database \"prod\"",
                List.of(new PortalGroup(1, List.of()), new PortalGroup(2, List.of(new HostPort("10.0.0.5", 3261), new HostPort("::1", 3260)))),
                List.of(LunDefinition.dedup(0, "db-0", 16L << 30, 512),
                        new LunDefinition(1, "db-1", 1L << 30, 4096, 16384, true, true, LunBacking.DEDUP, null),
                        new LunDefinition(2, "scratch", 64L << 20, 512, 0, false, false, LunBacking.FILE, Path.of("/srv/scratch.img"))),
                List.of(new AclDefinition("iqn.1994-05.com.redhat:client1", List.of(0, 1), false,
                                new ChapCredentials("client1", "secret-123456", "target1", "mutual-654321")),
                        new AclDefinition("iqn.1991-05.com.microsoft:win", List.of(), true, null)),
                ChapCredentials.oneWay("everyone", "target-secret1"),
                ChapCredentials.oneWay("disc", "discovery-secret"),
                new TargetAttributes(true, false, 64));
    }

    @Test
    void roundTripThroughAFile() throws Exception {
        TargetDefinition t = full();
        assertEquals(List.of(), t.problems());
        Path f = dir.resolve("db.toml");
        TargetFiles.write(f, t);
        assertEquals(t, TargetFiles.read(f));
        assertFalse(Files.exists(dir.resolve(".db.toml.tmp")));
    }

    @Test
    void shippedDefaultTarget() throws Exception {
        TargetDirectory d = TargetDirectory.load(Path.of("targets"));
        TargetDefinition t = d.find("iqn.2026-11.io.orion:default").orElseThrow();
        assertEquals(1, d.targets().size());
        assertTrue(t.attributes().demoMode());
        assertFalse(t.attributes().authentication());
        LunDefinition lun = t.lun(0).orElseThrow();
        assertEquals(16L << 30, lun.size());
        assertEquals(512, lun.blockSize());
        assertTrue(lun.thin());
        assertEquals(LunBacking.DEDUP, lun.backing());
        assertEquals(4096, lun.dedupBlockSize(DedupSettings.defaults().hashBlockSize()));
        assertEquals(List.of(PortalGroup.serverDefault()), t.portalGroups());
    }

    @Test
    void secretsNeverInToStringAndMaskedCopies() {
        TargetDefinition t = full();
        assertFalse(t.toString().contains("secret-123456"), t.toString());
        assertFalse(t.toString().contains("target-secret1"));
        String masked = TargetFiles.render(t.masked());
        assertFalse(masked.contains("secret-123456"));
        assertFalse(masked.contains("mutual-654321"));
        assertTrue(masked.contains(ChapCredentials.MASK));
    }

    private ConfigException fails(String text) {
        return assertThrows(ConfigException.class, () -> TargetFiles.parse(dir.resolve("t.toml"), text));
    }

    @Test
    void validationErrorsNameFileLineAndKey() {
        ConfigException e = fails("""
                iqn = "iqn.2026-11.io.orion:t"

                [[lun]]
                id = 0
                size = "1GiB"

                [[lun]]
                id = 1
                size = 1000
                """);
        assertEquals("lun[1].size", e.key());
        assertEquals(9, e.line());
        assertTrue(e.getMessage().contains("t.toml:9: lun[1].size: must be a multiple of the block size 512"), e.getMessage());

        ConfigException shortSecret = fails("""
                iqn = "iqn.2026-11.io.orion:t"
                [[acl]]
                initiator = "iqn.1994-05.com.redhat:c"
                [acl.chap]
                user = "u"
                secret = "short"
                """);
        assertEquals("acl[0].chap.secret", shortSecret.key());
        assertEquals(6, shortSecret.line());

        assertEquals("iqn", fails("iqn = \"target-one\"\n").key());
        ConfigException typed = fails("iqn = \"iqn.2026-11.io.orion:t\"\n[chap]\nuser = \"u\"\nsecret = 123456789012345\n");
        assertEquals("chap.secret", typed.key());
        assertFalse(typed.getMessage().contains("123456789012345"), "a secret is never echoed: " + typed.getMessage());
        assertEquals("lun[0].bogus", fails("iqn = \"iqn.2026-11.io.orion:t\"\n[[lun]]\nid = 0\nsize = 4096\nbogus = 1\n").key());
        assertEquals("acl[0].mapped_luns",
                fails("iqn = \"iqn.2026-11.io.orion:t\"\n[[acl]]\ninitiator = \"iqn.2000-01.x:y\"\nmapped_luns = [3]\n").key());
        assertEquals("lun[0].thin",
                fails("iqn = \"iqn.2026-11.io.orion:t\"\n[[lun]]\nid = 0\nsize = 4096\nthin = false\n").key());
        assertEquals("attributes.authentication",
                fails("iqn = \"iqn.2026-11.io.orion:t\"\n[attributes]\nauthentication = true\ndemo_mode = true\n").key());
        assertEquals("chap.mutual_secret", fails("""
                iqn = "iqn.2026-11.io.orion:t"
                [chap]
                user = "a"
                secret = "same-secret-1"
                mutual_user = "b"
                mutual_secret = "same-secret-1"
                """).key());
    }

    @Test
    void directorySavesLoadsAndDeletes() throws Exception {
        Path targets = dir.resolve("targets");
        TargetDirectory d = TargetDirectory.load(targets);
        assertEquals(List.of(), d.targets());
        Path f = d.save(full());
        assertEquals(targets.resolve("db.toml"), f);
        TargetDefinition other = TargetDefinition.create("iqn.2026-11.io.other:db", null, false)
                .withLun(LunDefinition.dedup(0, "other-0", 1L << 20, 512));
        assertEquals(targets.resolve("db-2.toml"), d.save(other));

        TargetDirectory again = TargetDirectory.load(targets);
        assertEquals(full(), again.find("iqn.2026-11.io.orion:db").orElseThrow());
        assertEquals(other, again.find("iqn.2026-11.io.other:db").orElseThrow());
        assertEquals(2, again.targets().size());

        ConfigException dup = assertThrows(ConfigException.class,
                () -> again.save(other.withLun(LunDefinition.dedup(1, "db-0", 1L << 20, 512))));
        assertEquals("lun[1].volume", dup.key());

        assertTrue(again.delete("IQN.2026-11.io.other:db"));
        assertFalse(again.delete("iqn.2026-11.io.other:db"));
        assertFalse(Files.exists(targets.resolve("db-2.toml")));
        assertEquals(1, TargetDirectory.load(targets).targets().size());
    }

    @Test
    void duplicateTargetsAcrossFilesAreRejected() throws Exception {
        Path targets = dir.resolve("targets");
        Files.createDirectories(targets);
        Files.writeString(targets.resolve("a.toml"), "iqn = \"iqn.2026-11.io.orion:x\"\n");
        Files.writeString(targets.resolve("b.toml"), "iqn = \"iqn.2026-11.io.orion:X\"\n");
        ConfigException e = assertThrows(ConfigException.class, () -> TargetDirectory.load(targets));
        assertTrue(e.getMessage().startsWith(targets.resolve("b.toml") + ":1: iqn"), e.getMessage());
    }

    @Test
    void documentedExamplesAreValid() throws Exception {
        String doc = Files.readString(Path.of("docs/configuration.md"));
        int start = doc.indexOf("```toml\niqn = ");
        String block = doc.substring(start + 8, doc.indexOf("```", start + 8));
        TargetDefinition t = TargetFiles.parse(Path.of("docs/configuration.md"), block);
        assertEquals("iqn.2026-11.io.orion:db", t.iqn());
        assertEquals(2, t.portalGroups().size());
        assertTrue(t.acls().get(0).chap().mutual());
        int pool = doc.indexOf("```toml\n[pool]");
        OrionConfig c = OrionConfig.parse(Path.of("docs/configuration.md"), doc.substring(pool + 8, doc.indexOf("```", pool + 8)));
        assertEquals(2, c.pool().devices().size());
    }

    @Test
    void withersKeepTheDefinitionConsistent() {
        TargetDefinition t = full().withoutLun(1);
        assertEquals(List.of(0), t.acl("iqn.1994-05.com.redhat:client1").orElseThrow().mappedLuns());
        assertEquals(List.of(), t.problems());
        TargetDefinition p = t.withPortalGroup(3, g -> new PortalGroup(g.tag(), List.of(new HostPort("127.0.0.1", 3262))));
        assertEquals(3, p.portalGroups().size());
        TargetDefinition bigger = p.withLun(p.lun(0).orElseThrow().withSize(32L << 30));
        assertEquals(32L << 30, bigger.lun(0).orElseThrow().size());
        assertEquals(2, bigger.luns().size());
    }
}
