package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Block I/O through real initiators: libiscsi's iscsi-ls, QEMU's iSCSI driver (qemu-img, qemu-io),
 * and the data surviving a clean restart.
 */
class BlockIoIT {

    private static final Duration LIMIT = Duration.ofMinutes(5);

    static Path randomFile(Path dir, String name, long bytes, long seed) throws IOException {
        Path f = dir.resolve(name);
        Random rnd = new Random(seed);
        byte[] buf = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(f)) {
            for (long done = 0; done < bytes; done += buf.length) {
                rnd.nextBytes(buf);
                out.write(buf, 0, (int) Math.min(buf.length, bytes - done));
            }
        }
        return f;
    }

    @Test
    void discoveryListsTheDefaultTargetWithItsSize(@TempDir Path dir) throws Exception {
        int port = ServerProcess.freePort();
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), ServerProcess.copyTargets(dir), port)) {
            String out = ExternalTool.run(LIMIT, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + port).assertOk().output();
            assertTrue(out.contains("Target:" + ServerProcess.DEFAULT_IQN), out);
            assertTrue(out.contains("Portal:127.0.0.1:" + port), out);
            assertTrue(out.matches("(?s).*Lun:0\\s+Type:DIRECT_ACCESS \\(Size:\\d+G\\).*"), out);
            String cap = ExternalTool.run(LIMIT, "iscsi-readcapacity16", server.url(0)).assertOk().output();
            assertTrue(cap.contains("Total size:" + (16L << 30)), cap);
            assertTrue(cap.contains("LBPME:1"), "a thin LUN reports LBPME: " + cap);
        }
    }

    @Test
    void qemuCopiesRandomDataAndItSurvivesARestart(@TempDir Path dir) throws Exception {
        Path image = randomFile(dir, "random.img", 256L << 20, 42);
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        int port = ServerProcess.freePort();
        try (ServerProcess server = ServerProcess.start(data, targets, port)) {
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", image.toString(),
                    server.url(0)).assertOk();
            String cmp = ExternalTool.run(LIMIT, "qemu-img", "compare", "-f", "raw", "-F", "raw",
                    image.toString(), server.url(0)).output();
            // The LUN is 16 GiB and the file 256 MiB: qemu-img compares the common part and then
            // checks that the rest of the larger image is unallocated or zero.
            assertTrue(cmp.contains("Images are identical"), cmp);
            assertEquals(0, server.stop(Duration.ofSeconds(60)), "clean shutdown exits 0:\n" + server.output());
        }
        try (ServerProcess server = ServerProcess.start(data, targets, port)) {
            String cmp = ExternalTool.run(LIMIT, "qemu-img", "compare", "-f", "raw", "-F", "raw",
                    image.toString(), server.url(0)).output();
            assertTrue(cmp.contains("Images are identical"), "after restart: " + cmp);
        }
    }

    /** The same with the LUN on a sparse file (backing = "file") instead of a dedup volume. */
    @Test
    void sparseFileLunKeepsItsDataAcrossARestart(@TempDir Path dir) throws Exception {
        Path image = randomFile(dir, "random.img", 64L << 20, 43);
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path def = targets.resolve("default.toml");
        String toml = Files.readString(def);
        assertTrue(toml.contains("backing = \"dedup\""), toml);
        Files.writeString(def, toml.replace("backing = \"dedup\"", "backing = \"file\""));
        int port = ServerProcess.freePort();
        try (ServerProcess server = ServerProcess.start(data, targets, port)) {
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", image.toString(),
                    server.url(0)).assertOk();
            assertEquals(0, server.stop(Duration.ofSeconds(60)), server.output());
        }
        assertTrue(Files.exists(data.resolve("luns").resolve("default-0.img")), "the LUN lives in a sparse file");
        try (ServerProcess server = ServerProcess.start(data, targets, port)) {
            String cmp = ExternalTool.run(LIMIT, "qemu-img", "compare", "-f", "raw", "-F", "raw",
                    image.toString(), server.url(0)).output();
            assertTrue(cmp.contains("Images are identical"), "after restart: " + cmp);
        }
    }

    /**
     * 64 concurrent aio_writes from one qemu-io: overlapping writes within a 1 MiB region carry
     * that region's pattern (so the outcome is defined whatever the order), plus non-overlapping
     * 4 KiB writes with their own patterns; then read -P checks every byte.
     */
    @Test
    void concurrentPatternWritesReadBack(@TempDir Path dir) throws Exception {
        int port = ServerProcess.freePort();
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), ServerProcess.copyTargets(dir), port)) {
            List<String> args = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
            List<String> verify = new ArrayList<>(List.of("qemu-io", "-f", "raw", "-r"));
            long mib = 1 << 20;
            for (int region = 0; region < 8; region++) {
                int pattern = 0x10 + region;
                long base = region * mib;
                // four overlapping writes covering the region, same pattern
                for (int k = 0; k < 4; k++) {
                    long off = base + k * 196608L;
                    long len = k == 3 ? mib - 3 * 196608L : 393216L;
                    args.addAll(List.of("-c", "aio_write -P " + pattern + " " + off + " " + len));
                }
                verify.addAll(List.of("-c", "read -P " + pattern + " " + base + " " + mib));
            }
            for (int i = 0; i < 32; i++) {
                int pattern = 0x40 + i;
                long off = 16 * mib + i * 4096L * 3 + 512;   // unaligned to 4 KiB, disjoint
                args.addAll(List.of("-c", "aio_write -P " + pattern + " " + off + " 4096"));
                verify.addAll(List.of("-c", "read -P " + pattern + " " + off + " 4096"));
            }
            args.addAll(List.of("-c", "aio_flush", server.url(0)));
            verify.add(server.url(0));
            String w = ExternalTool.run(LIMIT, args.toArray(String[]::new)).assertOk().output();
            assertFalse(w.contains("error") || w.contains("failed"), w);
            String r = ExternalTool.run(LIMIT, verify.toArray(String[]::new)).assertOk().output();
            assertFalse(r.contains("Pattern verification failed"), r);
            assertFalse(r.contains("error") || r.contains("failed"), r);
            assertEquals(8 + 32, r.lines().filter(l -> l.startsWith("read ")).count(), r);
        }
    }
}
