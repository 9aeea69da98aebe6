package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orion.dedup.cli.OrionCli;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.blockdev.BlockDevice;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code orion-dedup stats} against an in-process server with two dedup LUNs of 4 KiB blocks and
 * known sharing: LUN 0 holds 8 distinct blocks and block X four times, LUN 1 holds X twice and
 * block Y twice. So the pool has 10 chunks for 16 logical blocks (DEDUP 1.60x), LUN 0 12 blocks
 * over 9 chunks (1.33x), LUN 1 4 blocks over 2 chunks (2.00x); the refcount histogram has 8 chunks
 * at refcount 1, Y at 2 and X (6 references) in the bucket of 4.
 */
class StatsCommandTest {

    private static final String IQN = "iqn.2026-11.io.orion:s";
    private static final ObjectMapper JSON = new ObjectMapper();

    record Run(int status, String out, String err) {}

    static Run cli(Path data, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--data";
        all[args.length + 1] = data.toString();
        int status = new OrionCli(new PrintWriter(out), new PrintWriter(err), Optional::empty, r -> {}).execute(all);
        return new Run(status, out.toString(), err.toString());
    }

    static OrionServer start(Path dir) throws Exception {
        Path targets = Files.createDirectories(dir.resolve("targets"));
        Files.writeString(targets.resolve("s.toml"), "iqn = \"" + IQN + "\"\n\n[attributes]\ndemo_mode = true\n\n"
                + "[[lun]]\nid = 0\nvolume = \"s-0\"\nsize = \"64MiB\"\nblock_size = 4096\n\n"
                + "[[lun]]\nid = 1\nvolume = \"s-1\"\nsize = \"64MiB\"\nblock_size = 4096\n");
        Path conf = dir.resolve("dedup.toml");
        Files.writeString(conf, "[deduplication]\ncache_size = \"16MB\"\nhash_cache_size = \"16MB\"\n\n"
                + "[metrics]\nenabled = false\n");
        return OrionServer.start(OrionConfig.load(conf), conf, targets, dir.resolve("data"),
                List.of(new InetSocketAddress("127.0.0.1", 0)));
    }

    private static void write(BlockDevice d, long lba, byte[] block) throws Exception {
        d.write(lba, ByteBuffer.wrap(block), false);
    }

    static void fill(OrionServer server) throws Exception {
        BlockDevice l0 = server.liveTargets().get(0).devices().get(0);
        BlockDevice l1 = server.liveTargets().get(0).devices().get(1);
        Random r = new Random(5);
        for (int i = 0; i < 8; i++) {
            byte[] b = new byte[4096];
            r.nextBytes(b);
            write(l0, i, b);
        }
        byte[] x = new byte[4096];
        r.nextBytes(x);
        byte[] y = new byte[4096];
        Arrays.fill(y, (byte) 'y');
        for (int i = 8; i < 12; i++) {
            write(l0, i, x);
        }
        write(l1, 0, x);
        write(l1, 1, x);
        write(l1, 2, y);
        write(l1, 3, y);
        l0.flush();
        l1.flush();
    }

    private static String line(String out, String first) {
        for (String l : out.split("\\R")) {
            if (l.startsWith(first)) {
                return l;
            }
        }
        throw new AssertionError("no line starting with " + first + " in\n" + out);
    }

