package io.orion.dedup.iscsi;

import static io.orion.dedup.iscsi.RawInitiator.opcode;
import static io.orion.dedup.iscsi.RawInitiator.u32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.scsi.ScsiResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Full-feature phase behaviour over real sockets, driven PDU by PDU. */
class IscsiConnectionTest {

    static final String IQN = "iqn.2026-11.io.orion:conn";
    static final String INITIATOR = "iqn.2026-11.test:conn";
    static final byte[] READ10_8 = {0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0};
    static final byte[] WRITE10_8 = {0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0};
    static final byte[] TUR = new byte[16];

    ScriptedScsiTarget scsi;
    IscsiServer server;
    InetSocketAddress portal;
    List<RawInitiator> clients = new ArrayList<>();

    void start(IscsiServerOptions options, int extraTargets) throws IOException {
        scsi = new ScriptedScsiTarget();
        List<IscsiTargetInfo> targets = new ArrayList<>();
        targets.add(new IscsiTargetInfo(IQN, null, 1, List.of("192.0.2.1:3260", "[2001:db8::1]:3260"), scsi,
                LoginAuthorizer.OPEN));
        for (int i = 0; i < extraTargets; i++) {
            targets.add(new IscsiTargetInfo("iqn.2026-11.io.orion:extra-target-with-a-long-name-" + i, null, 2,
                    List.of(), scsi, LoginAuthorizer.OPEN));
        }
        server = new IscsiServer(TargetCatalog.of(targets), options);
        portal = server.bind(new InetSocketAddress("127.0.0.1", 0));
    }

    @BeforeEach
    void defaults() throws IOException {
        start(IscsiServerOptions.defaults(), 0);
    }

    @AfterEach
    void stop() throws IOException {
        for (RawInitiator c : clients) {
            c.close();
        }
        server.close();
    }

    RawInitiator connect(String keys) throws IOException {
        RawInitiator c = new RawInitiator(portal);
        clients.add(c);
        assertEquals(0, c.login(INITIATOR, IQN, 0x400000000000L + clients.size(), 0, 0, keys));
        return c;
    }

