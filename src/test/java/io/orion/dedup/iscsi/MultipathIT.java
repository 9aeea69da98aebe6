package io.orion.dedup.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.server.ServerProcess;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Multipath with implicit ALUA against the real server ({@code orion-dedup serve}): the default
 * target on two portal groups, group 1 on 127.0.0.1:P1 and group 2 on 127.0.0.1:P2. Each portal
 * group is a path of its own: SendTargets lists each portal with its own tag, a login through P2
 * gets TargetPortalGroupTag 2 and the target port "...,t,0x0002", the device identification page
 * names relative port and port group 2 there, REPORT TARGET PORT GROUPS lists both groups
 * active/optimized on both paths, the LUN has one NAA, and a reservation made on one path binds the
 * other. (iscsiadm discovery needs iscsid and the iscsi_tcp module, which a container lacks; the
 * raw initiator's text request is the same SendTargets.)
 */
class MultipathIT {

    static final String IQN = ServerProcess.DEFAULT_IQN;
    static final String A = "iqn.2026-11.test:host-a";
    static final String B = "iqn.2026-11.test:host-b";
    static final long ISID_A = 0x23d0000000a1L;
    static final long ISID_B = 0x23d0000000b1L;

    static final byte[] TUR = new byte[6];
    static final byte[] VPD83 = {0x12, 0x01, (byte) 0x83, 0x01, 0x00, 0};
    static final byte[] RTPG = {(byte) 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0};
    static final byte[] RTPG_EXT = {(byte) 0xa3, 0x2a, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0};
    static final byte[] READ10 = {0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0};
    static final byte[] WRITE10 = {0x2a, 0, 0, 0, 0, 8, 0, 0, 1, 0};

    final List<RawInitiator> clients = new ArrayList<>();

    RawInitiator connect(int port) throws IOException {
        RawInitiator c = new RawInitiator(new InetSocketAddress("127.0.0.1", port));
        clients.add(c);
        return c;
    }

    static Map<String, String> keys(String text) {
        Map<String, String> m = new HashMap<>();
        for (String kv : text.split("\0")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                m.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        return m;
    }

    /** A normal session through portal 127.0.0.1:{@code port}, its power-on unit attention cleared. */
    RawInitiator path(int port, String initiator, long isid, int expectTag) throws IOException {
        RawInitiator c = connect(port);
        assertEquals(0, c.login(initiator, IQN, isid), "login through port " + port);
        assertEquals(Integer.toString(expectTag), keys(c.loginAnswer).get("TargetPortalGroupTag"), c.loginAnswer);
        c.scsi(1, TUR, 0, null);
        c.scsi(2, TUR, 0, null);
        assertEquals(0, c.status, "TEST UNIT READY after the unit attention");
        return c;
    }

    /** {type -> 16-bit value} of the target port designators (association 01b) of page 0x83. */
    static Map<Integer, Integer> portDesignators(byte[] page, Map<Integer, byte[]> luNaa) {
        assertEquals(0x83, page[1] & 0xff);
        Map<Integer, Integer> out = new HashMap<>();
        int end = 4 + (((page[2] & 0xff) << 8) | (page[3] & 0xff));
        for (int at = 4; at < end; ) {
            int assoc = (page[at + 1] >> 4) & 3;
            int type = page[at + 1] & 0x0f;
            int len = page[at + 3] & 0xff;
            if (assoc == 1 && (type == 4 || type == 5)) {
                out.put(type, ((page[at + 6] & 0xff) << 8) | (page[at + 7] & 0xff));
            }
            if (assoc == 0 && type == 3) {
                luNaa.put(3, java.util.Arrays.copyOfRange(page, at + 4, at + 4 + len));
            }
            at += 4 + len;
        }
        return out;
    }

    static String senseKey(RawInitiator c) {
        byte[] s = c.sense;
        if (s.length < 14) {
            return "none";
        }
        return (s[0] & 0x7f) == 0x72 ? String.format("%x/%02x/%02x", s[1] & 0xf, s[2] & 0xff, s[3] & 0xff)
                : String.format("%x/%02x/%02x", s[2] & 0xf, s[12] & 0xff, s[13] & 0xff);
    }

    static byte[] prOut(int sa, int type, long key, long sark) {
        return ByteBuffer.allocate(24).putLong(key).putLong(sark).array();
    }

    static byte[] prOutCdb(int sa, int type) {
        return new byte[] {0x5f, (byte) sa, (byte) type, 0, 0, 0, 0, 0, 24, 0};
    }

    @Test
    void twoPortalGroupsAreTwoPathsToOneLun(@TempDir Path dir) throws Exception {
        int p1 = ServerProcess.freePort();
        int p2 = ServerProcess.freePort();
        Path targets = ServerProcess.copyTargetsTwoPortals(dir, p1, p2);
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), targets, p1)) {
            try {
                // discovery through either portal: both portals, each with its own group's tag
                for (int port : new int[] {p1, p2}) {
                    RawInitiator d = connect(port);
                    assertEquals(0, d.login(A, null, 0x23d0000d0000L + port));
                    d.text(10, -1, false, "SendTargets=All\0");
                    String text = new String(d.read()[1], StandardCharsets.UTF_8);
                    assertTrue(text.contains("TargetName=" + IQN + "\0"), text);
                    assertTrue(text.contains("TargetAddress=127.0.0.1:" + p1 + ",1\0"), "through " + port + ": " + text);
                    assertTrue(text.contains("TargetAddress=127.0.0.1:" + p2 + ",2\0"), "through " + port + ": " + text);
                }

                // one initiator, one ISID, two portal groups: two sessions (two I_T nexuses), not a
                // reinstatement of the first by the second
                RawInitiator a1 = path(p1, A, ISID_A, 1);
                RawInitiator a2 = path(p2, A, ISID_A, 2);
                assertArrayEquals(new byte[] {7}, a1.ping(new byte[] {7}, 99), "path 1 still up after path 2 logged in");

                Map<Integer, byte[]> naa1 = new HashMap<>();
                Map<Integer, byte[]> naa2 = new HashMap<>();
                Map<Integer, Integer> d1 = portDesignators(a1.scsi(20, VPD83, 256, null), naa1);
                Map<Integer, Integer> d2 = portDesignators(a2.scsi(20, VPD83, 256, null), naa2);
                assertEquals(Map.of(4, 1, 5, 1), d1, "relative target port and target port group through P1");
                assertEquals(Map.of(4, 2, 5, 2), d2, "relative target port and target port group through P2");
                assertNotNull(naa1.get(3));
                assertArrayEquals(naa1.get(3), naa2.get(3), "one logical unit: the same NAA on both paths");
                assertEquals(0x10, a2.scsi(21, new byte[] {0x12, 0, 0, 0, 36, 0}, 36, null)[5] & 0x30, "TPGS 01b");

                for (RawInitiator c : List.of(a1, a2)) {
                    for (byte[] cdb : List.of(RTPG, RTPG_EXT)) {
                        ByteBuffer r = ByteBuffer.wrap(c.scsi(30, cdb, 0x1000, null));
                        assertEquals(0, c.status, senseKey(c));
                        int header = cdb == RTPG ? 4 : 8;
                        assertEquals(header + 24, r.remaining());
                        assertEquals(header - 4 + 24, r.getInt(0), "return data length");
                        for (int g = 0; g < 2; g++) {
                            int at = header + 12 * g;
                            assertEquals(0, r.get(at) & 0x0f, "active/optimized");
                            assertEquals(g + 1, r.getShort(at + 2), "target port group");
                            assertEquals(1, r.get(at + 7), "one port");
                            assertEquals(g + 1, r.getShort(at + 10), "its relative target port");
                        }
                    }
                }

                // a persistent reservation made through P1 binds the logical unit on P2
                RawInitiator b2 = path(p2, B, ISID_B, 2);
                a1.scsi(40, prOutCdb(0, 0), 0, prOut(0, 0, 0, 0xa1));
                assertEquals(0, a1.status, "REGISTER " + senseKey(a1));
                a1.scsi(41, prOutCdb(1, 1), 0, prOut(1, 1, 0xa1, 0));
                assertEquals(0, a1.status, "RESERVE write exclusive " + senseKey(a1));
                b2.scsi(42, WRITE10, 0, new byte[512]);
                assertEquals(0x18, b2.status, "another initiator through P2 may not write");
                b2.scsi(43, READ10, 512, null);
                assertEquals(0, b2.status, "but may read under WRITE EXCLUSIVE");
                a2.scsi(44, WRITE10, 0, new byte[512]);
                assertEquals(0x18, a2.status, "the holder's other path is another, unregistered I_T nexus");
                a1.scsi(45, WRITE10, 0, new byte[512]);
                assertEquals(0, a1.status, "the holder writes " + senseKey(a1));

                // libiscsi's view of the two paths: discovery, TPGS and the port name of each path
                for (int port : new int[] {p1, p2}) {
                    IscsiServerIT.Run ls = IscsiServerIT.run(60, "iscsi-ls", "iscsi://127.0.0.1:" + port);
                    assertEquals(0, ls.exit(), ls.output());
                    assertTrue(ls.output().contains("Target:" + IQN + " Portal:127.0.0.1:" + p1 + ",1"), ls.output());
                    assertTrue(ls.output().contains("Target:" + IQN + " Portal:127.0.0.1:" + p2 + ",2"), ls.output());
                    String url = server.url(0, port);
                    IscsiServerIT.Run inq = IscsiServerIT.run(60, "iscsi-inq", url);
                    assertEquals(0, inq.exit(), inq.output());
                    assertTrue(inq.output().contains("TPGS:1"), inq.output());
                    IscsiServerIT.Run vpd = IscsiServerIT.run(60, "iscsi-inq", "-e", "1", "-c", "131", url);
                    assertEquals(0, vpd.exit(), vpd.output());
                    String tag = port == p1 ? "0x0001" : "0x0002";
                    assertTrue(vpd.output().contains("Designator:[" + IQN + ",t," + tag + "]"), vpd.output());
                    assertTrue(vpd.output().contains("TARGET_PORT_GROUP"), vpd.output());
                }
                assertTrue(server.alive(), server.output());
                assertFalse(server.output().contains("session reinstatement"), "no path replaced another:\n"
                        + server.output());
            } finally {
                for (RawInitiator c : clients) {
                    c.close();
                }
                TimeUnit.MILLISECONDS.sleep(100);
            }
        }
    }
}
