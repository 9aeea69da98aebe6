package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.dedup.DedupMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A dedup LUN's volume gets the mode its definition asks for ({@code dedup = ...}, else
 * {@code real_time_deduplication}): at creation, and when the LUN is opened again with another
 * mode (changed in the pool, with an INFO line saying so).
 */
class LunDedupModeTest {
    @TempDir
    Path dir;

    private OrionConfig config(boolean realTime) throws Exception {
        Path conf = dir.resolve("dedup-" + realTime + ".toml");
        Files.writeString(conf, "[deduplication]\nreal_time_deduplication = " + realTime + "\n");
        return OrionConfig.load(conf);
    }

    @Test
    void theConfiguredModeIsAppliedAtCreationAndWhenItChanges() throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger(Volumes.class);
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        logger.addAppender(log);
        ch.qos.logback.classic.Level level = logger.getLevel();
        logger.setLevel(ch.qos.logback.classic.Level.INFO);
        try {
            LunDefinition a = LunDefinition.dedup(0, "a", 1 << 20, 512);
            LunDefinition b = LunDefinition.dedup(1, "b", 1 << 20, 512).withDedup(DedupMode.OFF);
            try (Volumes v = new Volumes(config(false), dir)) {
                v.open(a);
                v.open(b);
                assertEquals(DedupMode.POST, v.pool().dedupMode("a"), "real_time_deduplication = false: post");
                assertEquals(DedupMode.OFF, v.pool().dedupMode("b"), "its own key wins");
            }
            assertTrue(log.list.isEmpty() || log.list.stream().noneMatch(e -> e.getFormattedMessage().contains(
                    "dedup mode")), "nothing changed yet");
            try (Volumes v = new Volumes(config(true), dir)) {
                v.open(a);
                v.open(b.withDedup(DedupMode.POST));
                assertEquals(DedupMode.INLINE, v.pool().dedupMode("a"));
                assertEquals(DedupMode.POST, v.pool().dedupMode("b"));
            }
            List<String> lines = log.list.stream().map(ILoggingEvent::getFormattedMessage)
                    .filter(m -> m.contains("dedup mode")).toList();
            assertEquals(List.of(
                    "volume a: dedup mode post -> inline, as real_time_deduplication = true says for a LUN without"
                            + " its own dedup key",
                    "volume b: dedup mode off -> post, as its LUN definition says (dedup = \"post\")"), lines);
            try (Volumes v = new Volumes(config(true), dir)) {
                v.open(b.withDedup(DedupMode.POST));
                assertEquals(DedupMode.POST, v.pool().dedupMode("b"), "persisted");
            }
        } finally {
            logger.detachAppender(log);
            logger.setLevel(level);
        }
    }
}
