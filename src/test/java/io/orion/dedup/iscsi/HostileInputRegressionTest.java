package io.orion.dedup.iscsi;

import static io.orion.dedup.iscsi.RawInitiator.opcode;
import static io.orion.dedup.iscsi.RawInitiator.u32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.orion.dedup.scsi.ScsiResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Inputs that {@link HostileInputFuzzer} found to break the target, kept as regression tests: each
 * is the fuzzer's input reduced to the PDUs that matter, over a real socket.
 */
class HostileInputRegressionTest {

    static final String IQN = "iqn.2026-11.io.orion:regress";
    static final byte[] WRITE10_1 = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    static final byte[] INQUIRY_36 = {0x12, 0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

    ScriptedScsiTarget scsi;
    IscsiServer server;
    InetSocketAddress portal;
    final List<RawInitiator> clients = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        scsi = new ScriptedScsiTarget();
        server = new IscsiServer(TargetCatalog.of(List.of(new IscsiTargetInfo(IQN, null, 1, List.of(), scsi,
                LoginAuthorizer.OPEN))), IscsiServerOptions.defaults());
        portal = server.bind(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterEach
    void stop() throws IOException {
        for (RawInitiator c : clients) {
            c.close();
        }
        server.close();
    }

    RawInitiator connect() throws IOException {
        RawInitiator c = new RawInitiator(portal);
        clients.add(c);
        assertEquals(0, c.login("iqn.2026-11.test:regress", IQN, 0x400000000000L + clients.size(), 0, 0, ""));
        return c;
    }

    /** The connection still serves: a NOP-Out is echoed. */
    static void stillServes(RawInitiator c) throws IOException {
        assertArrayEquals(new byte[] {1, 2, 3, 4}, c.ping(new byte[] {1, 2, 3, 4}, 0x777));
    }

    /**
     * An Expected Data Transfer Length of 2^31 or more (the field is unsigned) on a write was taken
     * as a negative int: NegativeArraySizeException on the event loop, the connection closed with a
     * stack trace in the log. It is a write longer than the target takes: CHECK CONDITION, ILLEGAL
     * REQUEST, INVALID FIELD IN COMMAND INFORMATION UNIT (5/0e/03), and the connection stays.
     */
    @Test
    void writeWithAnEdtlOverTwoGibIsACheckConditionNotAClosedConnection() throws Exception {
        RawInitiator c = connect();
        for (int edtl : new int[] {0xffffffff, 0x80000000}) {
            c.command(0xa1, false, 0x10 + (edtl & 1), edtl, c.cmdSN++, WRITE10_1, new byte[512]);
            byte[][] r = c.read();
            assertEquals(0x21, opcode(r), "a SCSI Response");
            assertEquals(ScsiResponse.CHECK_CONDITION, r[0][3]);
            assertEquals(0x05, r[1][2 + 2] & 0x0f, "ILLEGAL REQUEST");
            assertEquals(0x0e, r[1][2 + 12] & 0xff);
            assertEquals(0x03, r[1][2 + 13] & 0xff);
            stillServes(c);
        }
        assertEquals(0, scsi.commands.size(), "nothing executed");
    }

    /**
     * A read with an Expected Data Transfer Length of 2^31 or more: the data the command returns is
     * sent, with the residual counted from the unsigned length (an underflow), and the connection
     * stays.
     */
    @Test
    void readWithAnEdtlOverTwoGibSendsItsDataAndAnUnderflow() throws Exception {
        RawInitiator c = connect();
        byte[] answer = new byte[36];
        answer[0] = 0x42;
        scsi.script = cmd -> CompletableFuture.completedFuture(
                new ScsiResponse(ScsiResponse.GOOD, null, ByteBuffer.wrap(answer.clone()), 0));
        c.command(0xc1, false, 0x20, 0xfffffff0, c.cmdSN++, INQUIRY_36, null);
        byte[][] d = c.read();
        assertEquals(0x25, opcode(d), "Data-In");
        assertEquals(36, d[1].length);
        assertEquals(0x42, d[1][0]);
        assertEquals(0x01, d[0][1] & 0x01, "status in the Data-In");
        assertEquals(0x02, d[0][1] & 0x06, "underflow");
        assertEquals(0xfffffff0 - 36, u32(d, 44), "residual: the unsigned EDTL less 36");
        stillServes(c);
    }

    /**
     * A Login Request whose data segment is over 8192 bytes (the MaxRecvDataSegmentLength in force
     * during login, RFC 7143 §13.12) was read whole (up to the 262144 bytes of the full-feature phase)
     * and the login answered with success. It breaks framing: the connection closes, no login answer.
     */
    @Test
    void aLoginPduOverEightKibClosesTheConnection() throws Exception {
        RawInitiator c = new RawInitiator(portal);
        clients.add(c);
        byte[] text = new byte[8193];
        byte[] kv = ("InitiatorName=iqn.2026-11.test:big\0TargetName=" + IQN + "\0SessionType=Normal\0")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(kv, 0, text, 0, kv.length);
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x43).put((byte) 0x87).put((byte) 0).put((byte) 0).putInt(0);
        b.putShort((short) 0x4000).putInt(0x99).putShort((short) 0).putInt(1).putInt(0).putInt(1).putInt(0);
        c.send(b.array(), text);
        org.junit.jupiter.api.Assertions.assertTrue(c.closedByPeer(), "the connection closes, unanswered");
        // 8192 bytes are fine
        RawInitiator ok = new RawInitiator(portal);
        clients.add(ok);
        String keys = "InitiatorName=iqn.2026-11.test:big\0TargetName=" + IQN + "\0SessionType=Normal\0"
                + "HeaderDigest=None\0DataDigest=None\0";
        byte[] full = new byte[8192];
        System.arraycopy(keys.getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, full, 0, keys.length());
        ok.send(b.array(), full);
        byte[][] r = ok.read();
        assertEquals(0x23, opcode(r));
        assertEquals(0, r[0][36], "login status class: success");
    }
}
