package io.orion.dedup.server;

import static io.orion.dedup.server.AdminTools.LIMIT;
import static io.orion.dedup.server.AdminTools.cli;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lun clone}, {@code lun snapshot} and {@code lun rollback} through the real CLI against
 * the real server, checked with qemu-img over iSCSI: a clone reads identical and the pool's stored
 * bytes do not grow; writes to the clone leave the source alone; a snapshot attached to a LUN
 * refuses writes; rollback restores the snapshot's contents (refused while a session uses the
 * LUN, done with --force, and that session reads the restored blocks); origins show in
 * {@code lun list}/{@code volume list}, exclusive bytes in {@code stats}; all of it survives a
 * restart; deleting the clone frees exactly its exclusive bytes.
 */
class CloneIT {

    private static final String IQN = ServerProcess.DEFAULT_IQN;
    private static final long WRITTEN = 8L << 20;
    private static final long HEAD = 1L << 20;

    @Test
    void cloneSnapshotAndRollbackAcrossARestart(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = ServerProcess.copyTargets(dir);
        Path config = AdminTools.config(dir, 0);
        int port = ServerProcess.freePort();
        Path image = BlockIoIT.randomFile(dir, "source.img", WRITTEN, 21);
        Path head = BlockIoIT.randomFile(dir, "head.img", HEAD, 22);
        Path headed = dir.resolve("headed.img");
        byte[] expect = Files.readAllBytes(image);
        System.arraycopy(Files.readAllBytes(head), 0, expect, 0, (int) HEAD);
        Files.write(headed, expect);
        long cloneExclusive;
        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            write(image, server.url(0));
            long storedBefore = stored(server);

            ExternalTool.Result cloned = cli(server, "lun", "clone", IQN, "0", "--to", IQN, "--lun", "1").assertOk();
            assertTrue(cloned.output().contains("to LUN 1 of " + IQN) && cloned.output().contains("origin default-0 @ "),
                    cloned.output());
            compare(image, port, 1).assertOk();
            assertEquals(storedBefore, stored(server), "a clone stores nothing");
            JsonNode lun1 = luns(server).get(1);
            assertEquals("default-0", lun1.get("origin").asText(), lun1.toString());
            assertTrue(luns(server).get(0).get("origin").isNull());
            String table = cli(server, "lun", "list", IQN).assertOk().output();
            assertTrue(table.matches("(?s).*\\s1\\s+default-1\\s.*default-0 @ \\d{4}-\\d\\d-\\d\\dT.*"), table);
            Map<String, JsonNode> st = statsByVolume(server);
            assertEquals(0, st.get("default-0").get("exclusive_bytes").asLong(), "everything is shared");
            assertEquals(0, st.get("default-1").get("exclusive_bytes").asLong());

            // writes to the clone leave the source alone
            write(head, server.url(1));
            compare(headed, port, 1).assertOk();
            compare(image, port, 0).assertOk();
            st = statsByVolume(server);
            cloneExclusive = st.get("default-1").get("exclusive_bytes").asLong();
            assertTrue(cloneExclusive >= HEAD && cloneExclusive < HEAD + HEAD / 8, "clone exclusive " + cloneExclusive);
            assertEquals(cloneExclusive, st.get("default-0").get("exclusive_bytes").asLong(),
                    "the source alone keeps the 1 MiB the clone overwrote");
            assertTrue(cli(server, "stats").assertOk().output().contains("EXCLUSIVE"));

            // snapshot, overwrite, roll back
            ExternalTool.Result snap = cli(server, "lun", "snapshot", IQN, "0", "--name", "snap1").assertOk();
            assertTrue(snap.output().contains("Snapshot snap1 of LUN 0"), snap.output());
            JsonNode sv = volumes(server).get("snap1");
            assertTrue(sv.get("read_only").asBoolean() && sv.get("target").isNull(), sv.toString());
            assertEquals("default-0", sv.get("origin").asText());
            assertTrue(cli(server, "volume", "list").assertOk().output().contains("(snapshot) default-0 @ "));
            write(head, server.url(0));
            compare(headed, port, 0).assertOk();
            try (AdminTools.HeldSession held = new AdminTools.HeldSession(server.url(0))) {
                String w = held.run("write -P 0x5a 0 4k", Duration.ofSeconds(30));
                assertTrue(w.contains("wrote 4096/4096") && !w.contains("failed"), w);
                String mine = held.run("read -P 0x5a 0 4k", Duration.ofSeconds(30));
                assertTrue(!mine.contains("failed"), mine);
                ExternalTool.Result busy = cli(server, "lun", "rollback", IQN, "0", "--to", "snap1");
                assertEquals(1, busy.exitCode(), busy.output());
                assertTrue(busy.output().contains("in use by 1 session"), busy.output());
                cli(server, "lun", "rollback", IQN, "0", "--to", "snap1", "--force").assertOk();
                String read = held.run("read -P 0x5a 0 4k", Duration.ofSeconds(30));
                assertTrue(read.contains("Pattern verification failed"), "the held session reads the restored"
                        + " block, not what it wrote before the rollback: " + read);
            }
            compare(image, port, 0).assertOk();
            assertEquals(storedBefore + cloneExclusive, stored(server), "the overwritten head is freed again");

            // a snapshot attached to a LUN is read-only
            cli(server, "lun", "create", IQN, "--lun", "2", "--volume", "snap1", "--attach").assertOk();
            assertTrue(luns(server).get(2).get("read_only").asBoolean(), "a snapshot's LUN is write-protected");
            ExternalTool.Result refused = ExternalTool.run(LIMIT, "qemu-io", "-f", "raw", "-c", "write -P 7 0 4k",
                    server.url(2));
            assertTrue(refused.output().contains("LUN is write protected"), refused.output());
            compare(image, port, 2).assertOk();

            // refusals: one line, exit status 1 (the CLI's convention for refused requests)
            ExternalTool.Result noLun = cli(server, "lun", "clone", IQN, "9", "--to", IQN);
            assertEquals(1, noLun.exitCode(), noLun.output());
            ExternalTool.Result notSnap = cli(server, "lun", "rollback", IQN, "0", "--to", "default-1");
            assertEquals(1, notSnap.exitCode(), notSnap.output());
            assertTrue(notSnap.output().contains("is not a snapshot of 'default-0'"), notSnap.output());
            cli(server, "lun", "create", IQN, "--lun", "5", "--backing", "file", "--size", "16MiB").assertOk();
            ExternalTool.Result file = cli(server, "lun", "clone", IQN, "5", "--to", IQN);
            assertEquals(1, file.exitCode(), file.output());
            assertTrue(file.output().contains("only dedup LUNs can be cloned"), file.output());
            ExternalTool.Result noTo = cli(server, "lun", "clone", IQN, "0");
            assertEquals(2, noTo.exitCode(), "--to is required: " + noTo.output());
            assertEquals(0, server.stop(Duration.ofSeconds(60)), server.output());
        }

        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            compare(image, port, 0).assertOk();
            compare(headed, port, 1).assertOk();
            compare(image, port, 2).assertOk();
            assertEquals("default-0", luns(server).get(1).get("origin").asText());
            assertEquals("default-0", luns(server).get(2).get("origin").asText());
            JsonNode sv = volumes(server).get("snap1");
            assertTrue(sv.get("read_only").asBoolean(), "still a snapshot after the restart: " + sv);
            ExternalTool.Result refused = ExternalTool.run(LIMIT, "qemu-io", "-f", "raw", "-c", "write -P 7 0 4k",
                    server.url(2));
            assertTrue(refused.output().contains("LUN is write protected"), refused.output());

