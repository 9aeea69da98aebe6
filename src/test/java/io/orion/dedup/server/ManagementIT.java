package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
import static io.orion.dedup.server.AdminTools.json;
import static io.orion.dedup.server.AdminTools.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The product's management commands and {@code stats} against the live server, checked against
 * figures computed offline from what was written: a 16 MiB file of mixed content (unique random,
 * repeated, zero, compressible and duplicated blocks) written twice through iSCSI. The engine's
 * unique chunks equal the distinct non-zero 4 KiB blocks; the second copy adds no stored bytes;
 * every {@code scripts/dedup-*} prints real figures. {@code dedup-compression-optimize} is checked on
 * data written while compression was off and recompressed after a restart with it on.
 */
class ManagementIT {

    private static final String IQN = ServerProcess.DEFAULT_IQN;
    private static final int BLOCK = 4096;
    private static final int BLOCKS = 4096;                     // 16 MiB

    /** What the test knows about the file it wrote. */
    record Content(byte[] bytes, long nonZeroBlocks, long distinctNonZero) {}

    static Content mixed(long seed) {
        Random rnd = new Random(seed);
        byte[][] repeated = new byte[8][BLOCK];
        for (byte[] r : repeated) {
            rnd.nextBytes(r);
        }
        byte[] all = new byte[BLOCKS * BLOCK];
        for (int b = 0; b < BLOCKS; b++) {
            byte[] block = new byte[BLOCK];
            switch (b % 10) {
                case 0, 1, 2, 3 -> rnd.nextBytes(block);
                case 4, 5 -> block = repeated[rnd.nextInt(repeated.length)];
                case 6 -> { }                                             // zeros
                case 7, 8 -> {                                            // compressible, unique
                    byte[] text = ("block " + b + " of a compressible run; ").getBytes(StandardCharsets.US_ASCII);
                    for (int i = 0; i < BLOCK; i++) {
                        block[i] = text[i % text.length];
                    }
                }
                default -> System.arraycopy(all, (b - 9) * BLOCK, block, 0, BLOCK);  // an earlier block again
            }
            System.arraycopy(block, 0, all, b * BLOCK, BLOCK);
        }
        Set<ByteBuffer> distinct = new HashSet<>();
        long nonZero = 0;
        byte[] zero = new byte[BLOCK];
        for (int b = 0; b < BLOCKS; b++) {
            byte[] block = Arrays.copyOfRange(all, b * BLOCK, (b + 1) * BLOCK);
            if (!Arrays.equals(block, zero)) {
                nonZero++;
                distinct.add(ByteBuffer.wrap(block));
            }
        }
        return new Content(all, nonZero, distinct.size());
    }

    /** QEMU image options for {@code size} bytes of LUN 0 from {@code offset}. */
    private static String region(ServerProcess server, long offset, long size) {
        return "driver=raw,offset=" + offset + ",size=" + size + ",file.driver=iscsi,file.transport=tcp,"
                + "file.portal=127.0.0.1:" + server.port() + ",file.target=" + IQN + ",file.lun=0";
    }

