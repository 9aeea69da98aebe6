package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.orion.dedup.cli.OrionCli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code estimate} against the real server: an image written with qemu-img to two LUNs (one open,
 * one behind CHAP) reads over iSCSI with the same figures as the file at every block size, and the
 * pool's stats equal the file's estimate at the pool's block size (4 KiB) for two copies.
 */
class EstimateIT {
    private static final String OPEN = "iqn.2026-11.io.orion:estimate-open";
    private static final String CHAP = "iqn.2026-11.io.orion:estimate-chap";
    private static final String SECRET = "est-secret-1234";
    private static final int SIZE = 8 << 20;

    record Run(int status, String out, String err) {
    }

    private static Run estimate(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> a = new ArrayList<>(List.of("estimate"));
        a.addAll(List.of(args));
        a.addAll(List.of("--json", "--progress", "none", "--config", "conf/dedup.toml"));
        int status = new OrionCli(new PrintWriter(out), new PrintWriter(err), Optional::empty, r -> { })
                .execute(a.toArray(String[]::new));
        return new Run(status, out.toString(), err.toString());
    }

    /** The figures of every block size, without what differs by source (name, time). */
    private static JsonNode figures(Run run) throws Exception {
        assertEquals(0, run.status(), run.err());
        ObjectNode j = (ObjectNode) AdminTools.JSON.readTree(run.out());
        j.remove("source");
        j.remove("seconds");
        return j;
    }

    private static Path image(Path dir) throws Exception {
        Random rnd = new Random(17);
        byte[] img = new byte[SIZE];
        byte[][] repeated = new byte[40][4096];
        for (byte[] r : repeated) {
            rnd.nextBytes(r);
        }
        byte[] words = "an estimate equals what the pool stores. ".getBytes();
        for (int off = 0; off < SIZE; off += 4096) {
            int kind = rnd.nextInt(100);
            if (kind < 30) {
                rnd.nextBytes(repeated[0]);
                System.arraycopy(repeated[0], 0, img, off, 4096);
            } else if (kind < 60) {
                System.arraycopy(repeated[1 + rnd.nextInt(39)], 0, img, off, 4096);
            } else if (kind < 75) {
                continue;
            } else {
                for (int i = 0; i < 4096; i++) {
                    img[off + i] = words[i % words.length];
                }
                ByteBuffer.wrap(img, off + 100, 8).putLong(rnd.nextInt(300));
            }
        }
        System.arraycopy(img, 0, img, 4 << 20, 1 << 20); // a MiB written twice: dedups at every size
        return Files.write(dir.resolve("it.img"), img);
    }

    private static String target(String iqn, String volume, boolean chap) {
        return "iqn = \"" + iqn + "\"\n[attributes]\nauthentication = " + chap + "\ndemo_mode = true\n"
                + (chap ? "[chap]\nuser = \"est\"\nsecret = \"" + SECRET + "\"\n" : "")
                + "[[lun]]\nid = 0\nvolume = \"" + volume + "\"\nsize = \"" + SIZE + "\"\nblock_size = 512\n";
    }

    @Test
    void estimatesEqualTheStoredFiguresAndTheLunReadsAsTheFile(@TempDir Path dir) throws Exception {
        Path img = image(dir);
        JsonNode fromFile = figures(estimate(img.toString()));
        int port = ServerProcess.freePort();
        Path config = AdminTools.config(dir, ServerProcess.freePort());
        Path targets = AdminTools.emptyTargets(dir);
        Files.writeString(targets.resolve("open.toml"), target(OPEN, "open-0", false));
        Files.writeString(targets.resolve("chap.toml"), target(CHAP, "chap-0", true));
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), targets, config, port)) {
            String open = "iscsi://127.0.0.1:" + port + "/" + OPEN + "/0";
            String chap = "iscsi://127.0.0.1:" + port + "/" + CHAP + "/0";
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-S", "0", "-f", "raw", "-O", "raw", img.toString(), open)
                    .assertOk();
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-S", "0", "-f", "raw", "-O", "raw", img.toString(),
                    "iscsi://est%" + SECRET + "@127.0.0.1:" + port + "/" + CHAP + "/0").assertOk();

            // the LUN over iSCSI reads as the file: the same figures at every block size
            assertEquals(fromFile, figures(estimate(open)));
            // with CHAP: no secret, a wrong one, the right one
            Path secret = Files.writeString(dir.resolve("secret"), SECRET + "\n");
            Path wrong = Files.writeString(dir.resolve("wrong"), "not-the-secret-99\n");
            Run noChap = estimate(chap);
            assertEquals(1, noChap.status(), noChap.err());
            assertTrue(noChap.err().contains("--chap-user"), noChap.err());
            Run bad = estimate(chap, "--chap-user", "est", "--chap-secret-file", wrong.toString());
            assertEquals(1, bad.status(), bad.err());
            assertTrue(bad.err().contains("authentication failed"), bad.err());
            assertEquals(fromFile, figures(estimate(chap, "--chap-user", "est", "--chap-secret-file", secret.toString())));

            // the pool holds the image twice: twice the logical and zero blocks, the chunks of one
            // copy — the file's estimate at the pool's 4 KiB, exactly (the estimates wrote nothing)
            JsonNode pool = StatsJson.pool(StatsJson.fetch(server.data()));
            JsonNode k4 = fromFile.get("block_sizes").get(0);
            assertEquals(4096, k4.get("block_size").asInt());
            String both = "\npool " + pool + "\nestimate " + k4;
            assertEquals(2 * k4.get("logical_bytes").asLong(), pool.get("logical_bytes").asLong(), both);
            assertEquals(2 * k4.get("zero_blocks").asLong(), pool.get("zero_blocks").asLong(), both);
            for (String key : new String[] {"unique_chunks", "unique_bytes", "stored_bytes"}) {
                assertEquals(k4.get(key).asLong(), pool.get(key).asLong(), key + both);
            }
            assertEquals(2 * k4.get("dedup_ratio").asDouble(), pool.get("dedup_ratio").asDouble(), 1e-9, both);
            assertEquals(k4.get("compression_ratio").asDouble(), pool.get("compression_ratio").asDouble(), 1e-9, both);
            assertTrue(k4.get("zero_blocks").asLong() > 0 && k4.get("dedup_ratio").asDouble() > 1.5
                    && k4.get("compression_ratio").asDouble() > 1.0, k4.toString());
        }
    }
}
