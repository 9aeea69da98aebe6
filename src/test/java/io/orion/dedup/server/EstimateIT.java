package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
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
 * {@code estimate} against the real server: an image written to a LUN with qemu-img gives stats
 * equal to the file's estimate at the pool's block size (4 KiB), and the estimate read over iSCSI
 * from that LUN (without CHAP, then with CHAP) equals the file's at every block size, while the
 * pool's figures stay untouched (the initiator only reads).
 */
class EstimateIT {
    private static final String TARGET = "iqn.2026-11.io.orion:estimate-it";
    private static final String INITIATOR = "iqn.2026-11.io.orion:estimate";
    private static final int SIZE = 24 << 20;

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
        System.arraycopy(img, 0, img, 8 << 20, 1 << 20); // a MiB written twice: dedups at every size
        return Files.write(dir.resolve("it.img"), img);
    }

    @Test
    void estimatesEqualTheStoredFiguresAndTheLunReadsAsTheFile(@TempDir Path dir) throws Exception {
        Path img = image(dir);
        JsonNode fromFile = figures(estimate(img.toString()));
        int port = ServerProcess.freePort();
        Path config = AdminTools.config(dir, ServerProcess.freePort());
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), AdminTools.emptyTargets(dir), config, port)) {
            cli(server, "target", "create", TARGET, "--demo-mode").assertOk();
            cli(server, "lun", "create", TARGET, "--lun", "0", "--size", SIZE + "B").assertOk();
            String lun = "iscsi://127.0.0.1:" + port + "/" + TARGET + "/0";
            ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-S", "0", "-f", "raw", "-O", "raw", img.toString(), lun)
                    .assertOk();

            JsonNode pool = StatsJson.pool(StatsJson.fetch(server.data()));
            JsonNode k4 = fromFile.get("block_sizes").get(0);
            assertEquals(4096, k4.get("block_size").asInt());
            for (String key : new String[] {"logical_bytes", "zero_blocks", "unique_chunks", "unique_bytes", "stored_bytes"}) {
                assertEquals(pool.get(key).asLong(), k4.get(key).asLong(), key + "\npool " + pool + "\nestimate " + k4);
            }
            for (String key : new String[] {"dedup_ratio", "compression_ratio", "saving_percent"}) {
                assertEquals(pool.get(key).asDouble(), k4.get(key).asDouble(), 1e-9, key + "\npool " + pool + "\nestimate " + k4);
            }
            assertTrue(k4.get("zero_blocks").asLong() > 0 && k4.get("dedup_ratio").asDouble() > 1.5
                    && k4.get("compression_ratio").asDouble() > 1.0, k4.toString());

            // the LUN over iSCSI reads as the file: the same figures at every block size
            assertEquals(fromFile, figures(estimate(lun)));

            // with CHAP: this initiator alone, with its secret
            cli(server, "acl", "add", TARGET, INITIATOR).assertOk();
            cli(server, "chap", "set", TARGET, "--initiator", INITIATOR, "--user", "est", "--secret", "est-secret-1234")
                    .assertOk();
            cli(server, "target", "set", TARGET, "--auth", "on", "--demo-mode", "off").assertOk();
            Path secret = Files.writeString(dir.resolve("secret"), "est-secret-1234\n");
            Path wrong = Files.writeString(dir.resolve("wrong"), "not-the-secret-99\n");
            Run noChap = estimate(lun);
            assertEquals(1, noChap.status(), noChap.err());
            assertTrue(noChap.err().contains("--chap-user"), noChap.err());
            Run bad = estimate(lun, "--chap-user", "est", "--chap-secret-file", wrong.toString());
            assertEquals(1, bad.status(), bad.err());
            assertTrue(bad.err().contains("authentication failed"), bad.err());
            assertEquals(fromFile, figures(estimate(lun, "--chap-user", "est", "--chap-secret-file", secret.toString())));

            // reading changed nothing in the pool
            JsonNode after = StatsJson.pool(StatsJson.fetch(server.data()));
            for (String key : new String[] {"logical_bytes", "zero_blocks", "unique_chunks", "stored_bytes"}) {
                assertEquals(pool.get(key), after.get(key), key);
            }
        }
    }
}
