package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.iscsi.RawScsiSession;
import io.orion.dedup.iscsi.RawScsiSession.Result;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Persistent reservations survive the server (SPC-4 §5.14.5), through the real server and a raw
 * initiator: initiator X registers (APTPL, ALL_TG_PT) and reserves WRITE EXCLUSIVE on a dedup LUN
 * and a file LUN; the server is killed (kill -9) and started again; READ FULL STATUS still shows
 * the registration and the reservation, through portal group 1 and through portal group 2 (another
 * target port), X writes through both, initiator Y gets RESERVATION CONFLICT through both. A
 * registration made with APTPL 0 is gone after the restart; a RAM LUN refuses APTPL 1. The state
 * belongs to the volume: LUN 1 re-created over a new volume has none, the old volume attached
 * again brings it back, a destroyed volume's state does not pass to a new volume of its name.
 */
class ReservationPersistenceIT {

    private static final String IQN = "iqn.2026-11.io.orion:pr";
    private static final String X = "iqn.2026-11.test:cluster-node-x";
    private static final String Y = "iqn.2026-11.test:cluster-node-y";
    private static final long ISID_X = 0x400001370001L;
    private static final long ISID_Y = 0x400001370002L;
    private static final int DEDUP = 0;
    private static final int FILE = 1;
    private static final int RAM = 2;
    private static final int VOLATILE = 3;
    private static final int GOOD = 0;
    private static final int CHECK = 2;
    private static final int CONFLICT = 0x18;

    static byte[] prOut(int sa, int type, int len) {
        return new byte[] {0x5f, (byte) sa, (byte) type, 0, 0, 0, 0, 0, (byte) len, 0};
    }

    static byte[] params(long key, long sark, int flags) {
        ByteBuffer p = ByteBuffer.allocate(24).putLong(key).putLong(sark);
        p.put(20, (byte) flags);
        return p.array();
    }

    static final byte[] PR_IN_KEYS = {0x5e, 0, 0, 0, 0, 0, 0, 0x10, 0, 0};
    static final byte[] PR_IN_FULL = {0x5e, 3, 0, 0, 0, 0, 0, 0x10, 0, 0};
    static final byte[] PR_IN_CAPS = {0x5e, 2, 0, 0, 0, 0, 0, 0, 8, 0};
    static final byte[] WRITE = {0x2a, 0, 0, 0, 0, 8, 0, 0, 1, 0};

    static Result write(RawScsiSession s, int lun) throws Exception {
        return s.run(lun, WRITE, new byte[512], 0);
    }

    static void assertStatus(int status, Result r, String what) {
        assertEquals(status, r.status(), what + ": sense " + r.sense());
    }

    @Test
    void reservationsSurviveRestartAndPathChange(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Path targets = Files.createDirectories(dir.resolve("targets"));
        Path config = AdminTools.config(dir, 0);
        int port = ServerProcess.freePort();
        int port2 = ServerProcess.freePort();
        Files.writeString(targets.resolve("pr.toml"), "iqn = \"" + IQN + "\"\n\n"
                + "[attributes]\nauthentication = false\ndemo_mode = true\n\n"
                + "[[portal_group]]\ntag = 1\nportals = []\n\n"
                + "[[portal_group]]\ntag = 2\nportals = [\"127.0.0.1:" + port2 + "\"]\n\n"
                + "[[lun]]\nid = 0\nvolume = \"pr-dedup\"\nsize = \"16MiB\"\n\n"
                + "[[lun]]\nid = 1\nvolume = \"pr-file\"\nsize = \"16MiB\"\nbacking = \"file\"\n\n"
                + "[[lun]]\nid = 2\nvolume = \"pr-ram\"\nsize = \"16MiB\"\nbacking = \"ram\"\n\n"
                + "[[lun]]\nid = 3\nvolume = \"pr-volatile\"\nsize = \"16MiB\"\n");
        InetSocketAddress group1 = new InetSocketAddress("127.0.0.1", port);
        InetSocketAddress group2 = new InetSocketAddress("127.0.0.1", port2);

        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            try (RawScsiSession x = RawScsiSession.login(group1, X, IQN, ISID_X);
                 RawScsiSession y = RawScsiSession.login(group1, Y, IQN, ISID_Y)) {
                for (int lun = 0; lun < 4; lun++) {
                    x.clearAttentions(lun);
                    y.clearAttentions(lun);
                }
                for (int lun : new int[] {DEDUP, FILE}) {
                    assertEquals(0x01, x.run(lun, PR_IN_CAPS, null, 8).data()[2] & 0x01, "PTPL_C on LUN " + lun);
                    // REGISTER with ALL_TG_PT and APTPL, then RESERVE WRITE EXCLUSIVE
                    assertStatus(GOOD, x.run(lun, prOut(0, 0, 24), params(0, 0xA1, 0x05), 0), "register");
                    assertStatus(GOOD, x.run(lun, prOut(1, 1, 24), params(0xA1, 0, 0), 0), "reserve");
                    assertStatus(CONFLICT, write(y, lun), "Y writes under X's reservation");
                    assertStatus(GOOD, write(x, lun), "X writes");
                }
                // APTPL 0: memory only
                assertStatus(GOOD, x.run(VOLATILE, prOut(0, 0, 24), params(0, 0xB1, 0), 0), "register");
                assertStatus(GOOD, x.run(VOLATILE, prOut(1, 1, 24), params(0xB1, 0, 0), 0), "reserve");
                assertStatus(CONFLICT, write(y, VOLATILE), "Y before the restart");
                // a RAM LUN cannot persist: PTPL_C 0 and APTPL 1 refused
                assertEquals(0, x.run(RAM, PR_IN_CAPS, null, 8).data()[2] & 0x01, "PTPL_C on the RAM LUN");
                Result ram = x.run(RAM, prOut(0, 0, 24), params(0, 0xC1, 0x01), 0);
                assertEquals("5/26/00", ram.sense(), "APTPL on a RAM LUN");
            }
            server.kill(); // no shutdown: what was acknowledged must already be on disk
        }

