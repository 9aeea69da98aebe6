package io.orion.dedup.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.orion.dedup.config.ControlSettings;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetDirectory;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control socket speaks JSON-RPC 2.0: a raw Unix socket client sends request lines and reads
 * the response lines, against a real {@link TargetAdminService} (target files on disk).
 */
class JsonRpcProtocolTest {

    private static final String IQN = "iqn.2026-11.io.orion:rpc";
    private static final ObjectMapper JSON = AdminJson.mapper();

    @TempDir
    Path dir;

    private Service api;
    private ControlServer server;
    private SocketChannel ch;

    /** The service of TargetAdminServiceTest, plus a pool that can be read-only and a scrub that can break. */
    static final class Service extends TargetAdminServiceTest.Recording {
        volatile String readOnly;
        volatile RuntimeException bug;

        Service(TargetDirectory d) {
            super(d);
        }

        @Override
        public Map<String, Object> scrub() throws AdminException {
            if (bug != null) {
                throw bug;
            }
            if (readOnly != null) {
                throw new AdminException(AdminError.READ_ONLY, "the pool is read-only (" + readOnly + ")");
            }
            return Map.of("chunks_checked", 0);
        }
    }

    @BeforeEach
    void start() throws Exception {
        api = new Service(TargetDirectory.load(dir.resolve("targets")));
        Path socket = dir.resolve("control.sock");
        server = ControlServer.start(api, socket, ControlSettings.permissions(0600));
        ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
    }

    @AfterEach
    void stop() throws IOException {
        ch.close();
        server.close();
    }

    @Test
    void aValidCallGetsItsResultWithTheSameId() throws Exception {
        JsonNode r = call("{\"jsonrpc\":\"2.0\",\"method\":\"target.create\",\"params\":{\"iqn\":\"" + IQN + "\"},\"id\":7}");
        assertEquals("2.0", r.get("jsonrpc").asText());
        assertEquals(7, r.get("id").asInt());
        assertFalse(r.has("error"), r.toString());
        assertEquals(IQN, r.get("result").get("iqn").asText());
        JsonNode list = call("{\"jsonrpc\":\"2.0\",\"method\":\"target.list\",\"id\":\"a-string-id\"}");
        assertEquals("a-string-id", list.get("id").asText());
        assertEquals(1, list.get("result").size());
        // a method without output answers result null (present, not missing)
        JsonNode acl = call("{\"jsonrpc\":\"2.0\",\"method\":\"acl.add\",\"params\":{\"iqn\":\"" + IQN
                + "\",\"acl\":{\"initiator\":\"iqn.1994-05.com.redhat:h1\",\"mappedLuns\":[]}},\"id\":8}");
        assertTrue(acl.has("result") && acl.get("result").isNull(), acl.toString());
    }

    @Test
    void scrubTakesAnOptionalBooleanRepair() throws Exception {
        // absent, null or false: the scrub of before
        for (String p : new String[] {"{}", "{\"repair\":null}", "{\"repair\":false}"}) {
            JsonNode r = call("{\"jsonrpc\":\"2.0\",\"method\":\"scrub\",\"params\":" + p + ",\"id\":1}");
            assertEquals(0, r.path("result").path("chunks_checked").asInt(), p + ": " + r);
        }
        JsonNode bad = call("{\"jsonrpc\":\"2.0\",\"method\":\"scrub\",\"params\":{\"repair\":\"yes\"},\"id\":2}");
        assertError(bad, -32602, "parameter repair must be true or false");
        assertEquals("repair", bad.at("/error/data/param").asText());
        // a service without repair says so, for scrub and for job.start
        JsonNode none = call("{\"jsonrpc\":\"2.0\",\"method\":\"scrub\",\"params\":{\"repair\":true},\"id\":3}");
        assertEquals("this server cannot repair damaged chunks", none.path("error").path("message").asText(), none.toString());
        JsonNode job = call("{\"jsonrpc\":\"2.0\",\"method\":\"job.start\",\"params\":{\"kind\":\"scrub\","
                + "\"repair\":true},\"id\":4}");
        assertEquals("this server cannot repair damaged chunks", job.path("error").path("message").asText(), job.toString());
    }

