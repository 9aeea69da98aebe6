package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code orion-dedup recover} end to end: a real ext4 image with duplicate files written through
 * iSCSI, parts overwritten and discarded, the LUN cloned; the server stopped (then, in a second
 * round, killed with -9), the whole metadata directory deleted, {@code recover} run, the server
 * started again: every LUN compares identical with qemu-img and the {@code stats --json} figures
 * (unique chunks, stored, logical and unique bytes, zero blocks, per-volume figures) are what they
 * were.
 */
class RecoveryIT {
    private static final String IQN = ServerProcess.DEFAULT_IQN;

    @Test
    void recoverRebuildsTheMetadataAfterAStopAndAfterAKill(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path config = AdminTools.config(dir, 0);
        int port = ServerProcess.freePort();
        Path fs = fileSystemImage(dir);
        Path expect0 = dir.resolve("expect0.img");
        Files.copy(fs, expect0);

        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", fs.toString(),
                    server.url(0)).assertOk();
            qemuIo(server.url(0), "write -P 0x5a 1M 256k", "discard 4M 1M", "write -z 6M 64k");
            patch(expect0, 1L << 20, 256 << 10, (byte) 0x5a);
            patch(expect0, 4L << 20, 1 << 20, (byte) 0);
            patch(expect0, 6L << 20, 64 << 10, (byte) 0);
            cli(server, "lun", "clone", IQN, "0", "--to", IQN, "--lun", "1").assertOk();
            qemuIo(server.url(1), "write -P 0x33 2M 128k");
            Path expect1 = dir.resolve("expect1.img");
            Files.copy(expect0, expect1);
            patch(expect1, 2L << 20, 128 << 10, (byte) 0x33);
            compare(expect0, port, 0).assertOk();
            compare(expect1, port, 1).assertOk();
            List<String> before = figures(server);
            assertEquals(0, server.stop(Duration.ofSeconds(60)), server.output());