        try (ServerProcess server = ServerProcess.start(data, targets, config, port)) {
            for (InetSocketAddress portal : new InetSocketAddress[] {group1, group2}) {
                try (RawScsiSession x = RawScsiSession.login(portal, X, IQN, ISID_X);
                     RawScsiSession y = RawScsiSession.login(portal, Y, IQN, ISID_Y)) {
                    String path = portal == group1 ? "portal group 1" : "portal group 2";
                    for (int lun = 0; lun < 4; lun++) {
                        x.clearAttentions(lun);
                        y.clearAttentions(lun);
                    }
                    for (int lun : new int[] {DEDUP, FILE}) {
                        Result full = y.run(lun, PR_IN_FULL, null, 4096);
                        assertStatus(GOOD, full, "READ FULL STATUS");
                        ByteBuffer f = ByteBuffer.wrap(full.data());
                        String at = "LUN " + lun + " through " + path;
                        assertEquals(24 + f.getInt(8 + 20), f.getInt(4), at + ": one registration");
                        assertEquals(0xA1, f.getLong(8), at + ": key");
                        assertEquals(0x03, f.get(8 + 12), at + ": ALL_TG_PT and R_HOLDER");
                        assertEquals(1, f.get(8 + 13), at + ": WRITE EXCLUSIVE");
                        String tid = new String(full.data(), 8 + 28, f.getInt(8 + 20) - 4, StandardCharsets.UTF_8);
                        assertTrue(tid.startsWith(X + ",i,0x400001370001"), at + ": TransportID " + tid);
                        assertEquals(1, x.run(lun, PR_IN_CAPS, null, 8).data()[3] & 0x01, at + ": PTPL_A");
                        assertStatus(CONFLICT, write(y, lun), at + ": Y writes");
                        assertStatus(GOOD, write(x, lun), at + ": X writes");
                    }
                    Result keys = y.run(VOLATILE, PR_IN_KEYS, null, 4096);
                    assertEquals(0, ByteBuffer.wrap(keys.data()).getInt(4), "APTPL 0: no registration after the restart");
                    assertStatus(GOOD, write(y, VOLATILE), "APTPL 0: no reservation after the restart");
                }
            }
            // the reservation is released and persistence turned off: a restart finds nothing
            try (RawScsiSession x = RawScsiSession.login(group2, X, IQN, ISID_X)) {
                x.clearAttentions(DEDUP);
                assertStatus(GOOD, x.run(DEDUP, prOut(0, 0, 24), params(0xA1, 0, 0), 0), "unregister");
            }
            server.stop(java.time.Duration.ofSeconds(30));
        }
        try (ServerProcess server = ServerProcess.start(data, targets, config, port);
             RawScsiSession y = RawScsiSession.login(group1, Y, IQN, ISID_Y)) {
            y.clearAttentions(DEDUP);
            y.clearAttentions(FILE);
            assertEquals(0, ByteBuffer.wrap(y.run(DEDUP, PR_IN_KEYS, null, 4096).data()).getInt(4));
            assertStatus(GOOD, write(y, DEDUP), "after unregistering");
            assertStatus(CONFLICT, write(y, FILE), "the file LUN still reserved");

            // reservations belong to the volume, not to the LUN number
            AdminTools.cli(server, "lun", "delete", IQN, "1", "--force").assertOk();
            AdminTools.cli(server, "lun", "create", IQN, "--lun", "1", "--size", "16MiB", "--backing", "file")
                    .assertOk();
            y.clearAttentions(FILE);
            assertStatus(GOOD, write(y, FILE), "LUN 1 over a new volume: no reservation");
            AdminTools.cli(server, "lun", "delete", IQN, "1", "--destroy", "--force").assertOk();
            AdminTools.cli(server, "lun", "create", IQN, "--lun", "1", "--attach", "--volume", "pr-file",
                    "--backing", "file").assertOk();
            y.clearAttentions(FILE);
            assertStatus(CONFLICT, write(y, FILE), "the reserved volume attached again");
            AdminTools.cli(server, "lun", "delete", IQN, "1", "--destroy", "--force").assertOk();
            AdminTools.cli(server, "lun", "create", IQN, "--lun", "1", "--volume", "pr-file", "--size", "16MiB",
                    "--backing", "file").assertOk();
            y.clearAttentions(FILE);
            assertStatus(GOOD, write(y, FILE), "a destroyed volume's reservations do not pass to its namesake");
            assertTrue(!Files.exists(data.resolve("reservations/pr-file.pr")), "its file is gone");
        }
    }
}
