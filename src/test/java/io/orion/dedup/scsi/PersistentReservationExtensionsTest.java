package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.A;
import static io.orion.dedup.scsi.ScsiHarness.B;
import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ScsiHarness.bytes;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.orion.dedup.blockdev.OutOfSpaceException;
import io.orion.dedup.blockdev.RamBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * ALL_TG_PT, SPEC_I_PT, REGISTER AND MOVE and APTPL (SPC-4 §5.14, §6.16) through the command
 * layer, as an initiator sees them: status, sense, the PR IN data and which I_T nexus gets which
 * unit attention; APTPL state through a reopen of the store, and a store that cannot save.
 */
class PersistentReservationExtensionsTest {

    static final String TARGET = "iqn.2026-11.io.orion:t";
    /** A's initiator port through a second target port (portal group 2). */
    static final Nexus A2 = Nexus.iscsi("iqn.2026-11.test:a", 0x23d000000001L, TARGET, 2);
    static final Nexus C = Nexus.iscsi("iqn.2026-11.test:c", 0x23d000000003L, TARGET, 1);
    /** Never registers: reads the PR state without unit attentions in the way. */
    static final Nexus D = Nexus.iscsi("iqn.2026-11.test:d", 0x23d000000004L, TARGET, 1);

    /** A store in memory that can be told to fail; "reopening" reads what was saved. */
    static final class MemoryStore implements PrStore {
        byte[] image;
        IOException failure;
        int saves;

        @Override
        public boolean persistent() {
            return true;
        }

        @Override
        public byte[] load() {
            return image == null ? null : image.clone();
        }

        @Override
        public void save(byte[] img) throws IOException {
            if (failure != null) {
                throw failure;
            }
            saves++;
            image = img == null ? null : img.clone();
        }
    }

    final MemoryStore store = new MemoryStore();
    ScsiTargetService target;
    ScsiHarness h;

    @BeforeEach
    void setUp() throws IOException {
        open();
    }

    void open() throws IOException {
        target = new ScsiTargetService(TARGET, null);
        target.addLun(0, new RamBlockDevice(512, 1024), LunOptions.defaults(), store);
        h = new ScsiHarness(target);
        for (Nexus n : new Nexus[] {A, A2, B, C, D}) {
            h.login(n, 0);
        }
    }

    /** A restart: the LU is created again over the same store. */
    void reopen() throws IOException {
        target.close();
        open();
    }

    @AfterEach
    void tearDown() {
        target.close();
    }

    static byte[] params(long key, long sark, int flags) {
        ByteBuffer p = ByteBuffer.allocate(24).putLong(key).putLong(sark);
        p.put(20, (byte) flags);
        return p.array();
    }

    ScsiResponse out(Nexus n, int sa, int type, byte[] p) {
        int len = p.length;
        return h.run(n, 0, cdb(0x5f, sa, type, 0, 0, len >>> 24, len >>> 16, len >>> 8, len, 0), p, len);
    }

    ScsiResponse out(Nexus n, int sa, int type, long key, long sark) {
        return out(n, sa, type, params(key, sark, 0));
    }

    ByteBuffer in(Nexus n, int sa) {
        return ByteBuffer.wrap(bytes(h.run(n, cdb(0x5e, sa, 0, 0, 0, 0, 0, 0x10, 0, 0))));
    }

    int writeStatus(Nexus n) {
        return h.write(n, cdb(0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0), new byte[512]).status();
    }

    int readStatus(Nexus n) {
        return h.run(n, cdb(0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0)).status();
    }

    static byte[] transportId(String port, int format) {
        byte[] name = port.getBytes(StandardCharsets.UTF_8);
        int len = Math.max(20, (name.length + 1 + 3) & ~3);
        byte[] t = new byte[4 + len];
        t[0] = (byte) (format << 6 | 5);
        t[2] = (byte) (len >> 8);
        t[3] = (byte) len;
        System.arraycopy(name, 0, t, 4, name.length);
        return t;
    }

    static byte[] specIPt(long sark, int flags, byte[]... tids) {
        int n = 0;
        for (byte[] t : tids) {
            n += t.length;
        }
        ByteBuffer p = ByteBuffer.allocate(28 + n).putLong(0).putLong(sark);
        p.put(20, (byte) (0x08 | flags));
        p.putInt(24, n);
        p.position(28);
        for (byte[] t : tids) {
            p.put(t);
        }
        return p.array();
    }

    static byte[] move(long key, long sark, int flags, int rtp, byte[] tid) {
        ByteBuffer p = ByteBuffer.allocate(24 + tid.length).putLong(key).putLong(sark);
        p.put(17, (byte) flags);
        p.putShort(18, (short) rtp);
        p.putInt(20, tid.length);
        p.position(24);
        p.put(tid);
        return p.array();
    }

