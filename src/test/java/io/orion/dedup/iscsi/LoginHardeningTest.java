package io.orion.dedup.iscsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.orion.dedup.iscsi.login.ChapAlgorithm;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Login hardening over real sockets (several loopback source addresses): duplicate keys, name
 * validation, what failed logins log, the CHAP failure limiter and the caps on connections that
 * have not finished login.
 */
class LoginHardeningTest {

    static final String OPEN_IQN = "iqn.2026-11.io.orion:open";
    static final String CHAP_IQN = "iqn.2026-11.io.orion:chap";
    static final String INITIATOR = "iqn.2026-11.test:host";
    static final String CHAP_USER = "chapuser-7f3a";
    static final String CHAP_SECRET = "right-secret-123";

    IscsiServer server;
    InetSocketAddress portal;
    final List<RawInitiator> clients = new ArrayList<>();
    ListAppender<ILoggingEvent> logs;
    Logger iscsiLogger;
    Level oldLevel;

    /** Target-wide CHAP for {@link #CHAP_IQN}: every initiator name may log in with the secret. */
    static final LoginAuthorizer TARGET_WIDE_CHAP = new LoginAuthorizer() {
        @Override
        public boolean mayLogin(String initiatorName) {
            return true;
        }

        @Override
        public boolean visibleInDiscovery(String initiatorName) {
            return true;
        }

        @Override
        public Optional<ChapCredentials> chap(String initiatorName) {
            return Optional.of(ChapCredentials.oneWay(CHAP_USER, CHAP_SECRET));
        }
    };

    void start(IscsiServerOptions options) throws IOException {
        ScriptedScsiTarget scsi = new ScriptedScsiTarget();
        server = new IscsiServer(TargetCatalog.of(List.of(
                new IscsiTargetInfo(OPEN_IQN, null, 1, List.of(), scsi, LoginAuthorizer.OPEN),
                new IscsiTargetInfo(CHAP_IQN, null, 1, List.of(), scsi, TARGET_WIDE_CHAP))), options);
        portal = server.bind(new InetSocketAddress("127.0.0.1", 0));
    }

    @BeforeEach
    void setUp() throws IOException {
        iscsiLogger = (Logger) LoggerFactory.getLogger("io.orion.dedup.iscsi");
        oldLevel = iscsiLogger.getLevel();
        iscsiLogger.setLevel(Level.INFO);
        logs = new ListAppender<>();
        logs.start();
        iscsiLogger.addAppender(logs);
        start(IscsiServerOptions.defaults());
    }

    @AfterEach
    void tearDown() throws IOException {
        for (RawInitiator c : clients) {
            c.close();
        }
        server.close();
        iscsiLogger.detachAppender(logs);
        iscsiLogger.setLevel(oldLevel);
    }

    RawInitiator connect(String from) throws IOException {
        RawInitiator c = new RawInitiator(portal, InetAddress.getByName(from));
        clients.add(c);
        return c;
    }

    /** Log messages (formatted) so far. */
    List<String> lines() {
        List<String> out = new ArrayList<>();
        for (ILoggingEvent e : new ArrayList<>(logs.list)) {
            out.add(e.getFormattedMessage());
        }
        return out;
    }

