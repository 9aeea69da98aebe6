package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.jobs.JobInfo;
import io.orion.dedup.jobs.JobKind;
import io.orion.dedup.blockdev.BlockDevice;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The post-process pass as a server job: {@code dedup run|status|cancel}, and started by the
 * {@code background_interval} schedule while post-process volumes have staged blocks; after it a
 * post-process LUN's figures are those inline dedup gives the same data.
 */
class PostProcessJobTest {
    private static final String IQN = "iqn.2026-11.io.orion:pp";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BLOCKS = 256;
    private static final int DISTINCT = 8;

    private static OrionServer start(Path dir, String dedupSection) throws Exception {
        Path targets = Files.createDirectories(dir.resolve("targets"));
        Files.writeString(targets.resolve("pp.toml"), "iqn = \"" + IQN + "\"\n\n[attributes]\ndemo_mode = true\n\n"
                + "[[lun]]\nid = 0\nvolume = \"pp-0\"\nsize = \"16MiB\"\nblock_size = 4096\ndedup = \"post\"\n");
        Path conf = dir.resolve("dedup.toml");
        Files.writeString(conf, "[deduplication]\ncache_size = \"16MB\"\nhash_cache_size = \"16MB\"\n" + dedupSection
                + "\n[metrics]\nenabled = false\n");
        return OrionServer.start(OrionConfig.load(conf), conf, targets, dir.resolve("data"),
                List.of(new InetSocketAddress("127.0.0.1", 0)));
    }

    private static void fill(OrionServer server) throws Exception {
        BlockDevice d = server.liveTargets().get(0).devices().get(0);
        byte[][] pattern = new byte[DISTINCT][4096];
        Random r = new Random(7);
        for (byte[] b : pattern) {
            r.nextBytes(b);
        }
        for (int i = 0; i < BLOCKS; i++) {
            d.write(i, ByteBuffer.wrap(pattern[i % DISTINCT]), false);
        }
        d.flush();
    }

    /** The LUN's stats entry. */
    private static JsonNode lun(Path data) throws Exception {
        StatsCommandTest.Run r = StatsCommandTest.cli(data, "stats", "--json");
        assertEquals(0, r.status(), r.err());
        for (JsonNode v : JSON.readTree(r.out()).get("volumes")) {
            if (v.get("volume").asText().equals("pp-0")) {
                return v;
            }
        }
        throw new AssertionError(r.out());
    }

    private static void assertInlineFigures(JsonNode v) {
        assertEquals("post", v.get("dedup_mode").asText());
        assertEquals(BLOCKS * 4096L, v.get("logical_used_bytes").asLong(), v.toString());
        assertEquals(DISTINCT * 4096L, v.get("unique_bytes").asLong(), v.toString());
        assertEquals((double) BLOCKS / DISTINCT, v.get("dedup_ratio").asDouble(), v.toString());
    }

    @Test
    void dedupRunDeduplicatesTheStagedBlocksAndCancelWithoutAPassIsRefused(@TempDir Path dir) throws Exception {
        try (OrionServer server = start(dir, "background_processing = false\n")) {
            Path data = dir.resolve("data");
            fill(server);
            JsonNode before = lun(data);
            assertEquals(BLOCKS * 4096L, before.get("unique_bytes").asLong(), "staged: every block its own chunk");
            assertEquals(BLOCKS, server.volumes().pool().stagedBlocks());

            StatsCommandTest.Run run = StatsCommandTest.cli(data, "dedup", "run", "--json");
            assertEquals(0, run.status(), run.err());
            JsonNode job = JSON.readTree(run.out());
            assertEquals("post_process", job.get("kind").asText()); // JSON enums: lowercase names
            assertEquals("done", job.get("state").asText());
            JsonNode result = job.get("result");
            assertEquals(BLOCKS, result.get("staged_blocks_before").asLong(), result.toString());
            assertEquals(BLOCKS, result.get("blocks_examined").asLong(), result.toString());
            assertEquals(DISTINCT, result.get("chunks_indexed").asLong(), result.toString());
            assertEquals(BLOCKS - DISTINCT, result.get("blocks_shared").asLong(), result.toString());
            assertEquals(0, result.get("remaining").asLong());
            assertEquals(0, server.volumes().pool().stagedBlocks());
            assertInlineFigures(lun(data));

            StatsCommandTest.Run status = StatsCommandTest.cli(data, "dedup", "status");
            assertEquals(0, status.status(), status.err());
            assertTrue(status.out().contains("post-process"), status.out());
            StatsCommandTest.Run cancel = StatsCommandTest.cli(data, "dedup", "cancel");
            assertEquals(1, cancel.status(), cancel.out());
            assertTrue(cancel.err().contains("no post-process pass is running"), cancel.err());
        }
    }

    @Test
    void theBackgroundIntervalStartsAPassWhileBlocksAreStaged(@TempDir Path dir) throws Exception {
        try (OrionServer server = start(dir, "background_interval = 1\n")) {
            Path data = dir.resolve("data");
            fill(server);
            long deadline = System.nanoTime() + 20_000_000_000L;
            JobInfo done = null;
            while (System.nanoTime() < deadline && done == null) {
                Thread.sleep(100);
                done = server.jobs().list().stream().filter(j -> j.kind() == JobKind.POST_PROCESS
                        && j.state().finished() && "schedule".equals(j.trigger())).findFirst().orElse(null);
            }
            assertTrue(done != null, "no scheduled post-process pass ran: " + server.jobs().list());
            // a later pass may have started for blocks staged meanwhile (none here): wait for quiet
            while (System.nanoTime() < deadline && server.jobs().activeJob(JobKind.POST_PROCESS).isPresent()) {
                Thread.sleep(50);
            }
            assertEquals(0, server.volumes().pool().stagedBlocks());
            assertInlineFigures(lun(data));
            int passes = (int) server.jobs().list().stream().filter(j -> j.kind() == JobKind.POST_PROCESS).count();
            Thread.sleep(2500); // nothing staged: no more passes
            assertEquals(passes, server.jobs().list().stream().filter(j -> j.kind() == JobKind.POST_PROCESS).count(),
                    "a pass starts only while blocks are staged");
        }
    }
}