            recoverAfterLosingTheMetadata(data, config);
            try (ServerProcess again = ServerProcess.start(data, targets, config, port)) {
                compare(expect0, port, 0).assertOk();
                compare(expect1, port, 1).assertOk();
                assertEquals(before, figures(again));

                // second round: more writes, then kill -9 once they are done
                qemuIo(again.url(1), "write -P 0x44 3M 512k", "discard 0 64k");
                patch(expect1, 3L << 20, 512 << 10, (byte) 0x44);
                patch(expect1, 0, 64 << 10, (byte) 0);
                compare(expect1, port, 1).assertOk();
                before = figures(again);
                again.kill();
            }
            recoverAfterLosingTheMetadata(data, config);
            try (ServerProcess third = ServerProcess.start(data, targets, config, port)) {
                compare(expect0, port, 0).assertOk();
                compare(expect1, port, 1).assertOk();
                assertEquals(before, figures(third));
                assertEquals(0, third.stop(Duration.ofSeconds(60)), third.output());
            }
        }
    }

    @Test
    void recoverRefusesExistingMetadataAndARunningServer(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path config = AdminTools.config(dir, 0);
        int port = ServerProcess.freePort();
        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            qemuIo(server.url(0), "write -P 0x11 0 64k");
            ExternalTool.Result running = recover(data, config);
            assertEquals(2, running.exitCode(), running.output());
            assertTrue(running.output().contains("a server is running"), running.output());
            assertEquals(0, server.stop(Duration.ofSeconds(60)), server.output());
        }
        ExternalTool.Result exists = recover(data, config);
        assertEquals(2, exists.exitCode(), exists.output());
        assertTrue(exists.output().contains("--force"), exists.output());
        ExternalTool.Result forced = recover(data, config, "--force");
        assertEquals(0, forced.exitCode(), forced.output());
        assertTrue(forced.output().contains("volumes:          1"), forced.output());
    }

    private static ExternalTool.Result recover(Path data, Path config, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("scripts/orion-dedup", "recover", "--config", config.toString(),
                "--data", data.toString()));
        cmd.addAll(List.of(extra));
        return ExternalTool.run(LIMIT, cmd.toArray(String[]::new));
    }

    private static void recoverAfterLosingTheMetadata(Path data, Path config) throws Exception {
        Path meta = data.resolve("meta");
        assertTrue(Files.exists(meta.resolve("data.mdb")));
        try (Stream<Path> files = Files.walk(meta)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        ExternalTool.Result r = recover(data, config).assertOk();
        String out = r.output();
        assertTrue(out.contains("volumes:          2"), out);
        assertTrue(out.contains("torn tails cut:   0"), out);
        assertTrue(out.contains("persistent reservations"), out);
    }

    /** The pool and per-volume figures of {@code stats --json} that must survive a rebuild. */
    private static List<String> figures(ServerProcess server) throws Exception {
        JsonNode s = AdminTools.json(cli(server, "stats", "--json").assertOk());
        List<String> out = new ArrayList<>();
        JsonNode pool = s.get("counters").get("pool");
        for (String f : new String[] {"logical_bytes", "zero_blocks", "unique_chunks", "unique_bytes", "stored_bytes",
            "reclaimable_bytes"}) {
            assertTrue(pool.has(f), f + " in " + pool);
            out.add(f + "=" + pool.get(f).asText());
        }
        for (JsonNode v : s.get("volumes")) {
            StringBuilder b = new StringBuilder(v.get("volume").asText());
            for (String f : new String[] {"logicalBytes", "zeroBlocks", "dataBlocks", "uniqueChunks", "uniqueBytes",
                "storedBytes", "exclusiveBytes"}) {
                if (v.has(f)) {
                    b.append(' ').append(f).append('=').append(v.get(f).asText());
                }
            }
            out.add(b.toString());
        }
        out.sort(null);
        return out;
    }

    /** A 12 MiB ext4 image holding files, some of them duplicates of each other. */
    private static Path fileSystemImage(Path dir) throws Exception {
        Path src = Files.createDirectories(dir.resolve("fs-src"));
        Random r = new Random(7);
        for (int i = 0; i < 6; i++) {
            byte[] b = new byte[(i + 1) * 200_000];
            r.nextBytes(b);
            Files.write(src.resolve("file" + i + ".bin"), b);
            Files.write(src.resolve("copy" + i + ".bin"), b); // duplicates
        }
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {
            text.append("line ").append(i).append(" of a compressible text file\n");
        }
        Files.writeString(src.resolve("notes.txt"), text);
        Path img = dir.resolve("fs.img");
        ExternalTool.run(LIMIT, "mke2fs", "-q", "-F", "-t", "ext4", "-d", src.toString(), img.toString(), "12M")
                .assertOk();
        return img;
    }

    private static void qemuIo(String url, String... cmds) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String c : cmds) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(url);
        ExternalTool.Result r = ExternalTool.run(LIMIT, cmd.toArray(String[]::new)).assertOk();
        assertTrue(!r.output().contains("failed"), r.output());
    }

    private static void patch(Path file, long offset, int length, byte value) throws Exception {
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            byte[] b = new byte[length];
            java.util.Arrays.fill(b, value);
            f.seek(offset);
            f.write(b);
        }
    }

    private static ExternalTool.Result compare(Path expected, int port, int lun) throws Exception {
        return ExternalTool.run(LIMIT, "qemu-img", "compare", "-f", "raw", "-F", "raw", expected.toString(),
                "json:{\"driver\":\"raw\",\"size\":" + Files.size(expected) + ",\"file\":{\"driver\":\"iscsi\","
                        + "\"transport\":\"tcp\",\"portal\":\"127.0.0.1:" + port + "\",\"target\":\"" + IQN
                        + "\",\"lun\":" + lun + "}}");
    }
}
