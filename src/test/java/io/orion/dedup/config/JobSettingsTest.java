package io.orion.dedup.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The {@code [jobs]} section: defaults, sizes and durations, and errors naming file, line and key. */
class JobSettingsTest {
    private static final Path FILE = Path.of("dedup.toml");

    @Test
    void defaultsAreAMonthlyUnthrottledScrubAndTheEnginesCleanupPace() throws Exception {
        JobSettings d = OrionConfig.parse(FILE, "").jobs();
        assertEquals(new JobSettings(0, 256L << 20, 256L << 20, 30L * 86400), d);
        assertEquals(JobSettings.defaults(), d);
    }

    @Test
    void ratesAndIntervalAreRead() throws Exception {
        JobSettings j = OrionConfig.parse(FILE, "[jobs]\nscrub_rate = \"200MB\"\ncleanup_rate = 0\n"
                + "compression_optimize_rate = 1048576\nscrub_interval = \"7d\"\n").jobs();
        assertEquals(new JobSettings(200L << 20, 0, 1L << 20, 7L * 86400), j);
        assertEquals(0, OrionConfig.parse(FILE, "[jobs]\nscrub_interval = 0\n").jobs().scrubIntervalSeconds());
    }

    /** The post-process pass reads the staged blocks back to hash them: it is paced like the others. */
    @Test
    void thePostProcessPassHasARate() throws Exception {
        assertEquals(256L << 20, OrionConfig.parse(FILE, "").jobs().postProcessRate());
        JobSettings j = OrionConfig.parse(FILE, "[jobs]\npost_process_rate = \"64MB\"\n").jobs();
        assertEquals(64L << 20, j.postProcessRate());
        try (io.orion.dedup.jobs.JobManager m = new io.orion.dedup.jobs.JobManager(dir.resolve("jobs.json"), j,
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry(), System::currentTimeMillis)) {
            assertEquals(64L << 20, m.rate(io.orion.dedup.jobs.JobKind.POST_PROCESS));
        }
    }

    @org.junit.jupiter.api.io.TempDir
    Path dir;

    @Test
    void badValuesNameTheKey() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> OrionConfig.parse(FILE, "[jobs]\nscrub_rate = \"fast\"\n"));
        assertTrue(e.getMessage().startsWith("dedup.toml:2: jobs.scrub_rate = \"fast\": "), e.getMessage());
        ConfigException u = assertThrows(ConfigException.class,
                () -> OrionConfig.parse(FILE, "[jobs]\nscrub_intervall = \"1d\"\n"));
        assertTrue(u.getMessage().contains("jobs.scrub_intervall"), u.getMessage());
        ConfigException n = assertThrows(ConfigException.class,
                () -> OrionConfig.parse(FILE, "[jobs]\nscrub_interval = -1\n"));
        assertTrue(n.getMessage().contains("jobs.scrub_interval"), n.getMessage());
    }
}