    /** Sends one Login Request; returns the response. flags: T=0x80, CSG << 2, NSG. */
    static byte[][] loginPdu(RawInitiator c, int flags, String text) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x43).put((byte) flags).put((byte) 0).put((byte) 0).putInt(0);
        b.putShort((short) 0x4000).putInt(0x1234).putShort((short) 0);
        b.putInt(1).putShort((short) 0).putShort((short) 0).putInt(c.cmdSN).putInt(c.expStatSN);
        c.send(b.array(), text.getBytes(StandardCharsets.UTF_8));
        return c.read();
    }

    static int status(byte[][] r) {
        return ((r[0][36] & 0xff) << 8) | (r[0][37] & 0xff);
    }

    static Map<String, String> keys(byte[][] r) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String kv : new String(r[1], StandardCharsets.UTF_8).split("\0")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                m.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        return m;
    }

    /** A CHAP login (MD5) through the security stage; returns the status of the CHAP_R step. */
    static int chapLogin(RawInitiator c, String initiator, String secret) throws IOException {
        byte[][] r1 = loginPdu(c, 0x01, "InitiatorName=" + initiator + "\0TargetName=" + CHAP_IQN
                + "\0SessionType=Normal\0AuthMethod=CHAP,None\0");
        if (status(r1) != 0) {
            return status(r1);
        }
        byte[][] r2 = loginPdu(c, 0x01, "CHAP_A=5\0");
        if (status(r2) != 0) {
            return status(r2);
        }
        Map<String, String> ch = keys(r2);
        byte[] challenge = HexFormat.of().parseHex(ch.get("CHAP_C").substring(2));
        byte[] resp = ChapAlgorithm.MD5.response(Integer.parseInt(ch.get("CHAP_I")),
                secret.getBytes(StandardCharsets.UTF_8), challenge);
        return status(loginPdu(c, 0x81, "CHAP_N=" + CHAP_USER + "\0CHAP_R=0x" + HexFormat.of().formatHex(resp) + "\0"));
    }

    // ---------------------------------------------------------------- item 8: duplicate keys

    @Test
    void aKeySentTwiceIsAnInitiatorError() throws Exception {
        // RFC 7143 §6.1: renegotiating or redeclaring a key is detected and answered 0x0200.
        assertEquals(0x0200, connect("127.0.0.1").login(INITIATOR, OPEN_IQN, 0x400000000001L, 0, 0,
                "MaxRecvDataSegmentLength=8192\0MaxRecvDataSegmentLength=1024\0"));
        assertEquals(0x0200, connect("127.0.0.1").login(INITIATOR, OPEN_IQN, 0x400000000002L, 0, 0,
                "InitiatorName=iqn.2026-11.test:impostor\0"));
        // across the PDUs of one login too
        RawInitiator c = connect("127.0.0.1");
        assertEquals(0, status(loginPdu(c, 0x81, "InitiatorName=" + INITIATOR + "\0TargetName=" + OPEN_IQN
                + "\0AuthMethod=None\0")));
        byte[][] op = loginPdu(c, 0x04, "MaxBurstLength=65536\0");
        assertEquals(0, status(op));
        assertEquals("65536", keys(op).get("MaxBurstLength"));
        assertEquals(0x0200, status(loginPdu(c, 0x87, "MaxBurstLength=131072\0")));
    }

    @Test
    void namesRepeatedWithTheSameValueInTheNextStageAreAccepted() throws Exception {
        // libiscsi sends InitiatorName, TargetName and SessionType in the security stage and again
        // in the operational stage
        RawInitiator c = connect("127.0.0.1");
        String names = "InitiatorName=" + INITIATOR + "\0TargetName=" + OPEN_IQN + "\0SessionType=Normal\0";
        byte[][] r1 = loginPdu(c, 0x81, names + "AuthMethod=None\0");
        assertEquals(0, status(r1));
        byte[][] r2 = loginPdu(c, 0x87, names + "HeaderDigest=None\0MaxRecvDataSegmentLength=65536\0");
        assertEquals(0, status(r2));
        assertEquals(0x80, r2[0][1] & 0x80, "transit to full feature");
    }

    // ---------------------------------------------------------------- item 9: no CHAP name in logs

    @Test
    void failedChapLoginLogsTheSourceAddressAndNoChapName() throws Exception {
        assertEquals(0x0201, chapLogin(connect("127.0.0.1"), INITIATOR, "wrong-secret-000"));
        String all = String.join("\n", lines());
        assertTrue(all.contains("127.0.0.1"), all);
        assertTrue(all.contains("CHAP"), all);
        assertFalse(all.contains(CHAP_USER), "the CHAP name was logged: " + all);
        assertFalse(all.contains(CHAP_SECRET) || all.contains("wrong-secret-000"), all);
    }

    // ---------------------------------------------------------------- item 10: CHAP failure limiter

    @Test
    void chapFailuresCountPerSourceAddressNotPerInitiatorName() throws Exception {
        // rotating initiator names from one address does not get around the limit (5 a minute)
        for (int i = 0; i < 5; i++) {
            assertEquals(0x0201, chapLogin(connect("127.0.0.2"), "iqn.2026-11.test:rotating-" + i, "wrong-secret-000"));
        }
        assertEquals(0x0201, chapLogin(connect("127.0.0.2"), "iqn.2026-11.test:rotating-new", CHAP_SECRET),
                "after 5 failures from this address even the right secret is not checked");
        // failures under the victim's name from elsewhere do not lock the victim out of its own address
        for (int i = 0; i < 6; i++) {
            assertEquals(0x0201, chapLogin(connect("127.0.0.3"), INITIATOR, "wrong-secret-000"));
        }
        assertEquals(0, chapLogin(connect("127.0.0.1"), INITIATOR, CHAP_SECRET));
        String all = String.join("\n", lines());
        assertTrue(all.contains("127.0.0.2") && all.contains("127.0.0.3"), all);
    }

    // ---------------------------------------------------------------- item 11: names and logs

    @Test
    void invalidInitiatorNamesAreRefusedAndNothingRawIsLogged() throws Exception {
        String forged = "iqn.2026-11.test:evil\n2026-12-02T04:00:00.000 WARN  [main] Orion - FORGED\r";
        assertEquals(0x0200, connect("127.0.0.1").login(forged, OPEN_IQN, 0x400000000003L));
        assertEquals(0x0200, connect("127.0.0.1").login("iqn.2026-11.test:" + "x".repeat(8000), OPEN_IQN,
                0x400000000004L));
        assertEquals(0x0200, connect("127.0.0.1").login("not-an-iscsi-name", OPEN_IQN, 0x400000000005L));
        assertEquals(0x0200, connect("127.0.0.1").login(INITIATOR, "iqn.2026-11.io.orion:x\u202eevil", 0x400000000006L));
        assertEquals(0x0207, connect("127.0.0.1").login("", OPEN_IQN, 0x400000000007L));
        // a valid name in upper case still logs in (names compare case-insensitively)
        assertEquals(0, connect("127.0.0.1").login("IQN.2026-11.TEST:Upper", OPEN_IQN, 0x400000000008L));
        Thread.sleep(200);
        List<String> lines = lines();
        for (String l : lines) {
            assertFalse(l.contains("\n") || l.contains("\r") || l.contains("\u202e"), "raw control text logged: " + l);
            assertTrue(l.length() < 1000, "a long line was logged: " + l.length() + " chars");
        }
        String all = String.join("\n", lines);
        assertTrue(all.contains("evil\\x0a2026-12-02"), "the name is logged escaped: " + all);
    }

    @Test
    void repeatedLoginFailureLinesAreRateLimitedPerSource() throws Exception {
        for (int i = 0; i < 30; i++) {
            assertEquals(0x0203, connect("127.0.0.1").login(INITIATOR, "iqn.2026-11.io.orion:absent", 0x400000000100L + i));
        }
        long fromFlooder = lines().stream().filter(l -> l.contains("127.0.0.1")).count();
        assertTrue(fromFlooder >= 1 && fromFlooder <= 6, fromFlooder + " lines: " + lines());
        // another source still gets its line
        assertEquals(0x0203, connect("127.0.0.4").login(INITIATOR, "iqn.2026-11.io.orion:absent", 0x400000000200L));
        assertTrue(lines().stream().anyMatch(l -> l.contains("127.0.0.4") && l.contains("0x0203")), lines().toString());
    }

    @Test
    void chapGuessingIsRateLimitedPerSourceAndNeverLogsASecret() throws Exception {
        for (int i = 0; i < 40; i++) {
            assertEquals(0x0201, chapLogin(connect("127.0.0.6"), "iqn.2026-11.test:guess-" + i, "guess-secret-" + i));
        }
        long fromGuesser = lines().stream().filter(l -> l.contains("127.0.0.6")).count();
        assertTrue(fromGuesser >= 1 && fromGuesser <= 6, fromGuesser + " lines for 40 failed CHAP logins: " + lines());
        String all = String.join("\n", lines());
        assertFalse(all.contains("guess-secret-") || all.contains(CHAP_SECRET) || all.contains(CHAP_USER), all);
    }

    @Test
    void discoveryLoginLinesShareTheRateLimit() throws Exception {
        // discovery needs no authentication here: its login lines must not flood the log either
        for (int i = 0; i < 12; i++) {
            RawInitiator c = connect("127.0.0.7");
            assertEquals(0, c.login(INITIATOR, null, 0x400000000500L + i));
            c.close();
        }
        Thread.sleep(200);
        long lines = lines().stream().filter(l -> l.contains("127.0.0.7") && l.contains("discovery")).count();
        assertTrue(lines >= 1 && lines <= 5, lines + " discovery lines: " + lines());
    }

    @Test
    void protocolErrorsInADiscoverySessionShareTheRateLimit() throws Exception {
        RawInitiator c = connect("127.0.0.8");
        assertEquals(0, c.login(INITIATOR, null, 0x400000000600L));
        for (int i = 0; i < 12; i++) {
            byte[] bhs = new byte[48];
            bhs[0] = 0x1c; // a vendor-specific opcode: rejected
            bhs[1] = (byte) 0x80;
            ByteBuffer.wrap(bhs).putInt(16, 700 + i);
            c.send(bhs, null);
            assertEquals(0x3f, c.read()[0][0] & 0x3f, "Reject");
        }
        long lines = lines().stream().filter(l -> l.contains("127.0.0.8")).count();
        assertTrue(lines >= 1 && lines <= 5, lines + " lines: " + lines());
    }

    @Test
    void unfinishedLoginsArePerSourceCapped() throws Exception {
        // the default allows 8 connections in login per source address
        for (int i = 0; i < 8; i++) {
            connect("127.0.0.5");
        }
        Thread.sleep(200);
        RawInitiator ninth = connect("127.0.0.5");
        assertThrows(IOException.class, () -> {
            ninth.login(INITIATOR, OPEN_IQN, 0x400000000300L);
        }, "the 9th connection in login from one address is closed");
        // another address is not affected
        assertEquals(0, connect("127.0.0.6").login(INITIATOR, OPEN_IQN, 0x400000000301L));
        // once one of the 8 goes away, the address may log in again
        clients.get(0).close();
        Thread.sleep(300);
        assertEquals(0, connect("127.0.0.5").login(INITIATOR, OPEN_IQN, 0x400000000302L));
    }

    @Test
    void unfinishedLoginsAreCappedInAllAndTimeOut() throws Exception {
        server.close();
        start(IscsiServerOptions.defaults().withLoginLimits(java.time.Duration.ofSeconds(1), 4, 8));
        for (int i = 0; i < 4; i++) {
            connect("127.0.0." + (10 + i));
        }
        Thread.sleep(200);
        RawInitiator fifth = connect("127.0.0.20");
        assertThrows(IOException.class, () -> fifth.login(INITIATOR, OPEN_IQN, 0x400000000400L));
        // the idle ones time out after 1 s, which frees their places
        Thread.sleep(1500);
        assertEquals(-1, clients.get(0).socket.getInputStream().read(), "closed by the login timeout");
        assertEquals(0, connect("127.0.0.21").login(INITIATOR, OPEN_IQN, 0x400000000401L));
    }
}
