package io.orion.dedup.server;

import static io.orion.dedup.server.JobCommandsTest.cli;
import static io.orion.dedup.server.JobCommandsTest.flip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.server.JobCommandsTest.Run;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code scrub --repair} and {@code scrub start --repair} against a real in-process server over its
 * control socket: the repaired and unrepairable counts in the table, the JSON, the job's result
 * and {@code scrub status}; exit 0 when every damaged chunk was repaired, 1 when one stays damaged
 * (its LUN and LBAs named); a scrub without {@code --repair} reports no repair figures and changes
 * nothing.
 */
class ScrubRepairCommandsTest {

    private static byte[] random(long seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] read(DedupVolume v, long lba) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4096);
        v.read(lba, b);
        return b.array();
    }

    /** Where {@code content} (stored raw: compression off) lies in the device file. */
    private static long find(Path dev, byte[] content) throws Exception {
        byte[] all = new byte[(int) Math.min(java.nio.file.Files.size(dev), 8 << 20)]; // the records lie at its start
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(dev.toFile(), "r")) {
            f.readFully(all);
        }
        outer:
        for (int i = 0; i + content.length <= all.length; i++) {
            for (int k = 0; k < 64; k++) {
                if (all[i + k] != content[k]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("content not found in " + dev);
    }

    @Test
    void scrubRepairReportsRepairedAndUnrepairableChunks(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path dev = data.resolve("store/chunks.0");
        byte[] z = random(1);
        byte[] x = random(2);
        try (OrionServer server = JobCommandsTest.start(dir, "64MiB", "[deduplication]\ncompression_enabled = false\n")) {
            DedupPool pool = server.volumes().pool();
            DedupVolume v = pool.openVolume("jobs-0").orElseThrow();
            v.write(16, ByteBuffer.wrap(z), false); // first record: LBA 16-23
            pool.flushCaches(); // no copy of z anywhere but its record
            v.write(0, ByteBuffer.wrap(x), false); // second record, in the block cache: LBA 0-7 and 8-15
            v.write(8, ByteBuffer.wrap(x), false);
            v.flush();

            // x's record damaged: a scrub without --repair reports it and changes nothing
            flip(dev, find(dev, x) + 100);
            Run plain = cli(data, "scrub", "--json");
            assertEquals(1, plain.status(), plain.out());
            assertEquals(1, plain.json().path("crc_errors").asLong());
            assertTrue(plain.json().path("repaired").isMissingNode(), "no repair figures without --repair: " + plain.out());

            // --repair: rewritten from the block cache's copy; nothing stays damaged: exit 0
            Run fixed = cli(data, "scrub", "--repair");
            assertEquals(0, fixed.status(), fixed.out() + fixed.err());
            assertTrue(fixed.out().matches("(?s).*\\brepaired +1\n.*"), fixed.out());
            assertTrue(fixed.out().matches("(?s).*\\bunrepairable +0\n.*"), fixed.out());
            assertTrue(fixed.out().matches("(?s).*\\bcrc_errors +1\n.*"), fixed.out());
            pool.flushCaches();
            assertArrayEquals(x, read(v, 0), "read from the repaired record");
            assertArrayEquals(x, read(v, 8));
            Run clean = cli(data, "scrub", "--repair", "--json");
            assertEquals(0, clean.status(), clean.out());
            assertEquals(0, clean.json().path("crc_errors").asLong());
            assertEquals(0, clean.json().path("repaired").asLong());
            assertEquals(0, clean.json().path("unrepairable").asLong());

            // z's record damaged: no good copy anywhere, it stays damaged
            flip(dev, find(dev, z) + 100);
            Run bad = cli(data, "scrub", "start", "--repair", "--wait");
            assertEquals(1, bad.status(), bad.out());
            assertTrue(bad.out().startsWith("Started scrub --repair: job "), bad.out());
            assertTrue(bad.err().contains("found problems: 1 error, 0 repaired, 1 unrepairable"), bad.err());
            assertTrue(bad.out().contains(JobCommandsTest.IQN + " LUN 0 (volume jobs-0) LBA 16-23 cannot be read"),
                    bad.out());
            JsonNode status = cli(data, "scrub", "status", "--json").json();
            JsonNode result = status.path("last").path("result");
            assertEquals(true, result.path("repair").asBoolean(), status.toString());
            assertEquals(0, result.path("repaired").asLong());
            assertEquals(1, result.path("unrepairable").asLong());
            JsonNode left = result.path("unrepairable_chunks");
            assertEquals(1, left.size(), left.toString());
            assertEquals(result.path("affected").get(0).path("chunk").asLong(), left.get(0).path("chunk").asLong());
            assertTrue(left.get(0).path("reason").asText().contains("no good copy"), left.toString());
            assertEquals(1, result.path("affected").size());
            Run human = cli(data, "scrub", "status");
            assertTrue(human.out().contains(", 1 error, 0 repaired, 1 unrepairable, "), human.out());
            assertTrue(human.out().matches("(?s).*\\bunrepairable +1\n.*"), human.out());
            assertThrows(ChecksumMismatchException.class, () -> read(v, 16), "never other bytes");
            assertFalse(cli(data, "scrub", "--repair").status() == 0, "still damaged");
        }
    }
}