    static ScsiResponse data(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) i;
        }
        return new ScsiResponse(ScsiResponse.GOOD, null, ByteBuffer.wrap(b), 0);
    }

    @Test
    void readIsSplitByInitiatorSegmentLengthWithStatusInLastDataIn() throws Exception {
        RawInitiator c = connect("MaxRecvDataSegmentLength=1024\0MaxBurstLength=2048\0");
        scsi.script = cmd -> CompletableFuture.completedFuture(data(4096));
        c.command(0xc1, false, 7, 8192, c.cmdSN, READ10_8, null);
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        for (int i = 0; i < 4; i++) {
            byte[][] p = c.read();
            assertEquals(0x25, opcode(p));
            assertEquals(1024, p[1].length);
            assertEquals(i, u32(p, 36), "DataSN");
            assertEquals(i * 1024, u32(p, 40), "buffer offset");
            boolean last = i == 3;
            assertEquals(last || i == 1, (p[0][1] & 0x80) != 0, "F at each MaxBurstLength boundary");
            assertEquals(last, (p[0][1] & 0x01) != 0, "S only on the last");
            if (last) {
                assertEquals(0x02, p[0][1] & 0x06, "underflow");
                assertEquals(4096, u32(p, 44), "residual");
            }
            got.write(p[1]);
        }
        assertArrayEquals(data(4096).dataIn().array(), got.toByteArray());
        assertEquals(8192, scsi.commands.get(0).expectedDataTransferLength());
    }

    @Test
    void checkConditionWithDataSendsDataThenResponseWithSense() throws Exception {
        RawInitiator c = connect("");
        byte[] sense = new byte[18];
        sense[0] = 0x70;
        sense[2] = 0x03;
        scsi.script = cmd -> CompletableFuture.completedFuture(
                new ScsiResponse(ScsiResponse.CHECK_CONDITION, sense, ByteBuffer.wrap(new byte[512]), 0));
        c.command(0xc1, false, 9, 512, c.cmdSN, READ10_8, null);
        byte[][] d = c.read();
        assertEquals(0x25, opcode(d));
        assertEquals(0, d[0][1] & 0x01, "no status in Data-In when there is sense");
        byte[][] r = c.read();
        assertEquals(0x21, opcode(r));
        assertEquals(ScsiResponse.CHECK_CONDITION, r[0][3]);
        assertEquals(18, ByteBuffer.wrap(r[1]).getShort(0));
        assertEquals(0x03, r[1][4]);
        assertEquals(1, u32(r, 36), "ExpDataSN counts the Data-In PDUs");
    }

    @Test
    void writeWithR2tHonoursMaxBurstAndOutstandingR2t() throws Exception {
        RawInitiator c = connect("InitialR2T=Yes\0ImmediateData=No\0MaxBurstLength=1024\0MaxOutstandingR2T=2\0");
        scsi.script = cmd -> CompletableFuture.completedFuture(new ScsiResponse(ScsiResponse.GOOD, null, null, 4096));
        c.command(0xa1, false, 11, 4096, c.cmdSN, WRITE10_8, null);
        byte[] payload = new byte[4096];
        new java.util.Random(3).nextBytes(payload);
        int sent = 0;
        int seen = 0;
        while (sent < 4096) {
            byte[][] r2t = c.read();
            assertEquals(0x31, opcode(r2t));
            assertEquals(seen++, u32(r2t, 36), "R2TSN");
            int offset = u32(r2t, 40);
            int length = u32(r2t, 44);
            assertTrue(length <= 1024);
            if (seen == 1) {
                // with two outstanding, the second R2T is already on its way
                byte[][] second = c.read();
                assertEquals(0x31, opcode(second));
                assertEquals(1024, u32(second, 40));
                seen++;
                sendBurst(c, 11, u32(r2t, 20), offset, length, payload);
                sendBurst(c, 11, u32(second, 20), u32(second, 40), u32(second, 44), payload);
                sent += length + u32(second, 44);
                continue;
            }
            sendBurst(c, 11, u32(r2t, 20), offset, length, payload);
            sent += length;
        }
        byte[][] resp = c.read();
        assertEquals(0x21, opcode(resp));
        assertEquals(0, resp[0][3]);
        assertEquals(4, u32(resp, 36), "ExpDataSN counts the R2Ts");
        assertArrayEquals(payload, scsi.dataOut.get(0));
    }

    private static void sendBurst(RawInitiator c, int itt, int ttt, int offset, int length, byte[] payload)
            throws IOException {
        for (int o = 0, sn = 0; o < length; o += 512, sn++) {
            byte[] chunk = java.util.Arrays.copyOfRange(payload, offset + o, offset + o + 512);
            c.dataOut(o + 512 == length, itt, ttt, sn, offset + o, chunk);
        }
    }

    @Test
    void immediateAndUnsolicitedDataThenR2tForTheRest() throws Exception {
        RawInitiator c = connect("InitialR2T=No\0ImmediateData=Yes\0FirstBurstLength=1024\0");
        scsi.script = cmd -> CompletableFuture.completedFuture(new ScsiResponse(ScsiResponse.GOOD, null, null, 4096));
        byte[] payload = new byte[4096];
        new java.util.Random(5).nextBytes(payload);
        c.command(0x21, false, 12, 4096, c.cmdSN, WRITE10_8, java.util.Arrays.copyOf(payload, 512));
        c.dataOut(true, 12, -1, 0, 512, java.util.Arrays.copyOfRange(payload, 512, 1024));
        byte[][] r2t = c.read();
        assertEquals(0x31, opcode(r2t));
        assertEquals(1024, u32(r2t, 40));
        assertEquals(3072, u32(r2t, 44));
        for (int o = 1024, sn = 0; o < 4096; o += 1024, sn++) {
            c.dataOut(o + 1024 == 4096, 12, u32(r2t, 20), sn, o, java.util.Arrays.copyOfRange(payload, o, o + 1024));
        }
        byte[][] resp = c.read();
        assertEquals(0x21, opcode(resp));
        assertArrayEquals(payload, scsi.dataOut.get(0));
    }

    @Test
    void unsolicitedBurstEndedEarlyIsSolicitedWithAnR2t() throws Exception {
        RawInitiator c = connect("InitialR2T=No\0ImmediateData=No\0FirstBurstLength=2048\0");
        scsi.script = cmd -> CompletableFuture.completedFuture(new ScsiResponse(ScsiResponse.GOOD, null, null, 4096));
        byte[] payload = new byte[4096];
        new java.util.Random(9).nextBytes(payload);
        c.command(0x21, false, 14, 4096, c.cmdSN, WRITE10_8, null);
        // only 1024 of the 2048 unsolicited bytes, with F set
        c.dataOut(true, 14, -1, 0, 0, java.util.Arrays.copyOf(payload, 1024));
        int covered = 1024;
        while (covered < 4096) {
            byte[][] r2t = c.read();
            assertEquals(0x31, opcode(r2t));
            int offset = u32(r2t, 40);
            int length = u32(r2t, 44);
            c.dataOut(true, 14, u32(r2t, 20), 0, offset, java.util.Arrays.copyOfRange(payload, offset, offset + length));
            covered += length;
        }
        byte[][] resp = c.read();
        assertEquals(0x21, opcode(resp));
        assertEquals(0, resp[0][3]);
        assertArrayEquals(payload, scsi.dataOut.get(0));
    }

    @Test
    void wrongDataSnFailsTheCommandButNotTheSession() throws Exception {
        RawInitiator c = connect("InitialR2T=No\0ImmediateData=No\0");
        c.command(0x21, false, 13, 1024, c.cmdSN, WRITE10_8, null);
        c.dataOut(false, 13, -1, 0, 0, new byte[512]);
        c.dataOut(true, 13, -1, 0, 512, new byte[512]);
        byte[][] resp = c.read();
        assertEquals(0x21, opcode(resp));
        assertEquals(ScsiResponse.CHECK_CONDITION, resp[0][3]);
        assertEquals(0x0b, resp[1][2 + 2], "ABORTED COMMAND");
        assertTrue(scsi.commands.isEmpty(), "never reached the command layer");
        assertArrayEquals(new byte[] {4}, c.ping(new byte[] {4}, 99));
    }

    @Test
    void commandsAreDeliveredInCmdSnOrderAndOutOfWindowOnesDropped() throws Exception {
        RawInitiator c = connect("");
        int base = c.cmdSN;
        c.command(0x81, false, 21, 0, base + 1, TUR, null);
        c.command(0x81, false, 22, 0, base + 1000, TUR, null); // beyond MaxCmdSN: dropped silently
        c.command(0x81, false, 23, 0, base - 1, TUR, null); // below ExpCmdSN: dropped silently
        Thread.sleep(100);
        assertTrue(scsi.commands.isEmpty(), "waits for the missing CmdSN");
        c.command(0x81, false, 20, 0, base, TUR, null);
        List<Integer> itts = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            byte[][] r = c.read();
            assertEquals(0x21, opcode(r));
            itts.add(u32(r, 16));
        }
        assertEquals(List.of(20L, 21L), scsi.commands.stream().map(x -> x.taskTag()).toList());
        assertTrue(itts.containsAll(List.of(20, 21)));
        assertArrayEquals(new byte[] {7}, c.ping(new byte[] {7}, 24), "nothing came for the dropped commands");
        assertEquals(2, scsi.commands.size());
    }

    @Test
    void orderedTaskIsNotHandedOverBeforeAnOlderWriteStillWaitingForData() throws Exception {
        RawInitiator c = connect("InitialR2T=Yes\0ImmediateData=No\0");
        int base = c.cmdSN;
        c.command(0x21, false, 130, 512, base, WRITE10_8, null); // SIMPLE write, needs an R2T
        byte[][] r2t = c.read();
        assertEquals(0x31, opcode(r2t));
        c.command(0x82, false, 131, 0, base + 1, TUR, null); // ORDERED
        c.command(0x81, false, 132, 0, base + 2, TUR, null); // SIMPLE after the ORDERED one
        c.command(0x83, false, 133, 0, base + 3, TUR, null); // HEAD OF QUEUE
        byte[][] hoq = c.read();
        assertEquals(133, u32(hoq, 16), "head of queue is not held back");
        assertEquals(List.of(133L), scsi.commands.stream().map(x -> x.taskTag()).toList());
        c.dataOut(true, 130, u32(r2t, 20), 0, 0, new byte[512]);
        for (int i = 0; i < 3; i++) {
            c.read();
        }
        assertEquals(List.of(133L, 130L, 131L, 132L), scsi.commands.stream().map(x -> x.taskTag()).toList());
    }

    @Test
    void maxCmdSnAdvancesAsCommandsComplete() throws Exception {
        RawInitiator c = connect("");
        int base = c.cmdSN;
        c.command(0x81, false, 30, 0, base, TUR, null);
        byte[][] r = c.read();
        int expCmdSN = u32(r, 28);
        int maxCmdSN = u32(r, 32);
        assertEquals(base + 1, expCmdSN);
        assertTrue(maxCmdSN - expCmdSN + 1 >= 128, "queue depth at least 128");
    }

    /**
     * A target with its own queue depth: its sessions get that CmdSN window (RFC 7143 §3.2.2.1),
     * in the Login Response and in every response after; another target keeps the server's; a
     * command beyond the target's MaxCmdSN is dropped.
     */
    @Test
    void aTargetsOwnQueueDepthSizesTheCmdSnWindowOfItsSessions() throws Exception {
        server.close();
        scsi = new ScriptedScsiTarget();
        String shallow = "iqn.2026-11.io.orion:shallow";
        server = new IscsiServer(TargetCatalog.of(List.of(
                new IscsiTargetInfo(IQN, null, 1, List.of(), scsi, LoginAuthorizer.OPEN, 0),
                new IscsiTargetInfo(shallow, null, 1, List.of(), scsi, LoginAuthorizer.OPEN, 4))),
                IscsiServerOptions.defaults().withQueueDepth(32));
        portal = server.bind(new InetSocketAddress("127.0.0.1", 0));

        RawInitiator s = new RawInitiator(portal);
        clients.add(s);
        assertEquals(0, s.login(INITIATOR, shallow, 0x400000000101L, 0, 0, ""));
        assertEquals(s.cmdSN + 3, s.maxCmdSN, "login: MaxCmdSN - ExpCmdSN + 1 = the target's depth 4");
        int base = s.cmdSN;
        s.command(0x81, false, 1, 0, base, TUR, null);
        byte[][] r = s.read();
        assertEquals(base + 1, u32(r, 28));
        assertEquals(base + 4, u32(r, 32), "the window stays 4 deep");
        s.command(0x81, false, 2, 0, base + 5, TUR, null); // beyond MaxCmdSN: dropped silently
        s.command(0x81, false, 3, 0, base + 1, TUR, null);
        r = s.read();
        assertEquals(3, u32(r, 16), "only the in-window command is answered");
        assertTrue(scsi.commands.stream().noneMatch(c -> c.taskTag() == 2), "CmdSN beyond MaxCmdSN never executed");

        RawInitiator d = new RawInitiator(portal);
        clients.add(d);
        assertEquals(0, d.login(INITIATOR, IQN, 0x400000000102L, 0, 0, ""));
        assertEquals(d.cmdSN + 31, d.maxCmdSN, "a target with depth 0 uses the server's 32");
    }

    @Test
    void immediateCommandsBypassTheWindowAndDoNotShrinkIt() throws Exception {
        RawInitiator c = connect("");
        int base = c.cmdSN;
        for (int i = 0; i < 3; i++) {
            c.command(0x81, true, 100 + i, 0, base, TUR, null);
            byte[][] r = c.read();
            assertEquals(0x21, opcode(r));
            assertEquals(base, u32(r, 28), "immediate commands do not advance ExpCmdSN");
            assertEquals(base + 127, u32(r, 32));
        }
        c.command(0x81, false, 110, 0, base, TUR, null);
        byte[][] r = c.read();
        assertEquals(base + 1, u32(r, 28));
        assertEquals(base + 128, u32(r, 32));
    }

    static final byte[] WRITE16_8 = {(byte) 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0};
    static final byte[] READ16_8 = {(byte) 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0};

    /**
     * RFC 7143 §11.3.1: R and W must not both be 0 with a nonzero Expected Data Transfer Length.
     * Such a WRITE(16) answered GOOD with residual 0 and wrote nothing; such a READ(16) answered
     * GOOD without Data-In. Both now end with CHECK CONDITION ILLEGAL REQUEST / INVALID FIELD IN CDB,
     * never reach the command layer, and their CmdSN still counts.
     */
    @Test
    void commandWithDataLengthButNeitherReadNorWriteBitIsRefused() throws Exception {
        RawInitiator c = connect("");
        int base = c.cmdSN;
        byte[][] cmds = {WRITE16_8, READ16_8};
        for (int i = 0; i < cmds.length; i++) {
            c.command(0x81, false, 130 + i, 4096, base + i, cmds[i], null);
            byte[][] r = c.read();
            assertEquals(0x21, opcode(r), "a SCSI Response, no Data-In");
            assertEquals(130 + i, u32(r, 16));
            assertEquals(ScsiResponse.CHECK_CONDITION, r[0][3]);
            assertEquals(0x05, r[1][4] & 0x0f, "ILLEGAL REQUEST");
            assertEquals(0x24, r[1][14] & 0xff, "INVALID FIELD IN CDB");
            assertEquals(0x00, r[1][15] & 0xff);
        }
        assertEquals(0, scsi.commands.size(), "nothing reached the command layer");
        c.command(0x81, false, 132, 0, base + 2, TUR, null);
        byte[][] next = c.read();
        assertEquals(132, u32(next, 16));
        assertEquals(0, next[0][3]);
        // R=0 W=0 with EDTL 0 is allowed (a mismatch in length only) and is executed
        assertEquals(1, scsi.commands.size());
    }

    @Test
    void oversizeWriteIsRefusedAndTheCmdSnStillCounts() throws Exception {
        RawInitiator c = connect("");
        int base = c.cmdSN;
        c.command(0xa1, false, 120, Integer.MAX_VALUE, base, WRITE10_8, null);
        byte[][] r = c.read();
        assertEquals(0x21, opcode(r));
        assertEquals(ScsiResponse.CHECK_CONDITION, r[0][3]);
        assertEquals(0x05, r[1][4], "ILLEGAL REQUEST");
        c.command(0x82, false, 121, 0, base + 1, TUR, null); // ORDERED: must not wait for the refused one
        byte[][] next = c.read();
        assertEquals(121, u32(next, 16));
        assertEquals(0, next[0][3]);
        assertEquals(1, scsi.commands.size());
    }

    @Test
    void abortTaskSuppressesTheResponseAndWaitsForTheCommand() throws Exception {
        RawInitiator c = connect("");
        CompletableFuture<ScsiResponse> slow = new CompletableFuture<>();
        scsi.script = cmd -> slow;
        c.command(0x81, false, 40, 0, c.cmdSN, TUR, null);
        while (scsi.commands.isEmpty()) {
            Thread.sleep(5);
        }
        c.taskManagement(1, 41, 40, c.cmdSN);
        c.socket.setSoTimeout(300);
        assertThrows(SocketTimeoutException.class, c::read, "TMF answer waits for the aborted command");
        c.socket.setSoTimeout(5000);
        slow.complete(new ScsiResponse(ScsiResponse.GOOD, null, null, 0));
        byte[][] tmf = c.read();
        assertEquals(0x22, opcode(tmf));
        assertEquals(0, tmf[0][2], "function complete");
        assertArrayEquals(new byte[] {1}, c.ping(new byte[] {1}, 42), "no SCSI response in between");
        c.taskManagement(1, 43, 40, c.cmdSN - 5);
        assertEquals(1, c.read()[0][2], "task does not exist");
    }

    @Test
    void logicalUnitResetAndUnknownLun() throws Exception {
        RawInitiator c = connect("");
        c.taskManagement(5, 50, -1, 0);
        byte[][] r = c.read();
        assertEquals(0x22, opcode(r));
        assertEquals(0, r[0][2]);
        assertTrue(scsi.events.contains("lu-reset 0"));
    }

    @Test
    void unknownOpcodeIsRejectedWithItsHeader() throws Exception {
        RawInitiator c = connect("");
        byte[] bhs = new byte[48];
        bhs[0] = 0x1d;
        bhs[1] = (byte) 0x80;
        bhs[16] = 7;
        c.send(bhs, new byte[] {1, 2, 3});
        byte[][] r = c.read();
        assertEquals(0x3f, opcode(r));
        assertEquals(0x05, r[0][2], "command not supported");
        assertEquals(0x1d, r[1][0]);
        assertArrayEquals(new byte[] {9}, c.ping(new byte[] {9}, 1));
    }

    @Test
    void sendTargetsInFullFeaturePhaseAndItsInvalidForms() throws Exception {
        RawInitiator c = connect("");
        c.text(60, -1, false, "SendTargets=All\0");
        byte[][] r = c.read();
        assertEquals(0x24, opcode(r));
        assertEquals((byte) 0x80, r[0][1]);
        String text = new String(r[1], StandardCharsets.UTF_8);
        assertTrue(text.contains("TargetName=" + IQN + "\0TargetAddress=192.0.2.1:3260,1\0"
                + "TargetAddress=[2001:db8::1]:3260,1\0"), text);
        for (String bad : List.of("SendTargets=Alle", "sENDtARGETS=aLL", "SendTargetsPlease=All")) {
            c.text(61, -1, false, bad + "\0");
            String answer = new String(c.read()[1], StandardCharsets.UTF_8);
            assertTrue(answer.endsWith("=Reject\0") || answer.endsWith("=NotUnderstood\0"), answer);
        }
        c.text(62, -1, false, "SendTargets=iqn.2026-11.io.orion:absent\0");
        assertEquals(0, c.read()[1].length);
    }

    @Test
    void continuedTextRequestIsAcknowledgedThenAnswered() throws Exception {
        RawInitiator c = connect("");
        c.text(65, -1, true, "SendTar");
        byte[][] ack = c.read();
        assertEquals(0x24, opcode(ack));
        assertEquals(0, ack[1].length);
        assertEquals(0, ack[0][1] & 0x80, "not final");
        int ttt = u32(ack, 20);
        assertTrue(ttt != -1);
        c.text(65, ttt, false, "gets=All\0");
        byte[][] r = c.read();
        assertEquals((byte) 0x80, r[0][1]);
        assertTrue(new String(r[1], StandardCharsets.UTF_8).startsWith("TargetName=" + IQN), new String(r[1]));
    }

    @Test
    void longTextAnswerUsesContinue() throws Exception {
        stop();
        clients.clear();
        start(IscsiServerOptions.defaults(), 40);
        RawInitiator c = connect("MaxRecvDataSegmentLength=512\0");
        c.text(70, -1, false, "SendTargets=All\0");
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        int rounds = 0;
        while (true) {
            byte[][] r = c.read();
            assertEquals(0x24, opcode(r));
            assertTrue(r[1].length <= 512);
            all.write(r[1]);
            rounds++;
            if ((r[0][1] & 0x80) != 0) {
                assertEquals(-1, u32(r, 20));
                break;
            }
            assertEquals(0x40, r[0][1] & 0x40, "continue bit");
            c.text(70, u32(r, 20), false, "");
        }
        assertTrue(rounds > 3);
        String text = all.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("extra-target-with-a-long-name-39\0TargetAddress=127.0.0.1:" + portal.getPort()
                + ",2\0"), text);
    }

    @Test
    void twoConnectionsInOneSession() throws Exception {
        RawInitiator first = new RawInitiator(portal);
        clients.add(first);
        assertEquals(0, first.login(INITIATOR, IQN, 0x400000000077L, 0, 0, "MaxConnections=2\0"));
        RawInitiator second = new RawInitiator(portal);
        clients.add(second);
        second.cmdSN = first.cmdSN;
        assertEquals(0, second.login(INITIATOR, IQN, 0x400000000077L, first.tsih, 1, ""));
        assertEquals(first.tsih, second.tsih);
        SessionInfo info = server.sessions().iterator().next();
        assertEquals(2, info.connections().size());
        // CmdSN is session-wide: the second connection continues the numbering
        int sn = first.cmdSN;
        second.command(0x81, false, 80, 0, sn + 1, TUR, null);
        first.command(0x81, false, 81, 0, sn, TUR, null);
        assertEquals(81, u32(first.read(), 16));
        assertEquals(80, u32(second.read(), 16));
        RawInitiator third = new RawInitiator(portal);
        clients.add(third);
        assertEquals(0x0206, third.login(INITIATOR, IQN, 0x400000000077L, first.tsih, 2, ""));
        second.logout(1, 82, 1);
        assertEquals(0x26, opcode(second.read()));
        assertTrue(second.closedByPeer());
        Thread.sleep(100);
        assertEquals(1, server.sessions().iterator().next().connections().size());
        assertArrayEquals(new byte[] {5}, first.ping(new byte[] {5}, 83));
    }

    @Test
    void manyConcurrentSessionsAndTheSessionLimit() throws Exception {
        stop();
        clients.clear();
        start(IscsiServerOptions.defaults().withMaxSessions(40), 0);
        List<CompletableFuture<byte[]>> pings = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            RawInitiator c = connect("");
            int n = i;
            pings.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return c.ping(new byte[] {(byte) n}, 1000 + n);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }));
        }
        for (int i = 0; i < 40; i++) {
            assertArrayEquals(new byte[] {(byte) i}, pings.get(i).get(10, java.util.concurrent.TimeUnit.SECONDS));
        }
        assertEquals(40, server.sessions().size());
        try (RawInitiator extra = new RawInitiator(portal)) {
            assertEquals(0x0302, extra.login(INITIATOR, IQN, 0x400000009999L), "out of resources");
        }
    }

    @Test
    void anInitiatorThatDoesNotReadIsNotReadEither() throws Exception {
        RawInitiator flood = connect("");
        RawInitiator other = connect("");
        flood.socket.setSoTimeout(20000);
        byte[] payload = new byte[8192];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(48);
        b.put((byte) 0x40).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(1).putInt(-1).putInt(flood.cmdSN).putInt(0);
        byte[] bhs = b.array();
        java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
        Thread writer = new Thread(() -> {
            try {
                for (int i = 0; i < 100000; i++) {
                    flood.send(bhs.clone(), payload);
                    sent.incrementAndGet();
                }
            } catch (IOException e) {
                // the socket is closed at the end of the test
            }
        });
        writer.setDaemon(true);
        writer.start();
        Thread.sleep(2500);
        int before = sent.get();
        Thread.sleep(1000);
        assertEquals(before, sent.get(), "the target stopped reading pings nobody collects");
        assertTrue(before < 100000);
        assertArrayEquals(new byte[] {3}, other.ping(new byte[] {3}, 3), "other sessions unaffected");
        flood.close();
    }

    @Test
    void droppingATargetsSessionsClosesTheirConnections() throws Exception {
        RawInitiator c = connect("");
        assertEquals(1, server.dropSessions(IQN));
        assertTrue(c.closedByPeer());
        Thread.sleep(100);
        assertTrue(server.sessions().isEmpty());
        assertEquals(0, server.dropSessions(IQN));
    }

    /**
     * A portal added at run time accepts logins; withdrawn, its port refuses connections and a
     * login still in progress through it is closed, while a session that logged in through it
     * keeps working (as in LIO) and the other portal is untouched.
     */
    @Test
    void portalsAreAddedAndWithdrawnWhileTheServerRuns() throws Exception {
        InetSocketAddress extra = server.bind(new InetSocketAddress("127.0.0.1", 0));
        assertEquals(2, server.listening().size());
        RawInitiator through = new RawInitiator(extra);
        clients.add(through);
        assertEquals(0, through.login(INITIATOR, IQN, 0x400000000201L, 0, 0, ""));
        RawInitiator halfway = new RawInitiator(extra);
        clients.add(halfway);

        assertTrue(server.unbind(extra));
        assertFalse(server.unbind(extra), "already withdrawn");
        assertEquals(List.of(portal), server.listening());
        assertThrows(java.net.ConnectException.class, () -> new RawInitiator(extra).close());
        assertTrue(halfway.closedByPeer(), "a login in progress through the withdrawn portal is ended");
        assertArrayEquals(new byte[] {7}, through.ping(new byte[] {7}, 5), "a logged-in session stays");
        assertEquals(1, server.sessions().size());

        RawInitiator other = new RawInitiator(portal);
        clients.add(other);
        assertEquals(0, other.login(INITIATOR, IQN, 0x400000000202L, 0, 0, ""));
    }

    @Test
    void droppingOneInitiatorsSessionsLeavesTheOthers() throws Exception {
        RawInitiator a = connect("");
        RawInitiator b = new RawInitiator(portal);
        clients.add(b);
        assertEquals(0, b.login("iqn.2026-11.test:other", IQN, 0x400000000301L, 0, 0, ""));
        assertEquals(1, server.dropSessions(IQN, "iqn.2026-11.test:other"));
        assertTrue(b.closedByPeer());
        assertEquals(1, server.sessions().size(), "dropSessions waits until the session ended");
        assertArrayEquals(new byte[] {9}, a.ping(new byte[] {9}, 6));
    }

    @Test
    void logoutEndsTheSessionAndReportsTheNexusLost() throws Exception {
        RawInitiator c = connect("");
        c.command(0x81, false, 90, 0, c.cmdSN, TUR, null);
        c.read();
        assertTrue(server.lunInUse(IQN, 0));
        assertFalse(server.lunInUse(IQN, 1));
        c.logout(0, 91, 0);
        byte[][] r = c.read();
        assertEquals(0x26, opcode(r));
        assertEquals(0, r[0][2]);
        assertTrue(c.closedByPeer());
        Thread.sleep(100);
        assertTrue(server.sessions().isEmpty());
        assertTrue(scsi.events.stream().anyMatch(e -> e.startsWith("lost " + INITIATOR)));
    }

    @Test
    void metricsHookSeesLoginsBytesAndLatency() throws Exception {
        stop();
        clients.clear();
        List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        IscsiMetrics m = new IscsiMetrics() {
            @Override
            public void loginSucceeded(String initiatorName, String targetName, boolean discovery) {
                seen.add("login " + targetName);
            }

            @Override
            public void loginFailed(String initiatorName, String targetName, int status) {
                seen.add(String.format("failed %04x", status));
            }

            @Override
            public void bytesIn(String targetName, long lun, long bytes) {
                seen.add("in " + bytes);
            }

            @Override
            public void bytesOut(String targetName, long lun, long bytes) {
                seen.add("out " + bytes);
            }

            @Override
            public void commandCompleted(String targetName, long lun, int opcode, int status, long nanos) {
                seen.add(String.format("done %02x %d", opcode, nanos > 0 ? 1 : 0));
            }
        };
        start(IscsiServerOptions.defaults().withMetrics(m), 0);
        RawInitiator c = connect("");
        scsi.script = cmd -> CompletableFuture.completedFuture(cmd.opcode() == 0x28 ? data(4096)
                : new ScsiResponse(ScsiResponse.GOOD, null, null, 4096));
        c.command(0xc1, false, 1, 4096, c.cmdSN, READ10_8, null);
        c.read();
        c.command(0xa1, false, 2, 4096, c.cmdSN + 1, WRITE10_8, new byte[4096]);
        c.read();
        try (RawInitiator bad = new RawInitiator(portal)) {
            assertEquals(0x0203, bad.login(INITIATOR, "iqn.2026-11.io.orion:none", 9));
        }
        assertEquals(List.of("login " + IQN, "out 4096", "done 28 1", "in 4096", "done 2a 1", "failed 0203"), seen);
    }

    @Test
    void targetPingsIdleConnectionsAndDropsDeadOnes() throws Exception {
        stop();
        clients.clear();
        start(IscsiServerOptions.defaults().withNopIn(Duration.ofMillis(200), Duration.ofMillis(300)), 0);
        RawInitiator alive = connect("");
        RawInitiator dead = connect("");
        byte[][] ping = alive.read();
        assertEquals(0x20, opcode(ping));
        int ttt = u32(ping, 20);
        assertTrue(ttt != -1);
        // answer it as RFC 7143 §11.18 says: NOP-Out with the TTT, ITT 0xffffffff, immediate
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x40).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(-1).putInt(ttt).putInt(alive.cmdSN).putInt(alive.expStatSN);
        alive.send(b.array(), null);
        assertTrue(dead.closedByPeer(), "unanswered ping drops the connection");
        assertArrayEquals(new byte[] {6}, alive.ping(new byte[] {6}, 2));
    }
}
