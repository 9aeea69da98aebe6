package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reference cleanup on a live server: fill 256 MiB with unique data, overwrite 75 % of it with new
 * unique data, then run {@code dedup-reference-cleanup} while a reader keeps comparing the live data.
 * Afterwards the pool stores within 5 % of what the live chunks need, and the chunk store's
 * allocated disk space either shrank by about the garbage or is reused by the next writes.
 */
class CleanupIT {

    private static final long MIB = 1 << 20;
    private static final long SIZE = 256 * MIB;
    private static final long OVERWRITE = 192 * MIB;

    @Test
    void cleanupReclaimsOverwrittenDataWhileReadersSeeLiveData(@TempDir Path dir) throws Exception {
        Path a = BlockIoIT.randomFile(dir, "a.img", SIZE, 1);
        Path b = BlockIoIT.randomFile(dir, "b.img", OVERWRITE, 2);
        Path data = dir.resolve("data");
        int port = ServerProcess.freePort();
        try (ServerProcess server = ServerProcess.start(data, ServerProcess.copyTargets(dir), port)) {
            write(server, a, 0);
            write(server, b, 0);
            JsonNode before = StatsJson.pool(StatsJson.fetch(data));
            long allocatedBefore = allocated(data.resolve("store"));
            long liveUnique = before.get("unique_bytes").asLong();
            assertEquals(SIZE, liveUnique, "live data: B (192 MiB) + the last 64 MiB of A, all unique");
            assertTrue(before.get("reclaimable_bytes").asLong() >= OVERWRITE * 95 / 100, before.toPrettyString());

            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger reads = new AtomicInteger();
            List<String> readErrors = new ArrayList<>();
            Thread reader = new Thread(() -> {
                try {
                    while (!stop.get() || reads.get() == 0) {
                        check(server, b, 0, 0, OVERWRITE, readErrors);
                        check(server, a, OVERWRITE, OVERWRITE, SIZE - OVERWRITE, readErrors);
                        reads.incrementAndGet();
                    }
                } catch (Exception e) {
                    readErrors.add(e.toString());
                }
            });
            reader.start();
            ExternalTool.Result cleanup = ExternalTool.run(Duration.ofMinutes(5), "scripts/dedup-reference-cleanup",
                    "--data", data.toString()).assertOk();
            stop.set(true);
            reader.join(300_000);
            assertTrue(readErrors.isEmpty(), "live data changed during cleanup: " + readErrors);

            JsonNode after = StatsJson.pool(StatsJson.fetch(data));
            long stored = after.get("stored_bytes").asLong();
            assertTrue(stored <= liveUnique * 105 / 100, "stored " + stored + " vs live " + liveUnique + "\n"
                    + cleanup.output());
            assertTrue(after.get("reclaimable_bytes").asLong() <= liveUnique * 5 / 100, after.toPrettyString());
            long allocatedAfter = allocated(data.resolve("store"));
            if (allocatedAfter > allocatedBefore - OVERWRITE / 2) {
                // Not given back to the file system: then the next writes must reuse it. 192 MiB
                // of new data elsewhere may grow the store by at most one container of slack.
                Path c = BlockIoIT.randomFile(dir, "c.img", OVERWRITE, 3);
                write(server, c, SIZE);
                long allocatedReused = allocated(data.resolve("store"));
                assertTrue(allocatedReused <= allocatedBefore + 64 * MIB, "store allocation " + allocatedBefore
                        + " -> " + allocatedAfter + " after cleanup -> " + allocatedReused
                        + " after 192 MiB more: freed space was neither released nor reused\n" + cleanup.output());
                check(server, c, SIZE, 0, OVERWRITE, readErrors);
            }
            check(server, b, 0, 0, OVERWRITE, readErrors);
            check(server, a, OVERWRITE, OVERWRITE, SIZE - OVERWRITE, readErrors);
            assertTrue(readErrors.isEmpty(), readErrors.toString());
        }
    }

    private static void write(ServerProcess server, Path file, long offset) throws Exception {
        ExternalTool.run(Duration.ofMinutes(5), "qemu-img", "convert", "-n", "-W", "-m", "16", "-f", "raw",
                "--target-image-opts", file.toString(), server.rawRange(offset, java.nio.file.Files.size(file)))
                .assertOk();
    }

    /** Compares LUN bytes [lunOffset, +len) with the file's bytes [fileOffset, +len). */
    private static void check(ServerProcess server, Path file, long lunOffset, long fileOffset, long len,
                              List<String> errors) throws Exception {
        String cmp = ExternalTool.run(Duration.ofMinutes(3), "qemu-img", "compare", "--image-opts",
                server.rawRange(lunOffset, len),
                "driver=raw,offset=" + fileOffset + ",size=" + len + ",file.filename=" + file).output();
        if (!cmp.contains("Images are identical")) {
            synchronized (errors) {
                errors.add("LUN [" + lunOffset + ", +" + len + "): " + cmp.strip());
            }
        }
    }

    /** Disk space actually allocated under {@code dir} (du, in bytes). */
    static long allocated(Path dir) throws Exception {
        String out = ExternalTool.run(Duration.ofMinutes(1), "du", "-s", "--block-size=1", dir.toString())
                .assertOk().output();
        return Long.parseLong(out.trim().split("\\s+")[0]);
    }
}