    @Test
    void protocolErrorsHaveTheStandardCodes() throws Exception {
        JsonNode unknown = call("{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":1}");
        assertError(unknown, -32601, "unknown method: nope");
        assertEquals(1, unknown.get("id").asInt());

        JsonNode missing = call("{\"jsonrpc\":\"2.0\",\"method\":\"target.show\",\"params\":{},\"id\":2}");
        assertError(missing, -32602, "missing parameter: iqn");
        assertEquals("iqn", missing.at("/error/data/param").asText());
        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"lun.delete\",\"params\":{\"iqn\":\"" + IQN
                + "\",\"lun\":\"one\"},\"id\":3}"), -32602, "missing parameter: lun");
        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"target.show\",\"params\":[\"" + IQN + "\"],\"id\":4}"),
                -32602, null);

        JsonNode parse = call("{\"jsonrpc\":\"2.0\",\"method\":");
        assertError(parse, -32700, null);
        assertTrue(parse.get("id").isNull());

        JsonNode version = call("{\"jsonrpc\":\"1.0\",\"method\":\"target.list\",\"id\":5}");
        assertError(version, -32600, null);
        assertEquals(5, version.get("id").asInt());
        assertError(call("{\"method\":\"target.list\",\"id\":6}"), -32600, null);
        assertError(call("{\"jsonrpc\":\"2.0\",\"id\":7}"), -32600, null);
        JsonNode badId = call("{\"jsonrpc\":\"2.0\",\"method\":\"target.list\",\"id\":{\"x\":1}}");
        assertError(badId, -32600, null);
        assertTrue(badId.get("id").isNull());
        assertError(call("42"), -32600, null);
        assertError(call("[]"), -32600, null);

        // none of these closed the connection or hurt the server
        assertEquals(0, call("{\"jsonrpc\":\"2.0\",\"method\":\"target.list\",\"id\":9}").get("result").size());
    }

    @Test
    void requestObjectsWithoutARequiredFieldAreInvalidParams() throws Exception {
        call("{\"jsonrpc\":\"2.0\",\"method\":\"target.create\",\"params\":{\"iqn\":\"" + IQN + "\"},\"id\":1}");
        // backing is optional, as in the target file: a LUN without it is a dedup LUN
        JsonNode lun = call("{\"jsonrpc\":\"2.0\",\"method\":\"lun.create\",\"params\":{\"iqn\":\"" + IQN
                + "\",\"lun\":{\"id\":1,\"size\":1073741824,\"blockSize\":512}},\"id\":2}");
        assertFalse(lun.has("error"), lun.toString());
        assertEquals("DEDUP", api.showTarget(IQN).luns().get(0).backing().name());
        // an ACL without its initiator, a portal without its host: -32602 naming the field
        for (String[] c : new String[][] {
                {"acl.add", "\"acl\":{\"mappedLuns\":[]}", "acl.initiator"},
                {"portal.add", "\"tag\":1,\"portal\":{\"port\":3260}", "portal.host"},
                {"lun.create", "\"lun\":{\"id\":2,\"blockSize\":512}", "lun.size"},
                {"chap.set", "\"scope\":\"DISCOVERY\",\"chap\":{\"secret\":\"0123456789abcdef\"}", "chap.user"}}) {
            JsonNode r = call("{\"jsonrpc\":\"2.0\",\"method\":\"" + c[0] + "\",\"params\":{\"iqn\":\"" + IQN
                    + "\"," + c[1] + "},\"id\":3}");
            assertError(r, -32602, "missing parameter: " + c[2]);
            assertEquals(c[2], r.at("/error/data/param").asText(), r.toString());
        }
    }

    @Test
    void aNotificationRunsAndGetsNoAnswer() throws Exception {
        send("{\"jsonrpc\":\"2.0\",\"method\":\"target.create\",\"params\":{\"iqn\":\"" + IQN + "\"}}");
        send("{\"jsonrpc\":\"2.0\",\"method\":\"no.such.method\"}");
        // the next line read answers the next call: the notifications sent nothing
        JsonNode r = call("{\"jsonrpc\":\"2.0\",\"method\":\"target.list\",\"id\":3}");
        assertEquals(3, r.get("id").asInt());
        assertEquals(IQN, r.get("result").get(0).get("iqn").asText(), "the notification was carried out");
    }

    @Test
    void aBatchGetsAnArrayOfTheAnswersToItsCalls() throws Exception {
        JsonNode r = call("[{\"jsonrpc\":\"2.0\",\"method\":\"target.create\",\"params\":{\"iqn\":\"" + IQN + "\"},\"id\":1},"
                + "{\"jsonrpc\":\"2.0\",\"method\":\"target.list\"},"
                + "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":2},"
                + "1,"
                + "{\"jsonrpc\":\"2.0\",\"method\":\"target.list\",\"id\":3}]");
        assertTrue(r.isArray(), r.toString());
        assertEquals(4, r.size(), "one answer per call with an id, and one for the invalid element: " + r);
        assertEquals(IQN, r.get(0).get("result").get("iqn").asText());
        assertError(r.get(1), -32601, "unknown method: nope");
        assertError(r.get(2), -32600, null);
        assertEquals(3, r.get(3).get("id").asInt());
        assertEquals(1, r.get(3).get("result").size(), "calls of a batch run in order");
        // a batch of notifications only: no answer at all
        send("[{\"jsonrpc\":\"2.0\",\"method\":\"target.list\"},{\"jsonrpc\":\"2.0\",\"method\":\"status\"}]");
        assertEquals(4, call("{\"jsonrpc\":\"2.0\",\"method\":\"target.list\",\"id\":4}").get("id").asInt());
    }

    @Test
    void eachAdminRefusalHasItsApplicationCode() throws Exception {
        String create = "{\"jsonrpc\":\"2.0\",\"method\":\"target.create\",\"params\":{\"iqn\":\"" + IQN + "\"},\"id\":1}";
        call(create);
        assertError(call(create), -32002, "target " + IQN + " already exists");
        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"target.show\",\"params\":{\"iqn\":\"iqn.2026-11.io.orion:none\"},\"id\":2}"),
                -32001, "no such target: iqn.2026-11.io.orion:none");

        JsonNode badName = call("{\"jsonrpc\":\"2.0\",\"method\":\"target.create\",\"params\":{\"iqn\":\"x\"},\"id\":3}");
        assertError(badName, -32003, null);
        assertEquals("iqn", badName.at("/error/data/field").asText());
        JsonNode badBlock = call(lunCreate(LunDefinition.dedup(1, "rpc-1", 1L << 20, 513), 4));
        assertError(badBlock, -32003, null);
        assertEquals("lun[0].block_size", badBlock.at("/error/data/field").asText());
        assertTrue(badBlock.at("/error/message").asText().startsWith("lun[0].block_size: "), badBlock.toString());

        call(lunCreate(LunDefinition.dedup(1, "rpc-1", 1L << 20, 512), 5));
        api.sessions.put(IQN + "/1", 1);
        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"lun.delete\",\"params\":{\"iqn\":\"" + IQN + "\",\"lun\":1},\"id\":6}"),
                -32004, null);
        api.sessions.put(IQN, 1);
        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"target.delete\",\"params\":{\"iqn\":\"" + IQN + "\"},\"id\":7}"),
                -32004, null);

        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"backup\",\"params\":{\"file\":\"/tmp/x\"},\"id\":8}"),
                -32006, "this server cannot back up its metadata");

        api.readOnly = "metadata damaged";
        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"scrub\",\"id\":9}"), -32005,
                "the pool is read-only (metadata damaged)");
        api.bug = new IllegalStateException("boom");
        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"scrub\",\"id\":10}"), -32603,
                "internal error: java.lang.IllegalStateException: boom");

        api.failNext = new IOException("disk gone");
        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"target.create\",\"params\":{\"iqn\":\"iqn.2026-11.io.orion:b\"},\"id\":11}"),
                -32010, "I/O error: disk gone");

        assertError(call("{\"jsonrpc\":\"2.0\",\"method\":\"lun.resize\",\"params\":{\"iqn\":\"" + IQN
                + "\",\"lun\":1,\"sizeBytes\":1024},\"id\":12}"), -32000, null);
    }

    @Test
    void theClientCarriesTheCodeAndTheMessageUnchanged() throws Exception {
        try (AdminClient c = AdminClient.connect(dir.resolve("control.sock"))) {
            c.createTarget(IQN, null, false);
            AdminException e = assertThrows(AdminException.class, () -> c.createTarget(IQN, null, false));
            assertEquals(AdminError.ALREADY_EXISTS, e.error());
            assertEquals("target " + IQN + " already exists", e.getMessage());
            AdminException bad = assertThrows(AdminException.class,
                    () -> c.createLun(IQN, LunDefinition.dedup(1, "rpc-1", 1L << 20, 513)));
            assertEquals(AdminError.INVALID_VALUE, bad.error());
            assertEquals("lun[0].block_size", bad.data().get("field"));
        }
    }

    private static String lunCreate(LunDefinition lun, int id) throws IOException {
        return "{\"jsonrpc\":\"2.0\",\"method\":\"lun.create\",\"params\":{\"iqn\":\"" + IQN + "\",\"lun\":"
                + JSON.writeValueAsString(lun) + "},\"id\":" + id + "}";
    }

    private static void assertError(JsonNode response, int code, String message) {
        assertEquals("2.0", response.path("jsonrpc").asText(), response.toString());
        assertFalse(response.has("result"), response.toString());
        assertTrue(response.has("id"), response.toString());
        assertEquals(code, response.path("error").path("code").asInt(), response.toString());
        assertFalse(response.path("error").path("message").asText().isEmpty(), response.toString());
        if (message != null) {
            assertEquals(message, response.path("error").path("message").asText());
        }
    }

    private JsonNode call(String line) throws IOException {
        send(line);
        return JSON.readTree(readLine());
    }

    private void send(String line) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private String readLine() throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            if (ch.read(one) < 0) {
                throw new IOException("connection closed; read so far: " + out);
            }
            if (one.get(0) == '\n') {
                return out.toString(StandardCharsets.UTF_8);
            }
            out.write(one.get(0));
        }
    }
}
