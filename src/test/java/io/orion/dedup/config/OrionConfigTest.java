package io.orion.dedup.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OrionConfigTest {

    @TempDir
    Path dir;

    private Path write(String text) throws Exception {
        Path f = dir.resolve("dedup.toml");
        Files.writeString(f, text);
        return f;
    }

    private ConfigException fails(String text) throws Exception {
        Path f = write(text);
        return assertThrows(ConfigException.class, () -> OrionConfig.load(f));
    }

    @Test
    void shippedConfigEqualsBuiltInDefaults() throws Exception {
        OrionConfig shipped = OrionConfig.load(Path.of("conf/dedup.toml"));
        assertEquals(OrionConfig.defaults().withSource(Path.of("conf/dedup.toml")), shipped);
    }

    @Test
    void productExampleSectionIsAcceptedExceptTheCompressedCache() throws Exception {
        String example = """
                [deduplication]
                # Hash configuration settings
                hash_algorithm = "sha256"
                hash_block_size = 4096
                hash_cache_size = "256MB"
                hash_optimization = true

                # Reference management settings
                reference_max_count = 65536
                reference_cleanup_interval = 3600
                reference_optimization = true
                reference_metadata_size = "128MB"

                # Cache configuration settings
                cache_size = "1GB"
                cache_policy = "lru"
                cache_optimization = true
                cache_compression = true

                # Compression settings
                compression_enabled = true
                compression_algorithm = "lz4"
                compression_level = 6
                compression_threshold = 0.8

                # Performance settings
                background_processing = true
                background_interval = 300
                performance_optimization = true
                real_time_deduplication = true
                """;
        ConfigException e = assertThrows(ConfigException.class, () -> OrionConfig.load(write(example)));
        assertEquals("deduplication.cache_compression", e.key());
        assertEquals(18, e.line());
        assertTrue(e.getMessage().contains("cache_compression = true: cannot be honoured by this build"), e.getMessage());
        OrionConfig c = OrionConfig.load(write(example.replace("cache_compression = true", "cache_compression = false")));
        DedupSettings d = c.deduplication();
        assertEquals(256L << 20, d.hashCacheSize());
        assertEquals(1L << 30, d.cacheSize());
        assertEquals(128L << 20, d.referenceMetadataSize());
        assertEquals(6, d.compressionLevel());
        assertFalse(d.fastCompressor());
        assertEquals(0.8, d.compressionThreshold());
        assertEquals(3600, d.referenceCleanupIntervalSeconds());
    }

    @Test
    void thresholdTwoNamesFileLineAndKey() throws Exception {
        ConfigException e = fails("""
                [deduplication]
                compression_enabled = true

                compression_threshold = 2.0
                """);
        assertEquals(4, e.line());
        assertEquals("deduplication.compression_threshold", e.key());
        assertTrue(e.getMessage().startsWith(dir.resolve("dedup.toml") + ":4: deduplication.compression_threshold = 2.0: "),
                e.getMessage());
    }

    @Test
    void unknownKeyNamesLineAndSuggests() throws Exception {
        ConfigException e = fails("""
                [server]
                portals = ["127.0.0.1:3260"]

                [deduplication]
                hash_algorithm = "sha256"
                cache_sise = "1GB"
                """);
        assertEquals(6, e.line());
        assertEquals("deduplication.cache_sise", e.key());
        assertTrue(e.getMessage().contains("unknown key (did you mean cache_size?)"), e.getMessage());
    }

    @Test
    void unknownSectionIsRejected() throws Exception {
        ConfigException e = fails("[dedup]\nx = 1\n");
        assertEquals("dedup", e.key());
        assertEquals(1, e.line());
    }

    @ParameterizedTest
    @CsvSource({"hash_optimization = false", "reference_optimization = false", "cache_optimization = false",
        "cache_compression = true", "performance_optimization = false"})
    void valuesThisBuildCannotHonourAreRefused(String line) throws Exception {
        ConfigException e = fails("[deduplication]\n" + line + "\n");
        assertEquals("deduplication." + line.substring(0, line.indexOf(' ')), e.key());
        assertTrue(e.getMessage().contains(":2: deduplication." + line + ": cannot be honoured by this build: "),
                e.getMessage());
    }

    @Test
    void serverSideErrorsAboutLoadedKeysNameTheLine() throws Exception {
        OrionConfig c = OrionConfig.load(write("[server]\nqueue_depth = 64\n\n[deduplication]\ncache_size = \"64GiB\"\n"));
        ConfigException e = c.error("deduplication.cache_size", "exceeds the memory of this machine");
        assertEquals(dir.resolve("dedup.toml") + ":5: deduplication.cache_size = \"64GiB\": exceeds the memory of this machine",
                e.getMessage());
        assertEquals("<built-in>: server.queue_depth: too deep",
                OrionConfig.defaults().error("server.queue_depth", "too deep").getMessage());
    }

    @Test
    void verifyIsOffByDefaultAndReadFromTheDedupSection() throws Exception {
        assertEquals(false, OrionConfig.defaults().deduplication().verify());
        assertEquals(true, OrionConfig.load(write("[deduplication]\nverify = true\n")).deduplication().verify());
    }

    @Test
    void realTimeFalseMakesPostProcessTheDefaultDedupMode() throws Exception {
        assertEquals(io.orion.dedup.dedup.DedupMode.INLINE, OrionConfig.defaults().deduplication().defaultDedupMode());
        DedupSettings d = OrionConfig.load(write("[deduplication]\nreal_time_deduplication = false\n")).deduplication();
        assertEquals(false, d.realTimeDeduplication());
        assertEquals(io.orion.dedup.dedup.DedupMode.POST, d.defaultDedupMode());
        // a LUN's own key wins over the default
        assertEquals(io.orion.dedup.dedup.DedupMode.OFF,
                LunDefinition.dedup(0, "v", 1 << 20, 512).withDedup(io.orion.dedup.dedup.DedupMode.OFF).dedupMode(d));
        assertEquals(io.orion.dedup.dedup.DedupMode.POST, LunDefinition.dedup(0, "v", 1 << 20, 512).dedupMode(d));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "hash_algorithm = \"md5\"              | deduplication.hash_algorithm",
        "hash_block_size = 6000                | deduplication.hash_block_size",
        "hash_block_size = 131072              | deduplication.hash_block_size",
        "hash_cache_size = \"lots\"            | deduplication.hash_cache_size",
        "hash_optimization = \"yes\"           | deduplication.hash_optimization",
        "reference_max_count = 0               | deduplication.reference_max_count",
        "reference_cleanup_interval = -1       | deduplication.reference_cleanup_interval",
        "cache_policy = \"fifo\"               | deduplication.cache_policy",
        "compression_algorithm = \"zstd\"      | deduplication.compression_algorithm",
        "compression_level = 17                | deduplication.compression_level",
        "compression_threshold = 0             | deduplication.compression_threshold",
        "compression_threshold = \"0.5\"       | deduplication.compression_threshold",
        "background_interval = 0               | deduplication.background_interval",
        "cache_size = 1.5                      | deduplication.cache_size",
        "verify = \"yes\"                      | deduplication.verify",
    })
    void badDedupValuesNameTheirKeyOnLineTwo(String line, String key) throws Exception {
        ConfigException e = fails("[deduplication]\n" + line + "\n");
        assertEquals(key, e.key());
        assertEquals(2, e.line());
    }

    @Test
    void serverSectionsParse() throws Exception {
        OrionConfig c = OrionConfig.load(write("""
                [server]
                portals = ["127.0.0.1:3270", "[::1]:3271", "10.0.0.1"]
                data_dir = "/srv/orion"
                queue_depth = 256
                nop_in_interval = "1m"

                [control]
                socket = "/run/orion.sock"
                mode = "0600"

                [metrics]
                enabled = false
                listen = "0.0.0.0:9999"

                [pool]
                metadata_dir = "/ssd/meta"
                devices = [ { path = "/dev/nvme1n1" }, { path = "/srv/chunks.1", size = "500GiB" } ]
                """));
        assertEquals(List.of(new HostPort("127.0.0.1", 3270), new HostPort("::1", 3271), new HostPort("10.0.0.1", 3260)),
                c.server().portals());
        assertEquals(Path.of("/srv/orion"), c.dataDir(null));
        assertEquals(Path.of("/x"), c.dataDir(Path.of("/x")));
        assertEquals(60, c.server().nopInIntervalSeconds());
        assertEquals(Path.of("/run/orion.sock"), c.control().socketPath(Path.of("/x")));
        assertEquals(0600, c.control().mode());
        assertFalse(c.metrics().enabled());
        assertEquals(new HostPort("0.0.0.0", 9999), c.metrics().listen());
        assertEquals(List.of(new PoolSettings.Device(Path.of("/dev/nvme1n1"), 0),
                new PoolSettings.Device(Path.of("/srv/chunks.1"), 500L << 30)), c.pool().devices());
    }

    @Test
    void durableCommitsIsReadFromThePoolSection() throws Exception {
        assertFalse(OrionConfig.defaults().pool().durableCommits(), "off by default");
        assertFalse(OrionConfig.load(write("[pool]\nmetadata_dir = \"/m\"\n")).pool().durableCommits());
        assertTrue(OrionConfig.load(write("[pool]\ndurable_commits = true\n")).pool().durableCommits());
        assertFalse(OrionConfig.load(write("[pool]\ndurable_commits = false\n")).pool().durableCommits());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {"\"yes\"", "1", "\"true\"", "[true]", "on"})
    void durableCommitsOfAnotherTypeNamesFileLineAndKey(String value) throws Exception {
        ConfigException e = fails("""
                [pool]
                metadata_dir = "/m"

                durable_commits = %s
                """.formatted(value));
        assertEquals(4, e.line(), e.getMessage());
        if (!value.equals("on")) {                  // "on" is not TOML at all: the parser's error
            assertEquals("pool.durable_commits", e.key());
            assertTrue(e.getMessage().startsWith(dir.resolve("dedup.toml") + ":4: pool.durable_commits"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("expected true or false"), e.getMessage());
        }
    }

    @Test
    void spaceWarningPercentDefaultsTo90AndIsValidated() throws Exception {
        assertEquals(90, OrionConfig.defaults().pool().spaceWarningPercent());
        assertEquals(90, OrionConfig.load(write("[pool]\ndurable_commits = true\n")).pool().spaceWarningPercent());
        assertEquals(75, OrionConfig.load(write("[pool]\nspace_warning_percent = 75\n")).pool().spaceWarningPercent());
        assertEquals(0, OrionConfig.load(write("[pool]\nspace_warning_percent = 0\n")).pool().spaceWarningPercent());
        for (String bad : new String[] {"101", "-1", "\"90%\"", "90.5"}) {
            ConfigException e = fails("[pool]\nspace_warning_percent = " + bad + "\n");
            assertEquals("pool.space_warning_percent", e.key(), bad);
            assertEquals(2, e.line(), bad);
        }
    }

    @Test
    void durableCommitsBelongsToThePoolSection() throws Exception {
        ConfigException e = fails("[deduplication]\ndurable_commits = true\n");
        assertEquals("deduplication.durable_commits", e.key());
        assertEquals(2, e.line());
    }

    @Test
    void defaultsResolveUnderDataDir() {
        OrionConfig c = OrionConfig.defaults();
        assertNull(c.source());
        Path data = Path.of("/d");
        assertEquals(data.resolve("control.sock"), c.control().socketPath(data));
        assertEquals(data.resolve("meta"), c.pool().metadataDir(data));
        assertEquals(List.of(new PoolSettings.Device(data.resolve("store/chunks.0"), 0)), c.pool().devices(data));
        assertEquals("rw-rw----", java.nio.file.attribute.PosixFilePermissions.toString(c.control().permissions()));
    }

    @Test
    void errorsInArraysOfTablesPointAtTheElement() throws Exception {
        ConfigException e = fails("""
                [[pool.devices]]
                path = "/a"

                [[pool.devices]]
                path = "/b"
                size = "1MB"
                """);
        assertEquals("pool.devices[1].size", e.key());
        assertEquals(6, e.line());
        ConfigException inline = fails("[pool]\ndevices = [\n  { path = \"/a\" },\n  { path = \"/a\" },\n]\n");
        assertEquals("pool.devices[1].path", inline.key());
        assertEquals(4, inline.line());
    }

    @Test
    void controlModeAcceptsOctalForms() throws Exception {
        assertEquals(0640, OrionConfig.load(write("[control]\nmode = 0o640\n")).control().mode());
        assertEquals("control.mode", fails("[control]\nmode = \"0999\"\n").key());
        assertEquals("control.mode", fails("[control]\nmode = 660\n").key());
    }

    @Test
    void syntaxErrorsCarryTheParsersLine() throws Exception {
        ConfigException e = fails("[server]\nportals = [\"a:1\"\nqueue_depth = 3\n");
        assertTrue(e.line() >= 2, e.getMessage());
        assertTrue(e.getMessage().contains("TOML syntax error"), e.getMessage());
    }

    @Test
    void missingFileIsAConfigError() {
        ConfigException e = assertThrows(ConfigException.class, () -> OrionConfig.load(dir.resolve("nope.toml")));
        assertTrue(e.getMessage().endsWith("nope.toml: file not found"), e.getMessage());
    }

    @Test
    void multilineStringsDoNotConfuseLineNumbers() throws Exception {
        ConfigException e = fails("""
                [server]
                data_dir = \"\"\"
                x = 1
                [fake]
                \"\"\"
                queue_depth = 0
                """);
        assertEquals("server.queue_depth", e.key());
        assertEquals(6, e.line());
    }
}
