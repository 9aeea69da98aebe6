package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of the server at random moments while two writers run concurrently, each writing batches
 * with {@code qemu-img convert} (parallel, out-of-order writes, then SYNCHRONIZE CACHE when it
 * closes the image). A batch whose qemu-img exited 0 was flushed. After every restart, every
 * sector of the test region must hold the data of the last flushed batch that wrote it, or of the
 * batch that was in flight at the kill — never anything else — and a scrub of the pool must find
 * no CRC or fingerprint mismatch.
 *
 * <p>Batches mix unique random data with repeated (duplicate) and zero blocks, so both new chunks
 * and shared references are in flight at the kill.
 */
class CrashIT {

    private static final int ROUNDS = Integer.getInteger("orion.crash.rounds", 20);
    private static final int SECTOR = 512;
    private static final int BLOCK = 4096;
    private static final long REGION = 32L << 20;          // each writer owns 32 MiB
    private static final int WRITERS = 2;

    /** Per sector: the version (batch content) acceptable there. */
    private static final class Model {
        final byte[][] flushed = new byte[(int) (WRITERS * REGION / SECTOR)][];
        final byte[][] inFlight = new byte[flushed.length][];
    }

    @Test
    void flushedWritesSurviveKillNine(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        int port = ServerProcess.freePort();
        Model model = new Model();
        Random rnd = new Random(20261125);
        Path readBack = dir.resolve("readback.img");
        for (int round = 0; round < ROUNDS; round++) {
            ServerProcess server = ServerProcess.start(data, targets, port);
            verify(server, model, readBack, round);
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> writers = new ArrayList<>();
            List<Throwable> errors = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                final int writer = w;
                final long seed = rnd.nextLong();
                Thread t = new Thread(() -> {
                    try {
                        writeBatches(server, model, dir, writer, seed, stop);
                    } catch (Throwable e) {
                        synchronized (errors) {
                            errors.add(e);
                        }
                    }
                }, "writer-" + w);
                writers.add(t);
                t.start();
            }
            Thread.sleep(700 + rnd.nextInt(3000));
            stop.set(true);            // first: a batch failing from here on failed because of the kill
            server.kill();
            for (Thread t : writers) {
                t.join(120_000);
            }
            assertTrue(errors.isEmpty(), "writer failed: " + errors);
        }
        ServerProcess server = ServerProcess.start(data, targets, port);
        try {
            verify(server, model, readBack, ROUNDS);
        } finally {
            server.close();
        }
    }

    private static void writeBatches(ServerProcess server, Model model, Path dir, int writer, long seed,
                                     AtomicBoolean stop) throws Exception {
        Random rnd = new Random(seed);
        Path src = dir.resolve("batch-" + writer + ".img");
        byte[] dup = new byte[BLOCK];
        rnd.nextBytes(dup);
        while (!stop.get()) {
            int blocks = 64 + rnd.nextInt(448);                       // 256 KiB .. 2 MiB
            long maxStart = REGION / BLOCK - blocks;
            long offset = writer * REGION + (long) rnd.nextInt((int) maxStart) * BLOCK;
            byte[] content = new byte[blocks * BLOCK];
            for (int b = 0; b < blocks; b++) {
                int kind = rnd.nextInt(10);
                if (kind < 6) {
                    byte[] u = new byte[BLOCK];
                    rnd.nextBytes(u);
                    System.arraycopy(u, 0, content, b * BLOCK, BLOCK);
                } else if (kind < 9) {
                    System.arraycopy(dup, 0, content, b * BLOCK, BLOCK);
                } // else: a zero block
            }
            Files.write(src, content);
            int first = (int) (offset / SECTOR);
            int sectors = content.length / SECTOR;
            synchronized (model) {
                for (int s = 0; s < sectors; s++) {
                    model.inFlight[first + s] = Arrays.copyOfRange(content, s * SECTOR, (s + 1) * SECTOR);
                }
            }
            ExternalTool.Result r = ExternalTool.run(Duration.ofSeconds(90), null,
                    () -> stop.get() && !server.alive(), "qemu-img", "convert", "-n", "-W",
                    "-m", "8", "-f", "raw", "--target-image-opts", src.toString(),
                    server.rawRange(offset, content.length));
            if (r.exitCode() != 0) {
                if (stop.get() || !server.alive()) {
                    return;                       // killed mid-batch: it stays "in flight"
                }
                throw new AssertionError(r.output());
            }
            synchronized (model) {
                for (int s = 0; s < sectors; s++) {
                    model.flushed[first + s] = model.inFlight[first + s];
                    model.inFlight[first + s] = null;
                }
            }
        }
    }

    private static void verify(ServerProcess server, Model model, Path readBack, int round) throws Exception {
        Files.deleteIfExists(readBack);
        ExternalTool.run(Duration.ofMinutes(3), "qemu-img", "convert", "-O", "raw", "--image-opts",
                server.rawRange(0, WRITERS * REGION),
                readBack.toString()).assertOk();
        byte[] disk = Files.readAllBytes(readBack);
        assertEquals(WRITERS * REGION, disk.length);
        byte[] zero = new byte[SECTOR];
        int lost = 0;
        String firstBad = null;
        synchronized (model) {
            for (int s = 0; s < model.flushed.length; s++) {
                byte[] actual = Arrays.copyOfRange(disk, s * SECTOR, (s + 1) * SECTOR);
                byte[] want = model.flushed[s] == null ? zero : model.flushed[s];
                byte[] maybe = model.inFlight[s];
                if (Arrays.equals(actual, want)) {
                    model.inFlight[s] = null;
                } else if (maybe != null && Arrays.equals(actual, maybe)) {
                    model.flushed[s] = maybe;       // the in-flight write landed: it is now the truth
                    model.inFlight[s] = null;
                } else {
                    lost++;
                    if (firstBad == null) {
                        firstBad = "sector " + s + " (byte " + (long) s * SECTOR + ")";
                    }
                }
            }
        }
        assertEquals(0, lost, "round " + round + ": " + lost + " sectors differ from every acceptable version; first: "
                + firstBad);
        ExternalTool.Result scrub = ExternalTool.run(Duration.ofMinutes(3), "scripts/orion-dedup", "scrub",
                "--data", server.data().toString(), "--json");
        assertEquals(0, scrub.exitCode(), scrub.output());
        assertTrue(scrub.output().contains("\"crc_errors\" : 0") || scrub.output().contains("\"crc_errors\":0"), scrub.output());
        assertTrue(scrub.output().contains("\"fingerprint_mismatches\" : 0")
                || scrub.output().contains("\"fingerprint_mismatches\":0"), scrub.output());
    }
}