    @Test
    void ratiosHistogramAndOvercommit(@TempDir Path dir) throws Exception {
        try (OrionServer server = start(dir)) {
            fill(server);
            Path data = dir.resolve("data");

            Run stats = cli(data, "stats");
            assertEquals(0, stats.status(), stats.err());
            assertTrue(stats.out().split("\\R")[0].matches("VOLUME\\s+TARGET\\s+LUN\\s+SIZE\\s+USED\\s+AVAILABLE\\s+USE%\\s+"
                    + "SAVING%\\s+DEDUP\\s+COMPRESS\\s+EXCLUSIVE\\s+MODE"), stats.out());
            assertTrue(line(stats.out(), "s-0").matches(".*\\s1\\.33x\\s+\\d+\\.\\d\\dx\\s.*"), stats.out());
            assertTrue(line(stats.out(), "s-1").matches(".*\\s2\\.00x\\s+\\d+\\.\\d\\dx\\s.*"), stats.out());
            assertTrue(line(stats.out(), "(pool)").matches(".*\\s1\\.60x\\s+\\d+\\.\\d\\dx\\s.*"), stats.out());
            assertFalse(stats.out().contains("WARNING"), "128 MiB of LUNs do not overcommit the pool:\n" + stats.out());

            Run json = cli(data, "stats", "--json", "--histogram");
            assertEquals(0, json.status(), json.err());
            JsonNode j = JSON.readTree(json.out());
            JsonNode pool = j.get("pool");
            assertEquals(1.6, pool.get("dedup_ratio").asDouble(), 1e-9);
            assertEquals(128L << 20, pool.get("provisioned_bytes").asLong());
            assertFalse(pool.get("overcommitted").asBoolean());
            JsonNode counters = j.get("counters").get("pool");
            assertEquals(counters.get("unique_bytes").asDouble() / counters.get("stored_bytes").asDouble(),
                    pool.get("compress_ratio").asDouble(), 1e-9);
            JsonNode h = j.get("refcount_histogram");
            assertEquals(3, h.size(), h.toString());
            long[][] expected = {{1, 8, 8}, {2, 1, 2}, {4, 1, 6}};   // refcount bucket, chunks, blocks
            long chunks = 0;
            long stored = 0;
            for (int i = 0; i < 3; i++) {
                assertEquals(expected[i][0], h.get(i).get("refcount").asLong());
                assertEquals(expected[i][1], h.get(i).get("chunks").asLong());
                assertEquals(expected[i][2], h.get(i).get("blocks").asLong());
                assertEquals(expected[i][1] * 4096, h.get(i).get("unique_bytes").asLong());
                assertEquals(expected[i][2] * 4096, h.get(i).get("referenced_bytes").asLong());
                chunks += h.get(i).get("chunks").asLong();
                stored += h.get(i).get("stored_bytes").asLong();
            }
            assertEquals(counters.get("unique_chunks").asLong(), chunks, "the histogram covers every chunk");
            assertEquals(counters.get("stored_bytes").asLong(), stored, "and exactly their stored bytes");

            Run hist = cli(data, "stats", "--histogram");
            assertTrue(hist.out().contains("Refcount histogram"), hist.out());
            assertTrue(line(hist.out(), "REFCNT").matches("REFCNT\\s+CHUNKS\\s+UNIQUE\\s+STORED\\s+BLOCKS\\s+REFERENCED"));
            assertTrue(line(hist.out(), "1 ").matches("1\\s+8\\s+32\\.0 KiB\\s+\\S+ \\S+\\s+8\\s+32\\.0 KiB"), hist.out());
            assertTrue(line(hist.out(), "4 ").matches("4\\s+1\\s+4\\.0 KiB\\s+\\S+ \\S+\\s+6\\s+24\\.0 KiB"), hist.out());
            assertTrue(line(hist.out(), "Total").matches("Total\\s+10\\s+40\\.0 KiB\\s+\\S+ \\S+\\s+16\\s+64\\.0 KiB"), hist.out());
            assertTrue(hist.out().contains("dedup = 1.60x"), hist.out());

            // a LUN of 1 PiB overcommits any pool a test machine has
            new AdminService(server).createLun(IQN, LunDefinition.dedup(2, "s-2", LunDefinition.MAX_SIZE, 4096));
            Run over = cli(data, "stats");
            assertTrue(over.out().contains("WARNING: the volumes' sizes add up to 1.0 PiB, more than the pool's capacity of "),
                    over.out());
            assertTrue(over.out().contains("the free space of their file system plus what the pool already stores"));
            assertTrue(JSON.readTree(cli(data, "stats", "--json").out()).get("pool").get("overcommitted").asBoolean());
        }
    }

    @Test
    void intervalReportsRatesSinceStartThenPerInterval(@TempDir Path dir) throws Exception {
        try (OrionServer server = start(dir)) {
            fill(server);
            for (int i = 0; i < 50; i++) {    // I/O as the transport reports it
                server.metrics().bytesIn(IQN, 0, 65536);
                server.metrics().commandCompleted(IQN, 0, 0x2A, 0, 200_000);
            }
            Thread.sleep(1100);   // uptime_seconds >= 1
            Path data = dir.resolve("data");
            Run r = cli(data, "stats", "--interval", "1", "2");
            assertEquals(0, r.status(), r.err());
            String[] reports = r.out().split("\\R\\R(?=Last )");
            assertEquals(2, reports.length, r.out());
            assertTrue(reports[0].startsWith("Since the server started ("), r.out());
            assertTrue(reports[1].matches("(?s)Last \\d\\.\\d s:\\R.*"), r.out());
            assertTrue(line(reports[0], "VOLUME").endsWith("READ OPS  WRITE OPS  READ BW  WRITE BW"), reports[0]);
            Matcher first = Pattern.compile("\\s(\\d+(\\.\\d)?)\\s+\\S+ \\S+/s\\s+\\S+ \\S+/s$").matcher(line(reports[0], "s-0"));
            assertTrue(first.find(), reports[0]);
            assertTrue(Double.parseDouble(first.group(1)) > 0, "50 writes since start: " + reports[0]);
            assertTrue(line(reports[1], "s-0").matches(".*\\s0\\.0\\s+0 B/s\\s+0 B/s$"), "no I/O in the interval:\n" + reports[1]);

            Run json = cli(data, "stats", "--json", "--interval", "1", "2");
            String[] lines = json.out().strip().split("\\R");
            assertEquals(2, lines.length, json.out());
            JsonNode a = JSON.readTree(lines[0]);
            JsonNode b = JSON.readTree(lines[1]);
            assertEquals("since_start", a.get("rates_over").asText());
            assertEquals("interval", b.get("rates_over").asText());
            assertTrue(a.get("rates").get(IQN + "/0").get("write_ops_per_second").asDouble() > 0, lines[0]);
            assertTrue(a.get("rates").get("pool").get("write_bytes_per_second").asDouble() > 0, lines[0]);
            assertEquals(0.0, b.get("rates").get(IQN + "/0").get("write_ops_per_second").asDouble(), lines[1]);

            Run bad = cli(data, "stats", "--interval", "0");
            assertEquals(2, bad.status());
            assertTrue(bad.err().contains("--interval"), bad.err());
        }
    }
}
