package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full file system is an expected condition (ARCHITECTURE.md, rule 6): with the pool on a small
 * tmpfs, {@code qemu-img convert} of random data runs it full and the initiator gets DATA PROTECT,
 * SPACE ALLOCATION FAILED WRITE PROTECT (7h, 27h/07h); the server stays up; reads and an overwrite
 * with data the pool already holds keep working; UNMAP of everything (the way a host frees space,
 * which used to kill the JVM with SIGBUS in LMDB), {@code dedup-reference-cleanup}, then new writes
 * succeed; after a restart what was flushed reads back exactly and the unmapped rest reads zeros.
 * Twice: data and metadata on one small file system, and the metadata alone on its own
 * ({@code [pool] metadata_dir}). Needs root (mount); skipped otherwise.
 */
class FullFileSystemIT {

    private static final Duration LIMIT = Duration.ofMinutes(3);
    private static final long FILL = 512L << 20;
    private static final long AGAIN = 48L << 20;
    private static final String SPACE_ALLOCATION_FAILED = "(0x2707)";

    @TempDir
    static Path shared;
    static Path fill;
    static Path again;

    @BeforeAll
    static void randomData() throws Exception {
        ExternalTool.Result id = ExternalTool.run(Duration.ofSeconds(10), "id", "-u");
        assumeTrue(id.exitCode() == 0 && id.output().trim().equals("0"), "needs root to mount a tmpfs");
        fill = random(shared.resolve("fill.img"), FILL, 1);
        again = random(shared.resolve("again.img"), AGAIN, 2);
    }

    private static Path random(Path f, long bytes, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] buf = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(f)) {
            for (long done = 0; done < bytes; done += buf.length) {
                for (int i = 0; i < buf.length; i += 8) {
                    long v = r.nextLong();
                    for (int k = 0; k < 8; k++) {
                        buf[i + k] = (byte) (v >>> (8 * k));
                    }
                }
                out.write(buf);
            }
        }
        return f;
    }

    @Test
    void dataAndMetadataOnOneFullFileSystem(@TempDir Path dir) throws Exception {
        Path fs = Files.createDirectories(dir.resolve("fs"));
        mount(fs, "160m");
        try {
            run(dir, fs.resolve("data"), AdminTools.config(dir, 0));
        } finally {
            umount(fs);
        }
    }

    @Test
    void metadataAloneOnItsOwnFullFileSystem(@TempDir Path dir) throws Exception {
        Path fs = Files.createDirectories(dir.resolve("metafs"));
        mount(fs, "16m");   // 28m held all of FILL's metadata once the index was keyed by a prefix, 20m in format 6
        try {
            Path config = AdminTools.config(dir, 0);
            String text = Files.readString(config);
            assertTrue(text.contains("\n[pool]\n"));
            Files.writeString(config, text.replace("\n[pool]\n", "\n[pool]\nmetadata_dir = \"" + fs.resolve("meta")
                    + "\"\n"));
            run(dir, dir.resolve("data"), config);
            assertTrue(Files.exists(fs.resolve("meta").resolve("data.mdb")), "the metadata lived on the small tmpfs");
        } finally {
            umount(fs);
        }
    }

    private void run(Path dir, Path data, Path config) throws Exception {
        Path targets = ServerProcess.copyTargets(dir);
        int port = ServerProcess.freePort();
        Path head = dir.resolve("head.img");
        copyHead(fill, head, 1 << 20);
        ServerProcess server = ServerProcess.start(data, targets, config, port);
        try {
            // 1. fill: the write fails with the thin-provisioning sense, the server lives on
            ExternalTool.Result full = ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw",
                    fill.toString(), server.url(0));
            assertNotEquals(0, full.exitCode(), "the pool must run full: " + full.output());
            assertTrue(full.output().contains("DATA PROTECTION(7)") && full.output().contains(SPACE_ALLOCATION_FAILED),
                    "DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (7h 27h/07h): " + full.output());
            assertTrue(server.alive(), "server alive after the pool ran full:\n" + server.output());

            // 2. a full pool stays serviceable: an overwrite with data it holds, and reads
            qemu("convert", "-n", "-f", "raw", "--target-image-opts", head.toString(), server.rawRange(0, 1 << 20));
            qemu("compare", "--image-opts", "driver=raw,file.driver=file,file.filename=" + head,
                    server.rawRange(0, 1 << 20));
            assertTrue(server.alive(), "server alive after reads on the full pool:\n" + server.output());

            // 3. the host frees the space: UNMAP of everything (used to SIGBUS), then cleanup
            ExternalTool.Result discard = ExternalTool.run(LIMIT, "qemu-io", "-f", "raw", "-c", "discard 0 " + FILL,
                    server.url(0)).assertOk();
            assertTrue(discard.output().contains("discard " + FILL + "/" + FILL + " bytes"), discard.output());
            assertTrue(!discard.output().contains("failed") && !discard.output().contains("error"), discard.output());
            assertTrue(server.alive(), "server alive after UNMAP on the full pool:\n" + server.output());
            AdminTools.script(server, "dedup-reference-cleanup").assertOk();
            assertTrue(server.alive(), "server alive after cleanup:\n" + server.output());

            // 4. the freed space is usable again: new unique data is written and flushed
            qemu("convert", "-n", "-f", "raw", "--target-image-opts", again.toString(), server.rawRange(0, AGAIN));
            assertTrue(server.alive(), "server alive after writing again:\n" + server.output());
            assertEquals(0, server.stop(Duration.ofMinutes(1)), server.output());
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\nserver warnings and errors:\n" + problems(server), e);
        } finally {
            server.close();
        }
        // 5. after a restart: what was flushed reads back, the unmapped rest reads zeros
        server = ServerProcess.start(data, targets, config, port);
        try {
            qemu("compare", "--image-opts", "driver=raw,file.driver=file,file.filename=" + again,
                    server.rawRange(0, AGAIN));
            qemu("compare", "--image-opts", "driver=null-co,read-zeroes=on,size=" + (FILL - AGAIN),
                    server.rawRange(AGAIN, FILL - AGAIN));
            assertTrue(server.alive(), server.output());
            assertEquals(0, server.stop(Duration.ofMinutes(1)), server.output());
        } finally {
            server.close();
        }
        assertTrue(!server.output().contains("SIGBUS"), server.output());
    }

    private static String problems(ServerProcess server) {
        StringBuilder b = new StringBuilder();
        server.output().lines().filter(l -> !l.contains(" INFO ")).limit(40).forEach(l -> b.append(l).append('\n'));
        return b.toString();
    }

    private static void qemu(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "qemu-img";
        System.arraycopy(args, 0, cmd, 1, args.length);
        ExternalTool.run(LIMIT, cmd).assertOk();
    }

    private static void copyHead(Path from, Path to, int bytes) throws IOException {
        byte[] all = new byte[bytes];
        try (var in = Files.newInputStream(from)) {
            assertEquals(bytes, in.readNBytes(all, 0, bytes));
        }
        Files.write(to, all);
    }

    private static void mount(Path dir, String size) throws Exception {
        ExternalTool.Result r = ExternalTool.run(Duration.ofSeconds(30), "mount", "-t", "tmpfs", "-o", "size=" + size,
                "tmpfs", dir.toString());
        assumeTrue(r.exitCode() == 0, "cannot mount a tmpfs: " + r.output());
    }

    private static void umount(Path dir) throws Exception {
        ExternalTool.run(Duration.ofSeconds(30), "umount", dir.toString()).assertOk();
    }
}
