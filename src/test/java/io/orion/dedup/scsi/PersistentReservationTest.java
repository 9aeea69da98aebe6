package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.A;
import static io.orion.dedup.scsi.ScsiHarness.B;
import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ScsiHarness.bytes;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.orion.dedup.blockdev.RamBlockDevice;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PersistentReservationTest {

    ScsiTargetService target;
    ScsiHarness h;

    @BeforeEach
    void setUp() {
        target = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        target.addLun(0, new RamBlockDevice(512, 1024), LunOptions.defaults());
        h = new ScsiHarness(target);
        h.login(A, 0);
        h.login(B, 0);
    }

    @AfterEach
    void tearDown() {
        target.close();
    }

    ScsiResponse out(Nexus n, int sa, int type, long key, long sark) {
        ByteBuffer p = ByteBuffer.allocate(24).putLong(key).putLong(sark);
        return h.run(n, 0, cdb(0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0), p.array(), 24);
    }

    ByteBuffer in(Nexus n, int sa, int alloc) {
        return ByteBuffer.wrap(bytes(h.run(n, cdb(0x5e, sa, 0, 0, 0, 0, 0, alloc >> 8, alloc, 0))));
    }

    static final byte[] READ = cdb(0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0);
    static final byte[] WRITE = cdb(0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0);

    int status(Nexus n, byte[] cdb) {
        return cdb[0] == 0x2a ? h.write(n, cdb, new byte[512]).status() : h.run(n, cdb).status();
    }

    @Test
    void registerReadKeysAndGeneration() {
        assertGood(out(A, 6, 0, 0, 0x1111));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, out(B, 0, 0, 0x99, 0x2222).status());
        assertGood(out(B, 0, 0, 0, 0x2222));
        ByteBuffer keys = in(A, 0, 4096);
        assertEquals(2, keys.getInt(0));
        assertEquals(16, keys.getInt(4));
        assertEquals(0x1111, keys.getLong(8));
        assertEquals(0x2222, keys.getLong(16));
        // truncated: the additional length still says 16
        ByteBuffer trunc = in(A, 0, 8);
        assertEquals(8, trunc.remaining());
        assertEquals(16, trunc.getInt(4));
        // SCSI-2 RESERVE conflicts while registrations exist
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, h.run(A, cdb(0x16, 0, 0, 0, 0, 0)).status());
        assertGood(out(A, 0, 0, 0x1111, 0));
        assertGood(out(B, 6, 0, 0, 0));
        assertEquals(0, in(A, 0, 4096).getInt(4));
    }

    @Test
    void serviceActionRange() {
        for (int sa = 0; sa < 4; sa++) {
            assertGood(h.run(A, cdb(0x5e, sa, 0, 0, 0, 0, 0, 0x40, 0, 0)));
        }
        for (int sa = 4; sa < 0x20; sa++) {
            assertSense(h.run(A, cdb(0x5e, sa, 0, 0, 0, 0, 0, 0x40, 0, 0)), 0x5, 0x24, 0);
        }
        ByteBuffer caps = in(A, 2, 8);
        assertEquals(8, caps.getShort(0));
        assertEquals(0x80, caps.get(3) & 0x80);
    }

    @ParameterizedTest
    @CsvSource({
        // type, registered B read, registered B write, unregistered B read, unregistered B write
        "3, false, false, false, false",
        "1, true, false, true, false",
        "6, true, true, false, false",
        "5, true, true, true, false",
        "8, true, true, false, false",
        "7, true, true, true, false"})
    void accessByReservationType(int type, boolean regRead, boolean regWrite, boolean unregRead,
                                 boolean unregWrite) {
        assertGood(out(A, 6, 0, 0, 0xa));
        assertGood(out(B, 6, 0, 0, 0xb));
        assertGood(out(A, 1, type, 0xa, 0));
        ByteBuffer res = in(A, 1, 64);
        assertEquals(16, res.getInt(4));
        assertEquals(type >= 7 ? 0 : 0xa, res.getLong(8));
        assertEquals(type, res.get(21));
        assertGood(h.run(A, READ));
        assertEquals(ScsiResponse.GOOD, status(A, WRITE));
        assertEquals(regRead, status(B, READ) == ScsiResponse.GOOD);
        assertEquals(regWrite, status(B, WRITE) == ScsiResponse.GOOD);
        assertGood(out(B, 0, 0, 0xb, 0));
        assertEquals(unregRead, status(B, READ) == ScsiResponse.GOOD);
        assertEquals(unregWrite, status(B, WRITE) == ScsiResponse.GOOD);
        assertGood(out(A, 2, type, 0xa, 0));
        assertEquals(8, in(A, 1, 64).remaining());
        assertGood(out(A, 0, 0, 0xa, 0));
    }

    @Test
    void holderUnregisteringReleasesUnlessAllRegistrants() {
        assertGood(out(A, 6, 0, 0, 0xa));
        assertGood(out(B, 6, 0, 0, 0xb));
        assertGood(out(A, 1, 6, 0xa, 0));
        assertGood(out(A, 6, 0, 0, 0));
        assertEquals(0, in(A, 1, 64).getInt(4));
        assertSense(h.run(B, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x04);
        assertGood(out(A, 6, 0, 0, 0xa));
        assertGood(out(A, 1, 8, 0xa, 0));
        assertGood(out(A, 6, 0, 0, 0));
        assertEquals(8, in(A, 1, 64).get(21));
        assertSense(out(B, 2, 7, 0xb, 0), 0x5, 0x26, 0x04);
        assertGood(out(B, 2, 8, 0xb, 0));
        assertEquals(0, in(A, 1, 64).getInt(4));
    }

    @Test
    void preemptRemovesRegistrationAndClearRemovesAll() {
        assertGood(out(A, 6, 0, 0, 0xa));
        assertGood(out(B, 6, 0, 0, 0xb));
        int gen = in(A, 0, 64).getInt(0);
        assertGood(out(B, 4, 3, 0xb, 0xa));
        assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x05);
        ByteBuffer keys = in(A, 0, 64);
        assertEquals(gen + 1, keys.getInt(0));
        assertEquals(8, keys.getInt(4));
        assertEquals(0xb, keys.getLong(8));
        assertGood(out(A, 6, 0, 0, 0xa));
        assertGood(out(A, 1, 3, 0xa, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, status(B, READ));
        ByteBuffer full = in(B, 3, 4096);
        assertEquals(2 * (24 + 4 + 36), full.getInt(4), "two descriptors with iSCSI transport IDs");
        assertGood(out(B, 3, 0, 0xb, 0));
        assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0)), 0x6, 0x2a, 0x03);
        assertEquals(0, in(A, 0, 64).getInt(4));
        assertGood(h.run(B, READ));
    }
}
