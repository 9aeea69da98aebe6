package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orion.dedup.cli.OrionCli;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.containers.RecordFormat;
import io.orion.dedup.containers.SlotHeader;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job commands against a real in-process server over its control socket: {@code scrub
 * start --wait} (plain progress lines when stdout is not a terminal), {@code job list|show|cancel}
 * with and without {@code --json}, one scrub at a time, {@code scrub cancel} and {@code scrub
 * status}, {@code status} showing the last run of each kind, the seed's synchronous commands
 * ({@code scrub}, {@code dedup-reference-cleanup}) running as jobs, and a damaged chunk reported
 * with the target, LUN and LBA range it affects.
 */
class JobCommandsTest {

    static final String IQN = "iqn.2026-11.io.orion:jobs";
    static final ObjectMapper JSON = new ObjectMapper();

    record Run(int status, String out, String err) {
        JsonNode json() throws Exception {
            return JSON.readTree(out);
        }
    }

    static Run cli(Path data, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--data";
        all[args.length + 1] = data.toString();
        int status = new OrionCli(new PrintWriter(out, true), new PrintWriter(err, true), Optional::empty, r -> { })
                .execute(all);
        return new Run(status, out.toString(), err.toString());
    }

    /** A server with one dedup LUN (512-byte blocks) of {@code size}, and its config. */
    static OrionServer start(Path dir, String size, String extraConfig) throws Exception {
        Path targets = Files.createDirectories(dir.resolve("targets"));
        Files.writeString(targets.resolve("jobs.toml"), "iqn = \"" + IQN + "\"\n\n[attributes]\ndemo_mode = true\n\n"
                + "[[lun]]\nid = 0\nvolume = \"jobs-0\"\nsize = \"" + size + "\"\nblock_size = 512\n");
        Path conf = dir.resolve("dedup.toml");
        Files.writeString(conf, "[metrics]\nenabled = false\n" + extraConfig);
        return OrionServer.start(OrionConfig.load(conf), conf, targets, dir.resolve("data"),
                List.of(new InetSocketAddress("127.0.0.1", 0)));
    }

    /** Writes {@code blocks} distinct random 4 KiB blocks at the start of the LUN's volume. */
    static void fill(OrionServer server, int blocks) throws Exception {
        DedupPool pool = server.volumes().pool();
        DedupVolume v = pool.openVolume("jobs-0").orElseThrow();
        Random r = new Random(7);
        for (int i = 0; i < blocks; i += 256) {
            byte[] b = new byte[256 * 4096];
            r.nextBytes(b);
            v.write(i * 8L, ByteBuffer.wrap(b), false);
        }
        v.flush();
    }