    int generation() {
        return in(D, 0).getInt(0);
    }

    int keys() {
        return in(D, 0).getInt(4) / 8;
    }

    // ---- ALL_TG_PT ----------------------------------------------------------------------------

    @Test
    void allTargetPortsRegistersTheInitiatorPortThroughEveryTargetPort() {
        assertGood(out(A, 0, 0, params(0, 0xa, 0x04)));
        assertEquals(1, keys(), "one registration");
        // through portal group 2 the same initiator port is registered: it may reserve with the key
        assertGood(out(A2, 1, 3, 0xa, 0));
        assertGood(h.run(A, cdb(0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0)));
        assertEquals(ScsiResponse.GOOD, writeStatus(A), "the holder through portal group 1");
        assertEquals(ScsiResponse.GOOD, writeStatus(A2), "the holder through portal group 2");
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, writeStatus(B));
        ByteBuffer full = in(A, 3);
        assertEquals(0x03, full.get(8 + 12), "ALL_TG_PT and R_HOLDER");
        assertEquals(3, full.get(8 + 13));
        assertEquals(0x45, full.get(8 + 24) & 0xff, "TransportID format 01b, iSCSI");
        // unregistering through either port removes it for all ports; the reservation goes with it
        assertGood(out(A2, 0, 0, 0xa, 0));
        assertEquals(0, keys());
        assertEquals(ScsiResponse.GOOD, writeStatus(B));
    }

    @Test
    void withoutAllTargetPortsAnotherTargetPortIsAnotherNexus() {
        assertGood(out(A, 0, 0, 0, 0xa));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, out(A2, 1, 3, 0xa, 0).status());
        assertGood(out(A2, 0, 0, 0, 0xa));
        assertEquals(2, keys());
        ByteBuffer full = in(A, 3);
        assertEquals(0, full.get(8 + 12), "ALL_TG_PT 0");
        assertEquals(1, full.getShort(8 + 18), "relative target port of the first");
    }

    @Test
    void preemptingAnAllTargetPortsRegistrationTellsEveryPathOfIt() {
        assertGood(out(A, 0, 0, params(0, 0xa, 0x04)));
        assertGood(out(B, 0, 0, 0, 0xb));
        int gen = generation();
        assertGood(out(B, 4, 3, 0xb, 0xa));
        assertEquals(gen + 1, generation());
        assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x05);
        assertSense(h.run(A2, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x05);
        assertGood(h.run(C, cdb(0, 0, 0, 0, 0, 0)));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, out(A2, 1, 3, 0xa, 0).status(), "no longer registered");
        assertEquals(1, keys());
    }

    // ---- SPEC_I_PT ----------------------------------------------------------------------------

    @Test
    void specifiedInitiatorPortsAreRegisteredWithTheCommand() {
        int gen = generation();
        assertGood(out(A, 0, 0, specIPt(0x77, 0, transportId(B.initiatorPort(), 1),
                transportId("iqn.2026-11.test:c", 0))));
        assertEquals(gen + 1, generation(), "one command, one increment");
        ByteBuffer keys = in(A, 0);
        assertEquals(3, keys.getInt(4) / 8);
        assertEquals(0x77, keys.getLong(8));
        assertEquals(0x77, keys.getLong(16));
        assertEquals(0x77, keys.getLong(24));
        // B and C (by device name: any of its ports) are registered with the key
        assertGood(out(C, 1, 5, 0x77, 0));
        assertEquals(ScsiResponse.GOOD, writeStatus(B), "registrants may write under WE_RO");
        // not through another target port without ALL_TG_PT
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, writeStatus(A2));
        ByteBuffer full = in(A, 3);
        int off = 8;
        int[] formats = new int[3];
        for (int i = 0; i < 3; i++) {
            formats[i] = full.get(off + 24) & 0xff;
            off += 24 + full.getInt(off + 20);
        }
        assertArrayEquals(new int[] {0x45, 0x45, 0x05}, formats, "A and B by port (01b), C by name (00b)");
    }

    @Test
    void specifiedInitiatorPortsWithAllTargetPorts() {
        assertGood(out(B, 0, 0, specIPt(0x77, 0x04, transportId(A.initiatorPort(), 1))));
        assertGood(out(A2, 1, 3, 0x77, 0));
        assertEquals(ScsiResponse.GOOD, writeStatus(A));
    }

    @Test
    void specifiedInitiatorPortsRefusals() {
        assertGood(out(C, 0, 0, 0, 0xc));
        int gen = generation();
        // a TransportID of a registered I_T nexus: nothing is registered
        assertSense(out(A, 0, 0, specIPt(0x77, 0, transportId(B.initiatorPort(), 1),
                transportId(C.initiatorPort(), 1))), 0x5, 0x26, 0x00);
        // not iSCSI (protocol 0: Fibre Channel)
        byte[] fc = transportId(B.initiatorPort(), 1);
        fc[0] = 0x40;
        assertSense(out(A, 0, 0, specIPt(0x77, 0, fc)), 0x5, 0x26, 0x00);
        // format 01b without an ISID
        assertSense(out(A, 0, 0, specIPt(0x77, 0, transportId("iqn.2026-11.test:b", 1))), 0x5, 0x26, 0x00);
        // the list is longer than the parameter list says
        byte[] p = specIPt(0x77, 0, transportId(B.initiatorPort(), 1));
        ByteBuffer.wrap(p).putInt(24, 200);
        assertSense(out(A, 0, 0, p), 0x5, 0x1a, 0x00);
        // SPEC_I_PT is for REGISTER only
        assertSense(out(A, 6, 0, specIPt(0x77, 0, transportId(B.initiatorPort(), 1))), 0x5, 0x26, 0x00);
        // from a registered I_T nexus
        byte[] registered = specIPt(0x77, 0, transportId(B.initiatorPort(), 1));
        ByteBuffer.wrap(registered).putLong(0, 0xc);
        assertSense(out(C, 0, 0, registered), 0x5, 0x24, 0x00);
        assertEquals(gen, generation());
        assertEquals(1, keys());
    }

    // ---- REGISTER AND MOVE --------------------------------------------------------------------

    @Test
    void registerAndMoveHandsTheReservationToAnotherNexus() {
        assertGood(out(A, 0, 0, 0, 0xa));
        assertGood(out(A, 1, 3, 0xa, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, readStatus(B));
        int gen = generation();
        // the CDB's TYPE is ignored: the reservation keeps its type
        assertGood(out(A, 7, 1, move(0xa, 0xb, 0, 1, transportId(B.initiatorPort(), 1))));
        assertEquals(gen + 1, generation());
        ByteBuffer res = in(A, 1);
        assertEquals(0xb, res.getLong(8), "the destination's key");
        assertEquals(3, res.get(21));
        assertGood(h.run(B, cdb(0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0)));
        assertEquals(ScsiResponse.GOOD, writeStatus(B));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, readStatus(A), "A is registered but no longer the holder");
        assertEquals(2, keys());
        // B moves it on to C's port through target port 1 and unregisters itself (UNREG)
        assertGood(out(B, 7, 0, move(0xb, 0xc, 0x02, 1, transportId(C.initiatorPort(), 1))));
        assertEquals(gen + 2, generation());
        ByteBuffer keys = in(A, 0);
        assertEquals(2, keys.getInt(4) / 8);
        assertEquals(0xa, keys.getLong(8));
        assertEquals(0xc, keys.getLong(16));
        assertEquals(ScsiResponse.GOOD, writeStatus(C));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, readStatus(B));
    }

    @Test
    void registerAndMoveToAnotherTargetPort() {
        assertGood(out(A, 0, 0, 0, 0xa));
        assertGood(out(A, 1, 1, 0xa, 0));
        assertGood(out(A, 7, 0, move(0xa, 0xa2, 0x02, 2, transportId(A2.initiatorPort(), 1))));
        assertEquals(ScsiResponse.GOOD, writeStatus(A2));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, writeStatus(A), "port 1 is no longer registered");
        ByteBuffer full = in(A, 3);
        assertEquals(2, full.getShort(8 + 18), "relative target port 2");
        assertEquals(0x01, full.get(8 + 12), "R_HOLDER");
    }

    @Test
    void registerAndMoveRefusals() {
        byte[] toB = transportId(B.initiatorPort(), 1);
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, out(A, 7, 0, move(0, 0xb, 0, 1, toB)).status(),
                "unregistered");
        assertGood(out(A, 0, 0, 0, 0xa));
        assertSense(out(A, 7, 0, move(0xa, 0xb, 0, 1, toB)), 0x5, 0x24, 0x00); // no reservation
        assertGood(out(C, 0, 0, 0, 0xc));
        assertGood(out(C, 1, 3, 0xc, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, out(A, 7, 0, move(0xa, 0xb, 0, 1, toB)).status(),
                "not the holder");
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, out(C, 7, 0, move(0xbad, 0xb, 0, 1, toB)).status(),
                "wrong key");
        assertSense(out(C, 7, 0, move(0xc, 0, 0, 1, toB)), 0x5, 0x26, 0x00); // SARK 0
        assertSense(out(C, 7, 0, move(0xc, 0xb, 0, 1, transportId(C.initiatorPort(), 1))), 0x5, 0x26, 0x00);
        assertSense(out(C, 7, 0, move(0xc, 0xb, 0, 0, toB)), 0x5, 0x26, 0x00); // relative port 0
        assertGood(out(C, 2, 3, 0xc, 0));
        assertGood(out(C, 1, 7, 0xc, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, out(C, 7, 0, move(0xc, 0xb, 0, 1, toB)).status(),
                "all-registrants reservations do not move");
        assertEquals(2, keys());
    }

    // ---- APTPL ------------------------------------------------------------------------------

    @Test
    void aptplStateSurvivesAReopenOfTheStore() throws IOException {
        ByteBuffer caps = in(A, 2);
        assertEquals(0x1d, caps.get(2) & 0xff, "CRH, SIP_C, ATP_C, PTPL_C");
        assertEquals(0, caps.get(3) & 0x01, "PTPL_A 0");
        assertGood(out(A, 0, 0, params(0, 0xa, 0x01 | 0x04)));
        assertGood(out(B, 0, 0, params(0, 0xb, 0x01)));
        assertGood(out(A, 1, 3, 0xa, 0));
        int gen = generation();
        assertEquals(1, in(A, 2).get(3) & 0x01, "PTPL_A 1");

        reopen();
        assertEquals(gen, generation());
        ByteBuffer keys = in(A, 0);
        assertEquals(2, keys.getInt(4) / 8);
        assertEquals(0xa, keys.getLong(8));
        ByteBuffer res = in(A, 1);
        assertEquals(0xa, res.getLong(8));
        assertEquals(3, res.get(21));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, writeStatus(C));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, readStatus(B));
        assertEquals(ScsiResponse.GOOD, writeStatus(A2), "ALL_TG_PT survives too");
        assertEquals(1, in(A, 2).get(3) & 0x01, "PTPL_A 1 after the restart");

        // the last REGISTER with APTPL 0 turns persistence off: after a restart everything is gone
        assertGood(out(B, 0, 0, params(0xb, 0xbb, 0)));
        assertNull(store.image, "the saved state is removed");
        reopen();
        assertEquals(0, keys());
        assertEquals(8, in(A, 1).remaining(), "no reservation");
        assertEquals(ScsiResponse.GOOD, writeStatus(C));
    }

    @Test
    void withoutAptplNothingIsSavedAndARestartForgets() throws IOException {
        assertGood(out(A, 0, 0, 0, 0xa));
        assertGood(out(A, 1, 3, 0xa, 0));
        assertEquals(0, store.saves);
        reopen();
        assertEquals(0, keys());
        assertEquals(ScsiResponse.GOOD, writeStatus(B));
    }

    @Test
    void aFailedSaveFailsTheCommandAndChangesNothing() {
        assertGood(out(A, 0, 0, params(0, 0xa, 0x01)));
        int gen = generation();
        store.failure = new IOException("disk gone");
        assertSense(out(B, 0, 0, params(0, 0xb, 0x01)), 0x4, 0x44, 0x00);
        assertSense(out(A, 1, 3, 0xa, 0), 0x4, 0x44, 0x00);
        store.failure = new OutOfSpaceException("pool full");
        assertSense(out(A, 0, 0, params(0xa, 0xaa, 0x01)), 0x5, 0x55, 0x04);
        assertEquals(gen, generation());
        assertEquals(1, keys());
        assertEquals(0xa, in(A, 0).getLong(8));
        assertEquals(8, in(A, 1).remaining(), "no reservation");
        assertEquals(ScsiResponse.GOOD, writeStatus(B));
        store.failure = null;
        assertGood(out(A, 1, 3, 0xa, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, writeStatus(B));
    }

    @Test
    void aLogicalUnitThatCannotPersistRefusesAptpl() {
        target.addLun(1, new RamBlockDevice(512, 64), LunOptions.defaults());
        h.run(A, 1, cdb(0, 0, 0, 0, 0, 0), null, 0);
        ByteBuffer caps = ByteBuffer.wrap(bytes(h.run(A, 1, cdb(0x5e, 2, 0, 0, 0, 0, 0, 0, 8, 0), null, 8)));
        assertEquals(0x1c, caps.get(2) & 0xff, "PTPL_C 0");
        byte[] p = params(0, 0xa, 0x01);
        assertSense(h.run(A, 1, cdb(0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0), p, 24), 0x5, 0x26, 0x00);
        p = params(0, 0xa, 0);
        assertGood(h.run(A, 1, cdb(0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0), p, 24));
    }

    @Test
    void aDamagedSavedStateKeepsTheLogicalUnitOut() {
        store.image = new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        target.close();
        target = new ScsiTargetService(TARGET, null);
        org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                () -> target.addLun(0, new RamBlockDevice(512, 64), LunOptions.defaults(), store));
        assertEquals(java.util.Set.of(), target.luns());
    }
}
