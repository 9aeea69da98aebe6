package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exact dedup accounting through iSCSI: a 256 MiB file of mixed 4 KiB blocks (random, repeated,
 * zero, compressible) written with qemu-img, then the same file again at another offset. The
 * engine's counters must equal what this test computes from the file, and the second copy must
 * add no stored bytes.
 */
class ExactnessIT {

    private static final int BLOCK = 4096;
    private static final int BLOCKS = 256 * 256;            // 256 MiB
    private static final long SECOND_COPY = 1L << 30;

    /** The file, and what an exact engine must report for one copy of it. */
    record Mixed(Path file, long distinctNonZero, long zeroBlocks) {
    }

    static Mixed mixedFile(Path dir) throws Exception {
        Random rnd = new Random(4);
        byte[] content = new byte[BLOCKS * BLOCK];
        byte[][] repeated = new byte[64][BLOCK];
        for (byte[] r : repeated) {
            rnd.nextBytes(r);
        }
        byte[] words = "orion dedup compresses text like this line; ".getBytes();
        for (int b = 0; b < BLOCKS; b++) {
            int kind = rnd.nextInt(100);
            int off = b * BLOCK;
            if (kind < 40) {                                  // unique random
                byte[] u = new byte[BLOCK];
                rnd.nextBytes(u);
                System.arraycopy(u, 0, content, off, BLOCK);
            } else if (kind < 70) {                           // one of 64 repeated blocks
                System.arraycopy(repeated[rnd.nextInt(64)], 0, content, off, BLOCK);
            } else if (kind < 85) {                           // zero
                continue;
            } else {                                          // compressible, unique per block
                for (int i = 0; i < BLOCK; i++) {
                    content[off + i] = words[i % words.length];
                }
                ByteBuffer.wrap(content, off, 8).putLong(b);
            }
        }
        Set<ByteBuffer> distinct = new HashSet<>();
        long zeros = 0;
        for (int b = 0; b < BLOCKS; b++) {
            ByteBuffer blk = ByteBuffer.wrap(content, b * BLOCK, BLOCK);
            boolean zero = true;
            for (int i = b * BLOCK; i < (b + 1) * BLOCK && zero; i++) {
                zero = content[i] == 0;
            }
            if (zero) {
                zeros++;
            } else {
                distinct.add(blk.slice());
            }
        }
        Path f = dir.resolve("mixed.img");
        Files.write(f, content);
        return new Mixed(f, distinct.size(), zeros);
    }

    @Test
    void statsEqualTheOfflineCountAndASecondCopyStoresNothing(@TempDir Path dir) throws Exception {
        Mixed mixed = mixedFile(dir);
        Path data = dir.resolve("data");
        int port = ServerProcess.freePort();
        try (ServerProcess server = ServerProcess.start(data, ServerProcess.copyTargets(dir), port)) {
            write(server, mixed.file(), 0);
            JsonNode first = StatsJson.pool(StatsJson.fetch(data));
            assertEquals(mixed.distinctNonZero(), first.get("unique_chunks").asLong(), first.toPrettyString());
            assertEquals(mixed.distinctNonZero() * BLOCK, first.get("unique_bytes").asLong());
            assertEquals(mixed.zeroBlocks(), first.get("zero_blocks").asLong(), first.toPrettyString());
            assertEquals((long) BLOCKS * BLOCK, first.get("logical_bytes").asLong());
            long stored = first.get("stored_bytes").asLong();
            assertTrue(stored < mixed.distinctNonZero() * BLOCK, "compressible blocks are stored smaller: " + stored);

            write(server, mixed.file(), SECOND_COPY);
            JsonNode second = StatsJson.pool(StatsJson.fetch(data));
            assertEquals(mixed.distinctNonZero(), second.get("unique_chunks").asLong(), second.toPrettyString());
            assertEquals(stored, second.get("stored_bytes").asLong(), "the second copy adds no stored bytes");
            assertEquals(2 * mixed.zeroBlocks(), second.get("zero_blocks").asLong());
            assertEquals(2L * BLOCKS * BLOCK, second.get("logical_bytes").asLong());
            double ratio = second.get("dedup_ratio").asDouble();
            assertEquals((double) (2L * BLOCKS * BLOCK) / (mixed.distinctNonZero() * BLOCK), ratio, 1e-6);

            compareBothCopies(server, mixed);
            assertEquals(0, server.stop(Duration.ofSeconds(60)), server.output());

            // A clean restart: same data, same counters (refcounts included: a scrub recounts them).
            try (ServerProcess again = ServerProcess.start(data, dir.resolve("targets"), port)) {
                JsonNode restarted = StatsJson.pool(StatsJson.fetch(data));
                for (String key : PERSISTENT_KEYS) {
                    assertEquals(second.get(key), restarted.get(key), key + " after restart");
                }
                compareBothCopies(again, mixed);
            }
        }
    }

    private static final String[] PERSISTENT_KEYS = {"logical_bytes", "zero_blocks", "unique_chunks",
        "unique_bytes", "stored_bytes", "reclaimable_bytes", "dedup_ratio", "compression_ratio", "saving_percent"};

    private static void compareBothCopies(ServerProcess server, Mixed mixed) throws Exception {
        for (long offset : new long[] {0, SECOND_COPY}) {
            String cmp = ExternalTool.run(Duration.ofMinutes(3), "qemu-img", "compare", "--image-opts",
                    server.rawRange(offset, (long) BLOCKS * BLOCK),
                    "driver=raw,file.filename=" + mixed.file()).output();
            assertTrue(cmp.contains("Images are identical"), "copy at " + offset + ": " + cmp);
        }
    }

    /** -S 0: write every block as data (zero blocks too), so the engine sees and counts them. */
    private static void write(ServerProcess server, Path file, long offset) throws Exception {
        ExternalTool.run(Duration.ofMinutes(5), "qemu-img", "convert", "-n", "-S", "0", "-W", "-m", "16",
                "-f", "raw", "--target-image-opts", file.toString(),
                server.rawRange(offset, Files.size(file)))
                .assertOk();
    }
}