            // deleting the clone frees exactly its exclusive bytes
            Map<String, JsonNode> st = statsByVolume(server);
            assertEquals(cloneExclusive, st.get("default-1").get("exclusive_bytes").asLong());
            long before = stored(server);
            cli(server, "lun", "delete", IQN, "1", "--destroy").assertOk();
            assertEquals(before - cloneExclusive, stored(server));
            compare(image, port, 0).assertOk();
        }
    }

    private static void write(Path image, String url) throws Exception {
        ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", image.toString(), url).assertOk();
    }

    private static long stored(ServerProcess server) throws Exception {
        JsonNode s = AdminTools.json(cli(server, "stats", "--json").assertOk());
        return s.get("counters").get("pool").get("stored_bytes").asLong();
    }

    private static Map<String, JsonNode> statsByVolume(ServerProcess server) throws Exception {
        Map<String, JsonNode> out = new HashMap<>();
        for (JsonNode v : AdminTools.json(cli(server, "stats", "--json").assertOk()).get("volumes")) {
            out.put(v.get("volume").asText(), v);
        }
        return out;
    }

    private static Map<Integer, JsonNode> luns(ServerProcess server) throws Exception {
        Map<Integer, JsonNode> out = new HashMap<>();
        for (JsonNode l : AdminTools.json(cli(server, "lun", "list", IQN, "--json").assertOk())) {
            out.put(l.get("lun").asInt(), l);
        }
        return out;
    }

    private static Map<String, JsonNode> volumes(ServerProcess server) throws Exception {
        Map<String, JsonNode> out = new HashMap<>();
        for (JsonNode v : AdminTools.json(cli(server, "volume", "list", "--json").assertOk())) {
            out.put(v.get("volume").asText(), v);
        }
        return out;
    }

    /** qemu-img compare of {@code expected} against the first bytes of a LUN. */
    private static ExternalTool.Result compare(Path expected, int port, int lun) throws Exception {
        return ExternalTool.run(LIMIT, "qemu-img", "compare", "-f", "raw", "-F", "raw", expected.toString(),
                "json:{\"driver\":\"raw\",\"size\":" + Files.size(expected) + ",\"file\":{\"driver\":\"iscsi\","
                        + "\"transport\":\"tcp\",\"portal\":\"127.0.0.1:" + port + "\",\"target\":\"" + IQN
                        + "\",\"lun\":" + lun + "}}");
    }
}
