package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code backup} under write load through real iSCSI, then {@code restore} into an empty metadata
 * directory: the pool reads back what it held at the backup point. Pattern P1 is written, a
 * background qemu-io writer rewrites other blocks with pattern generations 1, 2, 3, ... while
 * {@code backup} runs; then P2 overwrites P1, the server stops, the metadata directory is emptied,
 * {@code restore} runs and the server starts again: P1 reads P1, each background block reads a
 * generation that was being written by the time the backup ended and at least the last generation
 * acknowledged before it began, {@code scrub} is clean and the pool counters match what reads back.
 */
class BackupIT {
    private static final Duration LIMIT = Duration.ofMinutes(2);
    private static final int P_SIZE = 4 << 20;
    private static final long BG_OFFSET = 16L << 20;
    private static final int BG_SIZE = 1 << 20;

    private static ExternalTool.Result cli(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "scripts/orion-dedup";
        System.arraycopy(args, 0, cmd, 1, args.length);
        return ExternalTool.run(LIMIT, cmd);
    }

    private static void write(ServerProcess server, Path dir, long offset, byte[] bytes) throws Exception {
        Path img = Files.createTempFile(dir, "p", ".img");
        Files.write(img, bytes);
        ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "--target-image-opts", img.toString(),
                server.rawRange(offset, bytes.length)).assertOk();
        Files.delete(img);
    }

    private static byte[] read(ServerProcess server, Path dir, long offset, int size) throws Exception {
        Path img = dir.resolve("read.img");
        Files.deleteIfExists(img);
        ExternalTool.run(LIMIT, "qemu-img", "convert", "-O", "raw", "--image-opts", server.rawRange(offset, size),
                img.toString()).assertOk();
        byte[] b = Files.readAllBytes(img);
        Files.delete(img);
        return b;
    }

    @Test
    void backupUnderWriteLoadThenRestoreIntoAnEmptyMetadataDirectory(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path config = AdminTools.config(dir, 0);
        Path backup = dir.resolve("backups/pool.orbk");
        Files.createDirectories(backup.getParent());
        byte[] p1 = new byte[P_SIZE];
        new Random(1).nextBytes(p1);
        byte[] p2 = new byte[P_SIZE];
        new Random(2).nextBytes(p2);

        int ackedBefore;
        int startedByEnd;
        ServerProcess server = ServerProcess.start(data, targets, config, ServerProcess.freePort());
        try {
            write(server, dir, 0, p1);
            AtomicInteger started = new AtomicInteger();
            AtomicInteger acked = new AtomicInteger();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<String> failure = new AtomicReference<>();
            String bgRange = server.rawRange(BG_OFFSET, BG_SIZE);
            Thread writer = new Thread(() -> {
                try {
                    for (int gen = 1; gen < 250 && !stop.get(); gen++) {
                        started.set(gen);
                        ExternalTool.Result r = ExternalTool.run(LIMIT, "qemu-io", "--image-opts",
                                bgRange, "-c", "write -P " + gen + " 0 512k",
                                "-c", "write -P " + gen + " 512k 512k");
                        if (r.exitCode() != 0 || r.output().contains("error")) {
                            failure.set(r.output());
                            return;
                        }
                        acked.set(gen);
                    }
                } catch (Exception e) {
                    failure.set(e.toString());
                }
            }, "background-writer");
            writer.start();
            long deadline = System.nanoTime() + LIMIT.toNanos();
            while (acked.get() < 2 && failure.get() == null && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            ackedBefore = acked.get();
            ExternalTool.Result b = cli("backup", "--to", backup.toString(), "--data", data.toString());
            startedByEnd = started.get();
            int ackedAfter = acked.get();
            stop.set(true);
            writer.join();
            assertEquals(null, failure.get(), "background writer failed");
            b.assertOk();
            assertTrue(b.output().contains("Backed up the metadata of pool"), b.output());
            assertTrue(ackedAfter > ackedBefore || startedByEnd > ackedBefore,
                    "the writer ran during the backup: acked " + ackedBefore + " -> " + ackedAfter);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(backup)));

            write(server, dir, 0, p2);
            assertArrayEquals(p2, read(server, dir, 0, P_SIZE));
            assertEquals(0, server.stop(LIMIT), server.output());
        } finally {
            server.close();
        }

        // the server stopped: empty the metadata directory, restore
        Path meta = data.resolve("meta");
        try (Stream<Path> s = Files.walk(meta)) {
            s.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(meta)).forEach(p -> p.toFile().delete());
        }
        ExternalTool.Result r = cli("restore", "--from", backup.toString(), "--data", data.toString(),
                "--config", config.toString());
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("Restored the metadata of pool"), r.output());

        server = ServerProcess.start(data, targets, config, ServerProcess.freePort());
        try {
            // restore refuses a running server
            ExternalTool.Result again = cli("restore", "--from", backup.toString(), "--data", data.toString(),
                    "--config", config.toString(), "--force");
            assertEquals(1, again.exitCode(), again.output());
            assertTrue(again.output().contains("a server is running"), again.output());

            assertArrayEquals(p1, read(server, dir, 0, P_SIZE), "P1 as at the backup");
            byte[] bg = read(server, dir, BG_OFFSET, BG_SIZE);
            TreeSet<Integer> seen = new TreeSet<>();
            for (int blk = 0; blk < BG_SIZE / 4096; blk++) {
                int v = bg[blk * 4096] & 0xff;
                for (int i = 0; i < 4096; i++) {
                    assertEquals(v, bg[blk * 4096 + i] & 0xff, "block " + blk + " holds one generation");
                }
                assertTrue(v >= ackedBefore && v <= startedByEnd, "block " + blk + " reads generation " + v
                        + ", outside [" + ackedBefore + ", " + startedByEnd + "]");
                seen.add(v);
            }
            ExternalTool.Result scrub = cli("scrub", "--data", data.toString());
            assertEquals(0, scrub.exitCode(), scrub.output());

            JsonNode pool = StatsJson.pool(StatsJson.fetch(data));
            assertEquals(P_SIZE + BG_SIZE, pool.get("logical_bytes").asLong(), pool.toPrettyString());
            // P1's blocks are unique; each background generation still present is one chunk
            assertEquals(P_SIZE / 4096 + seen.size(), pool.get("unique_chunks").asLong(), pool.toPrettyString());
            assertEquals(0, server.stop(LIMIT), server.output());
        } finally {
            server.close();
        }
    }
}