    static void flip(Path file, long pos) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(pos);
            int x = f.read();
            f.seek(pos);
            f.write(x ^ 0x01);
        }
    }

    @Test
    void jobsAreStartedWatchedListedAndCancelledFromTheCommandLine(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        // 4 MiB of records at 2 MiB/s: each scrub lasts about 2 s
        try (OrionServer server = start(dir, "64MiB", "[deduplication]\ncompression_enabled = false\n"
                + "[jobs]\nscrub_rate = \"2MB\"\n")) {
            fill(server, 1024);
            long stored = server.volumes().pool().stats().storedBytes();
            assertEquals(1024L * (4096 + RecordFormat.HEADER), stored);
            Run empty = cli(data, "job", "list");
            assertEquals("No jobs have run yet.\n", empty.out(), empty.err());

            Run wait = cli(data, "scrub", "start", "--wait");
            assertEquals(0, wait.status(), wait.err());
            assertTrue(wait.out().startsWith("Started scrub: job 1\n"), wait.out());
            assertTrue(wait.out().contains("job 1 scrub running: "), "plain progress lines off a terminal: " + wait.out());
            assertTrue(wait.out().contains("job 1 scrub done after "), wait.out());
            assertTrue(wait.out().contains(": 0 errors"), wait.out());
            assertTrue(!wait.out().contains("\r") && !wait.out().contains("["), "no progress bar off a terminal");

            JsonNode list = cli(data, "job", "list", "--json").json();
            assertEquals(1, list.size());
            JsonNode j = list.get(0);
            assertEquals("scrub", j.get("kind").asText());
            assertEquals("done", j.get("state").asText());
            assertEquals("success", j.get("outcome").asText());
            assertEquals(stored, j.get("bytes_done").asLong());
            assertEquals(stored, j.get("bytes_total").asLong());
            assertEquals(2L << 20, j.get("throttle_bytes_per_second").asLong());
            assertTrue(j.get("duration_seconds").asDouble() >= 1.8, "paced at scrub_rate: " + j);
            JsonNode show = cli(data, "job", "show", "1", "--json").json();
            assertEquals(1024, show.path("result").path("chunks_checked").asLong());
            assertEquals(1024, show.path("result").path("mapped_blocks").asLong());
            Run human = cli(data, "job", "list");
            assertTrue(human.out().startsWith("ID  KIND   STATE"), human.out());
            assertTrue(human.out().contains("scrub  done"), human.out());
            Run status = cli(data, "status");
            assertTrue(status.out().matches("(?s).*\n  scrub: last run \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC, 0 errors, "
                    + "\\d+\\.\\d s; next \\d{4}-.*"), status.out());
            assertTrue(status.out().contains("\n  cleanup: never run\n"), status.out());
            assertEquals("scrub", cli(data, "status", "--json").json().path("jobs").get(0).path("kind").asText());

            Run legacy = cli(data, "scrub", "--json");
            assertEquals(0, legacy.status(), legacy.err());
            assertEquals(0, legacy.json().path("map_errors").asLong());
            assertEquals(2, legacy.json().path("job_id").asLong());

            // damage the first record on the device: the scrub names the LUN and the LBAs it hurts
            flip(data.resolve("store/chunks.0"), SlotHeader.SIZE + RecordFormat.HEADER + 100);
            Run bad = cli(data, "scrub", "start", "--wait");
            assertEquals(1, bad.status(), bad.out());
            assertTrue(bad.err().contains("found problems: 1 error"), bad.err());
            assertTrue(bad.out().contains(IQN + " LUN 0 (volume jobs-0) LBA 0-7 cannot be read"), bad.out());
            JsonNode affected = cli(data, "job", "show", "3", "--json").json().path("result").path("affected");
            assertEquals(1, affected.size(), affected.toString());
            assertEquals(IQN, affected.get(0).path("target").asText());
            assertEquals(0, affected.get(0).path("lun").asInt());
            assertEquals(0, affected.get(0).path("first_lba").asLong());
            assertEquals(7, affected.get(0).path("last_lba").asLong());
            assertTrue(cli(data, "status").out().contains(", 1 error, "), cli(data, "status").out());
            flip(data.resolve("store/chunks.0"), SlotHeader.SIZE + RecordFormat.HEADER + 100);

            // 32 MiB more on a volume of its own: a scrub now lasts long enough to be refused and cancelled
            DedupPool pool = server.volumes().pool();
            DedupVolume extra = pool.createVolume("extra", 4096, 32L << 20, 4096);
            Random r = new Random(8);
            for (int i = 0; i < 8192; i += 256) {
                byte[] b = new byte[256 * 4096];
                r.nextBytes(b);
                extra.write(i, ByteBuffer.wrap(b), false);
            }
            extra.flush();
            Run started = cli(data, "scrub", "start");
            assertEquals(0, started.status(), started.err());
            assertTrue(started.out().startsWith("Started scrub: job 4 "), started.out());
            Run twice = cli(data, "scrub", "start");
            assertEquals(1, twice.status());
            assertTrue(twice.err().contains("already running (job 4)"), twice.err());
            JsonNode running = cli(data, "scrub", "status", "--json").json();
            assertEquals(4, running.path("active").path("id").asLong());
            Run cancel = cli(data, "scrub", "cancel");
            assertEquals(0, cancel.status(), cancel.err());
            assertTrue(cancel.out().startsWith("job 4 scrub cancelled after "), cancel.out());
            JsonNode after = cli(data, "scrub", "status", "--json").json();
            assertTrue(after.path("active").isNull(), after.toString());
            assertEquals("cancelled", after.path("last").path("state").asText());
            assertTrue(after.path("last").path("bytes_done").asLong() < after.path("last").path("bytes_total").asLong(),
                    after.toString());
            Run none = cli(data, "scrub", "cancel");
            assertEquals(1, none.status());
            assertTrue(none.err().contains("no scrub is running"), none.err());
            Run done = cli(data, "job", "cancel", "1");
            assertEquals(1, done.status());
            assertTrue(done.err().contains("job 1 has already finished (done)"), done.err());
            Run missing = cli(data, "job", "show", "99");
            assertEquals(1, missing.status());
            assertTrue(missing.err().contains("no job 99"), missing.err());
            assertEquals(2, cli(data, "job", "show").status(), "missing ID is a usage error");

            assertTrue(pool.deleteVolume("extra"));
            Run cleanup = cli(data, "dedup-reference-cleanup", "--json");
            assertEquals(0, cleanup.status(), cleanup.err());
            assertEquals(5, cleanup.json().path("job_id").asLong());
            assertTrue(cleanup.json().path("reclaimed_bytes").asLong() >= 32L << 20, cleanup.out());
            assertEquals(List.of("scrub", "scrub", "scrub", "scrub", "cleanup"),
                    JSON.convertValue(cli(data, "job", "list", "--json").json().findValuesAsText("kind"), List.class));
        }
        // a restart keeps the last result of each kind
        try (OrionServer server = start(dir, "64MiB", "")) {
            Run status = cli(data, "status");
            assertTrue(status.out().contains("  scrub: last run ") && status.out().contains(" (cancelled), "),
                    status.out());
            assertTrue(status.out().contains("  cleanup: last run ") && status.out().contains(" reclaimed, "), status.out());
            assertEquals(List.of(4L, 5L), cli(data, "job", "list", "--json").json().findValues("id").stream()
                    .map(JsonNode::asLong).toList());
        }
    }
}
