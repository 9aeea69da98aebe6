package io.orion.dedup.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code orion-dedup estimate}: its output on a file, and exit 2 naming the option for bad input. */
class EstimateCommandTest {
    @TempDir
    Path dir;

    /** 2 MiB: 128 KiB of random bytes written 8 times, then 1 MiB of zeros. */
    private Path image() throws Exception {
        byte[] img = new byte[2 << 20];
        byte[] r = new byte[128 * 1024];
        new Random(3).nextBytes(r);
        for (int i = 0; i < 8; i++) {
            System.arraycopy(r, 0, img, i * r.length, r.length);
        }
        return Files.write(dir.resolve("d.img"), img);
    }

    @Test
    void printsFiguresPerBlockSizeAsJson() throws Exception {
        Path f = image();
        OrionCliTest.Run run = OrionCliTest.run("estimate", f.toString(), "--block-sizes", "4K,64K", "--json",
                "--progress", "lines");
        assertEquals(0, run.status(), run.err());
        JsonNode j = new ObjectMapper().readTree(run.out());
        assertEquals(2 << 20, j.get("size_bytes").asLong());
        JsonNode k4 = j.get("block_sizes").get(0);
        assertEquals(4096, k4.get("block_size").asInt());
        assertEquals(512, k4.get("logical_blocks").asLong());
        assertEquals(256, k4.get("zero_blocks").asLong());
        assertEquals(32, k4.get("unique_chunks").asLong());
        assertEquals(32 * (4096 + 60), k4.get("stored_bytes").asLong(), "random blocks stay raw: 60-byte header each");
        assertEquals(16.0, k4.get("dedup_ratio").asDouble(), 1e-9);
        assertEquals(8.0, k4.get("data_dedup_ratio").asDouble(), 1e-9);
        assertEquals(8, k4.get("histogram").get(0).get("max_refcount").asLong());
        assertEquals(Math.round(512 * 4.3 + 32 * 126.3), k4.get("metadata_disk_bytes").asLong());
        JsonNode k64 = j.get("block_sizes").get(1);
        assertEquals(2, k64.get("unique_chunks").asLong());
        assertEquals(16, k64.get("zero_blocks").asLong());
        assertEquals(65536, j.get("recommended_block_size").asInt(), j.toPrettyString());
        assertTrue(run.err().contains("estimate: 100%"), run.err());
    }

    @Test
    void printsTablesAndARecommendation() throws Exception {
        OrionCliTest.Run run = OrionCliTest.run("estimate", image().toString(), "--progress", "none");
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains("dedup = 8.00, compress = 0.99"), run.out());
        assertTrue(run.out().contains("Recommendation: use 64K blocks"), run.out());
        assertEquals("", run.err());
    }

    @Test
    void randomDataIsReportedAsNotWorthDeduplicating() throws Exception {
        byte[] img = new byte[1 << 20];
        new Random(8).nextBytes(img);
        Path f = Files.write(dir.resolve("r.img"), img);
        OrionCliTest.Run run = OrionCliTest.run("estimate", f.toString(), "--progress", "none");
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains("Recommendation: dedup will not pay"), run.out());
    }

    @Test
    void anEmptyFileHasNothingToDedup() throws Exception {
        Path f = Files.write(dir.resolve("empty.img"), new byte[0]);
        OrionCliTest.Run run = OrionCliTest.run("estimate", f.toString(), "--progress", "none", "--json");
        assertEquals(0, run.status(), run.err());
        JsonNode j = new ObjectMapper().readTree(run.out());
        assertEquals(0, j.get("block_sizes").get(0).get("logical_blocks").asLong());
        assertTrue(j.get("recommended_block_size").isNull(), run.out());
        assertTrue(j.get("recommendation").asText().startsWith("nothing to dedup"), run.out());
    }

    @Test
    void badInputExitsTwoNamingTheOption() throws Exception {
        Path f = image();
        String[][] cases = {
            {"SOURCE", "estimate", dir.resolve("missing.img").toString()},
            {"SOURCE", "estimate", "iscsi://127.0.0.1:3260/not-an-iqn/0"},
            {"SOURCE", "estimate", "iscsi://127.0.0.1:3260/iqn.2026-11.io.orion:x"},
            {"SOURCE", "estimate", "iscsi://user%secret@127.0.0.1/iqn.2026-11.io.orion:x/0"},
            {"SOURCE", "estimate", "nbd://host/export"},
            {"--block-sizes", "estimate", f.toString(), "--block-sizes", "4K,5K"},
            {"--block-sizes", "estimate", f.toString(), "--block-sizes", "128K"},
            {"--block-sizes", "estimate", f.toString(), "--block-sizes", "four"},
            {"--compression-level", "estimate", f.toString(), "--compression-level", "99"},
            {"--compression-threshold", "estimate", f.toString(), "--compression-threshold", "1.5"},
            {"--memory", "estimate", f.toString(), "--memory", "10K"},
            {"--chap-user", "estimate", f.toString(), "--chap-user", "u", "--chap-secret-file", f.toString()},
            {"--chap-secret-file", "estimate", "iscsi://127.0.0.1:1/iqn.2026-11.io.orion:x/0", "--chap-user", "u"},
        };
        for (String[] c : cases) {
            String[] args = java.util.Arrays.copyOfRange(c, 1, c.length);
            OrionCliTest.Run run = OrionCliTest.run(args);
            assertEquals(2, run.status(), String.join(" ", args) + "\n" + run.err());
            assertTrue(run.err().contains(c[0]), String.join(" ", args) + ": " + run.err());
            assertEquals("", run.out(), String.join(" ", args));
        }
    }

    @Test
    void anUnreachablePortalIsAFailure() {
        OrionCliTest.Run run = OrionCliTest.run("estimate", "iscsi://127.0.0.1:1/iqn.2026-11.io.orion:x/0");
        assertEquals(1, run.status(), run.err());
        assertTrue(run.err().contains("127.0.0.1:1") && run.err().contains("cannot connect"), run.err());
    }
}