    private static void write(ServerProcess server, Path file, long offset, long size) throws Exception {
        ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "--target-image-opts", file.toString(),
                region(server, offset, size)).assertOk();
    }

    private static JsonNode figures(ServerProcess server, String command) throws Exception {
        ExternalTool.Result r = script(server, command, "--json").assertOk();
        return json(r);
    }

    @Test
    void managementCommandsReportTheEnginesRealFigures(@TempDir Path dir) throws Exception {
        Content c = mixed(20261125);
        Path file = dir.resolve("mixed.img");
        Files.write(file, c.bytes());
        long size = c.bytes().length;
        long distinct = c.distinctNonZero();
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), ServerProcess.copyTargets(dir),
                AdminTools.config(dir, 0), ServerProcess.freePort())) {
            write(server, file, 0, size);
            JsonNode s1 = json(cli(server, "stats", "--json").assertOk());
            JsonNode pool1 = s1.path("counters").path("pool");
            JsonNode vol1 = s1.path("counters").path("volumes").path("default-0");
            assertEquals(distinct, pool1.path("unique_chunks").asLong(), s1.toString());
            assertEquals(distinct, vol1.path("unique_chunks").asLong(), s1.toString());
            assertEquals(distinct * BLOCK, pool1.path("unique_bytes").asLong());
            assertEquals(c.nonZeroBlocks(), vol1.path("data_blocks").asLong());
            long zeroBlocks = pool1.path("zero_blocks").asLong();
            assertEquals((c.nonZeroBlocks() + zeroBlocks) * BLOCK, pool1.path("logical_bytes").asLong(),
                    "logical = written data blocks + blocks written as zeros");
            long stored = pool1.path("stored_bytes").asLong();
            assertTrue(stored > 0 && stored < distinct * BLOCK, "compressible blocks are stored smaller: " + stored);
            assertEquals(pool1.path("logical_bytes").asLong(), s1.path("volumes").get(0).path("logical_used_bytes").asLong());

            // the same file again, 32 MiB further: no new chunk, no new stored byte
            write(server, file, 32L << 20, size);
            JsonNode pool2 = json(cli(server, "stats", "--json").assertOk()).path("counters").path("pool");
            assertEquals(distinct, pool2.path("unique_chunks").asLong());
            assertEquals(stored, pool2.path("stored_bytes").asLong(), "the second copy adds no stored bytes");
            assertTrue(pool2.path("dedup_ratio").asDouble() > 2.0, pool2.toString());

            String human = script(server, "dedup-hash-stats").assertOk().output();
            assertTrue(human.matches("(?s).*unique_chunks\\s+" + distinct + "\\b.*"), human);
            JsonNode hash = figures(server, "dedup-hash-stats");
            assertEquals(distinct, hash.path("unique_chunks").asLong());
            assertEquals(2 * c.nonZeroBlocks() - distinct, hash.path("duplicate_blocks").asLong());
            assertTrue(hash.path("hashed_bytes").asLong() >= 2 * c.nonZeroBlocks() * BLOCK, hash.toString());
            JsonNode info = figures(server, "dedup-hash-info");
            assertEquals("sha256", info.path("hash_algorithm").asText());
            assertEquals(BLOCK, info.path("hash_block_size").asInt());
            JsonNode refs = figures(server, "dedup-reference-stats");
            assertEquals(2 * c.nonZeroBlocks(), refs.path("references").asLong());
            assertEquals(distinct, refs.path("unique_chunks").asLong());
            assertEquals(65536, figures(server, "dedup-reference-info").path("reference_max_count").asLong());
            JsonNode opt = figures(server, "dedup-optimization-stats");
            assertEquals((2 * c.nonZeroBlocks() - distinct) * BLOCK, opt.path("dedup_saved_bytes").asLong());
            assertEquals(distinct * BLOCK - stored, opt.path("compression_saved_bytes").asLong());
            JsonNode comp = figures(server, "dedup-compression-info");
            assertEquals(stored, comp.path("stored_bytes").asLong());
            assertTrue(comp.path("compression_ratio").asDouble() > 1.0, comp.toString());

            // garbage: 4 MiB of unique data overwritten four times; the container holding it ends up mostly
            // dead, so cleanup compacts it: the devices' used bytes drop by exactly the reclaimable bytes,
            // plus the journal records the freed containers held, less those the cleanup wrote afresh
            Path last = null;
            for (int i = 0; i < 5; i++) {
                last = BlockIoIT.randomFile(dir, "garbage-" + i + ".img", 4L << 20, 100 + i);
                write(server, last, 64L << 20, 4L << 20);
            }
            JsonNode cleanup = figures(server, "dedup-reference-cleanup");
            long before = cleanup.path("reclaimable_before_bytes").asLong();
            assertTrue(before >= 16L << 20, "four overwritten generations are reclaimable: " + cleanup);
            assertTrue(cleanup.path("containers_compacted").asLong() >= 1, cleanup.toString());
            assertTrue(cleanup.path("reclaimed_bytes").asLong() >= before, cleanup.toString());
            assertEquals(0, cleanup.path("reclaimable_after_bytes").asLong(), cleanup.toString());
            assertEquals(before + cleanup.path("journal_before_bytes").asLong() - cleanup.path("journal_after_bytes").asLong(),
                    cleanup.path("device_used_before_bytes").asLong() - cleanup.path("device_used_after_bytes").asLong(),
                    cleanup.toString());
            JsonNode afterCleanup = json(cli(server, "stats", "--json").assertOk()).path("counters").path("pool");
            assertEquals(distinct + 1024, afterCleanup.path("unique_chunks").asLong(), "live chunks survive the cleanup");
            assertEquals(0, afterCleanup.path("reclaimable_bytes").asLong());
            ExternalTool.run(LIMIT, "qemu-img", "compare", "--image-opts",
                    "driver=raw,file.driver=file,file.filename=" + last, region(server, 64L << 20, 4L << 20)).assertOk();

            // caches: reading fills them, flush empties them
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-O", "raw", "--image-opts", region(server, 0, size),
                    dir.resolve("back.img").toString()).assertOk();
            assertTrue(Arrays.equals(c.bytes(), Files.readAllBytes(dir.resolve("back.img"))));
            JsonNode cache = figures(server, "dedup-cache-stats");
            assertTrue(cache.path("block_cache_misses").asLong() + cache.path("block_cache_hits").asLong() > 0, cache.toString());
            assertEquals(1L << 30, figures(server, "dedup-cache-info").path("cache_size").asLong());
            JsonNode flushed = figures(server, "dedup-cache-flush");
            assertTrue(flushed.has("block_cache_dropped_bytes"), flushed.toString());
            JsonNode empty = figures(server, "dedup-cache-stats");
            assertEquals(0, empty.path("block_cache_weight_bytes").asLong());
            assertEquals(0, empty.path("fingerprint_cache_weight_bytes").asLong());

            JsonNode perf = figures(server, "dedup-performance-stats");
            assertTrue(perf.path("commands").asLong() > 0, perf.toString());
            assertTrue(perf.path("by_lun").path(IQN + "/0").path("write_bytes").asLong() >= 2 * size, perf.toString());
            assertTrue(perf.path("by_lun").path(IQN + "/0").path("read_commands").asLong() > 0, perf.toString());

            // the fingerprint cache was just emptied: hash-optimize reloads every live chunk's entry
            long live = StatsJson.pool(StatsJson.fetch(server.data())).get("unique_chunks").asLong();
            JsonNode warmed = figures(server, "dedup-hash-optimize");
            assertEquals(live, warmed.path("entries_loaded").asLong(), warmed.toString());
            assertEquals(live, warmed.path("chunks_scanned").asLong(), warmed.toString());
            JsonNode warm = figures(server, "dedup-cache-stats");
            assertTrue(warm.path("fingerprint_cache_weight_bytes").asLong() > 0, warm.toString());

            // everything was written compressed where it paid: the pass finds nothing new that pays
            JsonNode optimized = figures(server, "dedup-compression-optimize");
            assertTrue(optimized.path("compression_enabled").asBoolean(), optimized.toString());
            assertEquals(0, optimized.path("raw_chunks_compressed").asLong(), optimized.toString());
            assertEquals(0, optimized.path("saved_bytes").asLong(), optimized.toString());
            assertEquals(optimized.path("chunks_examined").asLong(), optimized.path("chunks_left_raw").asLong(),
                    "every raw chunk is incompressible: " + optimized);
            ExternalTool.Result scrub = cli(server, "scrub", "--json").assertOk();
            assertEquals(0, json(scrub).path("crc_errors").asLong());
            assertEquals(0, json(scrub).path("fingerprint_mismatches").asLong());
            assertTrue(json(scrub).path("chunks_checked").asLong() >= distinct, scrub.output());
        }
    }

    /** conf/dedup.toml (metrics off) with {@code compression_enabled} set as given. */
    private static Path compressionConfig(Path dir, boolean enabled) throws Exception {
        Path f = AdminTools.config(dir, 0);
        String text = Files.readString(f);
        String want = "compression_enabled = " + enabled;
        text = text.replace("compression_enabled = true", want).replace("compression_enabled = false", want);
        if (!text.contains(want)) {
            throw new IllegalStateException("conf/dedup.toml has no compression_enabled line to rewrite");
        }
        Files.writeString(f, text);
        return f;
    }

    /**
     * The admin route: data written while {@code compression_enabled = false} is stored raw; the
     * admin sets {@code compression_enabled = true} in conf/dedup.toml, restarts the server and runs
     * {@code scripts/dedup-compression-optimize}: the compressible chunks are recompressed, stored
     * bytes drop by exactly the reported saving, the data compares identical, scrub is clean, and
     * the figures survive a restart.
     */
    @Test
    void compressionOptimizeRecompressesChunksWrittenRaw(@TempDir Path dir) throws Exception {
        Content c = mixed(20261126);
        Path file = dir.resolve("mixed.img");
        Files.write(file, c.bytes());
        long size = c.bytes().length;
        long distinct = c.distinctNonZero();
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        long rawStored;
        try (ServerProcess server = ServerProcess.start(data, targets, compressionConfig(dir, false),
                ServerProcess.freePort())) {
            write(server, file, 0, size);
            JsonNode pool = json(cli(server, "stats", "--json").assertOk()).path("counters").path("pool");
            assertEquals(distinct, pool.path("unique_chunks").asLong());
            rawStored = pool.path("stored_bytes").asLong();
            assertEquals(distinct * (BLOCK + 60), rawStored, "compression off: every chunk is stored raw");
            // with compression off the command runs, changes nothing and says why
            JsonNode off = figures(server, "dedup-compression-optimize");
            assertEquals(false, off.path("compression_enabled").asBoolean(), off.toString());
            assertEquals(0, off.path("chunks_examined").asLong(), off.toString());
            assertEquals(0, off.path("saved_bytes").asLong(), off.toString());
            assertTrue(off.path("action").asText().contains("compression_enabled = false"), off.toString());
            assertEquals(rawStored, off.path("stored_after_bytes").asLong());
            assertEquals(0, server.stop(java.time.Duration.ofSeconds(60)));
        }
        long stored;
        long reclaimable;
        try (ServerProcess server = ServerProcess.start(data, targets, compressionConfig(dir, true),
                ServerProcess.freePort())) {
            JsonNode before = json(cli(server, "stats", "--json").assertOk()).path("counters").path("pool");
            assertEquals(rawStored, before.path("stored_bytes").asLong(), "the restart alone changes nothing");
            long reclaimableBefore = before.path("reclaimable_bytes").asLong();

            // the compressible blocks (2 in 10 of the file, each unique) were stored raw; they now pay
            long compressible = 0;
            for (int b = 0; b < BLOCKS; b++) {
                if (b % 10 == 7 || b % 10 == 8) {
                    compressible++;
                }
            }
            JsonNode run = figures(server, "dedup-compression-optimize");
            JsonNode after = json(cli(server, "stats", "--json").assertOk()).path("counters").path("pool");
            assertTrue(run.path("compression_enabled").asBoolean(), run.toString());
            assertEquals("lz4-fast", run.path("compressor").asText(), run.toString());
            assertEquals(distinct, run.path("chunks_scanned").asLong(), run.toString());
            assertEquals(distinct, run.path("chunks_examined").asLong(), "every chunk was raw: " + run);
            assertEquals(compressible, run.path("raw_chunks_compressed").asLong(), run.toString());
            assertEquals(compressible, run.path("chunks_recompressed").asLong(), run.toString());
            assertEquals(distinct - compressible, run.path("chunks_left_raw").asLong(), "random data stays raw");
            assertEquals(0, run.path("chunks_failed_check").asLong());
            assertEquals(compressible * (BLOCK + 60), run.path("recompressed_before_bytes").asLong());
            long saved = run.path("saved_bytes").asLong();
            assertEquals(run.path("recompressed_before_bytes").asLong() - run.path("recompressed_after_bytes").asLong(),
                    saved);
            assertTrue(saved > compressible * BLOCK / 2, "compressible text shrinks a lot: " + run);
            assertEquals(rawStored, run.path("stored_before_bytes").asLong());
            assertEquals(rawStored - saved, run.path("stored_after_bytes").asLong(), run.toString());
            assertEquals(rawStored - saved, after.path("stored_bytes").asLong(), "stats agree with the saving");
            assertEquals(distinct, after.path("unique_chunks").asLong());
            assertEquals(distinct * BLOCK, after.path("unique_bytes").asLong(), "unique bytes unchanged");
            assertEquals((double) distinct * BLOCK / (rawStored - saved), after.path("compression_ratio").asDouble(), 1e-9);
            assertEquals(compressible * (BLOCK + 60), run.path("reclaimable_added_bytes").asLong());
            assertEquals(reclaimableBefore + compressible * (BLOCK + 60), after.path("reclaimable_bytes").asLong(),
                    "the old raw records are reclaimable until cleanup");
            assertEquals(after.path("reclaimable_bytes").asLong(), run.path("reclaimable_after_bytes").asLong());

            // a second run, human table: nothing more pays
            String human = script(server, "dedup-compression-optimize").assertOk().output();
            assertTrue(human.matches("(?s).*chunks_recompressed\\s+0\\b.*"), human);
            assertTrue(human.matches("(?s).*chunks_left_raw\\s+" + (distinct - compressible) + "\\b.*"), human);
            assertTrue(human.matches("(?s).*saved_bytes\\s+0\\b.*"), human);
            assertTrue(human.matches("(?s).*stored_after_bytes\\s+" + (rawStored - saved) + " \\(.*"), human);

            ExternalTool.run(LIMIT, "qemu-img", "compare", "--image-opts",
                    "driver=raw,file.driver=file,file.filename=" + file, region(server, 0, size)).assertOk();
            ExternalTool.Result scrub = cli(server, "scrub", "--json").assertOk();
            assertEquals(0, json(scrub).path("crc_errors").asLong(), scrub.output());
            assertEquals(0, json(scrub).path("fingerprint_mismatches").asLong(), scrub.output());
            assertEquals(distinct, json(scrub).path("chunks_checked").asLong(), scrub.output());
            stored = after.path("stored_bytes").asLong();
            reclaimable = after.path("reclaimable_bytes").asLong();
            assertEquals(0, server.stop(java.time.Duration.ofSeconds(60)));
        }
        try (ServerProcess server = ServerProcess.start(data, targets, compressionConfig(dir, true),
                ServerProcess.freePort())) {
            JsonNode pool = json(cli(server, "stats", "--json").assertOk()).path("counters").path("pool");
            assertEquals(stored, pool.path("stored_bytes").asLong(), "stored bytes survive the restart");
            assertEquals(reclaimable, pool.path("reclaimable_bytes").asLong());
            assertEquals(distinct, pool.path("unique_chunks").asLong());
            ExternalTool.run(LIMIT, "qemu-img", "compare", "--image-opts",
                    "driver=raw,file.driver=file,file.filename=" + file, region(server, 0, size)).assertOk();
        }
    }
}
