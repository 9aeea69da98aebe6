package io.orion.dedup.scsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/** Drives a {@link ScsiTargetService} with CDB byte fixtures, as the transport would. */
final class ScsiHarness {

    static final Nexus A = Nexus.iscsi("iqn.2026-11.test:a", 0x23d000000001L, "iqn.2026-11.io.orion:t", 1);
    static final Nexus B = Nexus.iscsi("iqn.2026-11.test:b", 0x23d000000002L, "iqn.2026-11.io.orion:t", 1);

    final ScsiTargetService target;

    ScsiHarness(ScsiTargetService target) {
        this.target = target;
    }

    static byte[] cdb(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return b;
    }

    ScsiResponse run(Nexus n, long lun, byte[] cdb, byte[] dataOut, int edtl) {
        ScsiCommand c = new ScsiCommand(n, lun, cdb, TaskAttribute.SIMPLE, edtl, dataOut == null, dataOut != null,
                dataOut == null ? null : ByteBuffer.wrap(dataOut), 1);
        try {
            ScsiResponse r = target.execute(c).get(10, TimeUnit.SECONDS);
            assertNotNull(r);
            return r.detached();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    ScsiResponse run(Nexus n, byte[] cdb) {
        return run(n, 0, cdb, null, 65536);
    }

    ScsiResponse write(Nexus n, byte[] cdb, byte[] data) {
        return run(n, 0, cdb, data, data.length);
    }

    /** Clears the power-on unit attention of a new nexus with TEST UNIT READY. */
    void login(Nexus n, long lun) {
        ScsiResponse r = run(n, lun, cdb(0, 0, 0, 0, 0, 0), null, 0);
        assertSense(r, 0x6, 0x29, 0x00);
        assertGood(run(n, lun, cdb(0, 0, 0, 0, 0, 0), null, 0));
    }

    static void assertGood(ScsiResponse r) {
        assertEquals(ScsiResponse.GOOD, r.status(), () -> "expected GOOD, sense " + senseString(r));
    }

    static void assertSense(ScsiResponse r, int key, int asc, int ascq) {
        assertEquals(ScsiResponse.CHECK_CONDITION, r.status(), "status");
        byte[] s = r.sense();
        int k;
        int a;
        int q;
        if ((s[0] & 0x7f) == 0x72) {
            k = s[1] & 0xf;
            a = s[2] & 0xff;
            q = s[3] & 0xff;
        } else {
            k = s[2] & 0xf;
            a = s[12] & 0xff;
            q = s[13] & 0xff;
        }
        assertEquals(String.format("%x/%02x/%02x", key, asc, ascq), String.format("%x/%02x/%02x", k, a, q));
    }

    static String senseString(ScsiResponse r) {
        if (r.sense() == null) {
            return "none";
        }
        StringBuilder sb = new StringBuilder();
        for (byte b : r.sense()) {
            sb.append(String.format("%02x ", b));
        }
        return sb.toString();
    }

    static byte[] bytes(ScsiResponse r) {
        ByteBuffer b = r.dataIn().duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
