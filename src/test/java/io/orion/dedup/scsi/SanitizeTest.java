package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.A;
import static io.orion.dedup.scsi.ScsiHarness.B;
import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ScsiHarness.bytes;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.PoolOptions;
import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.LbaStatus;
import io.orion.dedup.blockdev.RamBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SANITIZE (SBC-4 §5.30): block erase and overwrite on a dedup volume, IMMED, refusals. */
class SanitizeTest {

    private static final byte[] TUR = cdb(0, 0, 0, 0, 0, 0);

    @TempDir
    Path dir;

    private static byte[] sanitize(int sa, boolean immed, int listLen) {
        return cdb(0x48, (immed ? 0x80 : 0) | sa, 0, 0, 0, 0, 0, listLen >> 8, listLen & 0xff, 0);
    }

    private static byte[] write16(long lba, int blocks) {
        byte[] c = cdb(0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        Cdb.put64(c, 2, lba);
        Cdb.put32(c, 10, blocks);
        return c;
    }

    private static byte[] read16(long lba, int blocks) {
        byte[] c = write16(lba, blocks);
        c[0] = (byte) 0x88;
        return c;
    }

    private static byte[] overwrite(byte[] pattern, int passes, boolean invert) {
        byte[] p = new byte[4 + pattern.length];
        p[0] = (byte) ((invert ? 0x80 : 0) | passes);
        Cdb.put16(p, 2, pattern.length);
        System.arraycopy(pattern, 0, p, 4, pattern.length);
        return p;
    }

    @Test
    void blockEraseAndOverwriteReplaceEveryBlockOfADedupVolume() throws Exception {
        try (DedupPool pool = DedupPool.open(PoolOptions.builder(dir.resolve("meta")).device(dir.resolve("c"), 0)
                .containerSize(1 << 20).metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0)
                .cacheSize(8 << 20).hashCacheSize(1 << 20).build())) {
            DedupVolume v = pool.createVolume("v", 512, 8L << 20, 4096);
            ScsiTargetService target = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
            target.addLun(0, v, LunOptions.defaults());
            ScsiHarness h = new ScsiHarness(target);
            h.login(A, 0);
            long last = v.blockCount() - 256;
            byte[] data = new byte[256 * 512];
            new Random(1).nextBytes(data);
            assertGood(h.write(A, write16(0, 256), data));
            assertGood(h.write(A, write16(last, 256), data));
            assertTrue(pool.stats(false).logicalBytes() > 0);

            assertGood(h.run(A, 0, sanitize(0x02, false, 0), null, 0));
            assertArrayEquals(new byte[256 * 512], bytes(h.run(A, 0, read16(0, 256), null, 256 * 512)));
            assertArrayEquals(new byte[256 * 512], bytes(h.run(A, 0, read16(last, 256), null, 256 * 512)));
            LbaStatus s = v.status(0, v.blockCount());
            assertEquals(false, s.mapped());
            assertEquals(v.blockCount(), s.blocks(), "every block deallocated");
            assertEquals(0, pool.stats(false).logicalBytes(), "no block maps a chunk");
            // GET LBA STATUS: one deallocated extent covers the whole LUN (libiscsi's check_unmap)
            byte[] st = bytes(h.run(A, 0, cdb(0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0), null, 24));
            assertEquals(20, Cdb.u32(st, 0), "one descriptor");
            assertEquals(0, Cdb.u64(st, 8));
            assertEquals(v.blockCount(), Cdb.u32(st, 16));
            assertEquals(1, st[20], "deallocated");
            // WABEREQ 01b: reads after BLOCK ERASE succeed
            assertEquals(0x40, bytes(h.run(A, 0, cdb(0x12, 1, 0xb1, 0, 64, 0), null, 64))[7] & 0xc0);

            assertGood(h.write(A, write16(0, 256), data));
            byte[] p = overwrite(new byte[] {(byte) 0xaa, 0x55, 0x01}, 1, false);
            assertGood(h.write(A, sanitize(0x01, false, p.length), p));
            byte[] want = new byte[256 * 512];
            for (int i = 0; i < want.length; i++) {
                want[i] = (new byte[] {(byte) 0xaa, 0x55, 0x01})[i % 512 % 3];
            }
            assertArrayEquals(want, bytes(h.run(A, 0, read16(0, 256), null, 256 * 512)));
            assertArrayEquals(want, bytes(h.run(A, 0, read16(last, 256), null, 256 * 512)));
            assertEquals(1, pool.stats(false).uniqueChunks(), "the pattern is one chunk every block references");

            byte[] inv = overwrite(new byte[] {0x0f}, 2, true);
            assertGood(h.write(A, sanitize(0x01, false, inv.length), inv));
            byte[] f0 = new byte[512];
            Arrays.fill(f0, (byte) 0xf0);
            assertArrayEquals(f0, bytes(h.run(A, 0, read16(7, 1), null, 512)), "two passes, inverted: ~pattern last");
            target.close();
        }
    }

    @Test
    void refusalsAndWhatIsNotSupported() throws Exception {
        ScsiTargetService target = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        target.addLun(0, new RamBlockDevice(512, 4096), LunOptions.defaults());
        target.addLun(1, new RamBlockDevice(512, 4096), new LunOptions(true, "RO", null));
        ScsiHarness h = new ScsiHarness(target);
        h.login(A, 0);
        h.login(B, 0);
        h.login(A, 1);
        // CRYPTOGRAPHIC ERASE and every other unknown service action: INVALID FIELD IN CDB
        for (int sa : new int[] {0x00, 0x03, 0x04, 0x1e}) {
            assertSense(h.run(A, 0, sanitize(sa, false, 0), null, 0), 0x5, 0x24, 0x00);
        }
        byte[] one = cdb(0xa3, 0x0c, 0x02, 0x48, 0, 0x03, 0, 0, 0x10, 0, 0, 0);
        assertEquals(0x01, bytes(h.run(A, 0, one, null, 4096))[1] & 0x07, "CRYPTOGRAPHIC ERASE is not supported");
        for (int sa : new int[] {0x01, 0x02, 0x1f}) {
            byte[] q = cdb(0xa3, 0x0c, 0x02, 0x48, 0, sa, 0, 0, 0x10, 0, 0, 0);
            assertEquals(0x03, bytes(h.run(A, 0, q, null, 4096))[1] & 0x07, "service action " + sa + " supported");
        }
        // parameters: none for BLOCK ERASE and EXIT FAILURE MODE, 5..block+4 bytes for OVERWRITE
        assertSense(h.write(A, sanitize(0x02, false, 8), new byte[8]), 0x5, 0x24, 0x00);
        assertSense(h.write(A, sanitize(0x1f, false, 8), new byte[8]), 0x5, 0x24, 0x00);
        assertGood(h.run(A, 0, sanitize(0x1f, false, 0), null, 0));
        for (int len : new int[] {0, 4, 512 + 5}) {
            assertSense(h.write(A, sanitize(0x01, false, len), new byte[len]), 0x5, 0x24, 0x00);
        }
        assertSense(h.write(A, sanitize(0x01, false, 8), overwrite(new byte[4], 0, false)), 0x5, 0x24, 0x00);
        byte[] zeroLen = overwrite(new byte[4], 1, false);
        Cdb.put16(zeroLen, 2, 0);
        assertSense(h.write(A, sanitize(0x01, false, 8), zeroLen), 0x5, 0x24, 0x00);
        // reserved bits and bytes of the CDB
        byte[] reserved = sanitize(0x02, false, 0);
        reserved[1] |= 0x40;
        assertSense(h.run(A, 0, reserved, null, 0), 0x5, 0x24, 0x00);
        for (int i = 2; i <= 6; i++) {
            reserved = sanitize(0x02, false, 0);
            reserved[i] = 1;
            assertSense(h.run(A, 0, reserved, null, 0), 0x5, 0x24, 0x00);
        }
        // a write-protected LU, and another initiator's reservation
        assertSense(h.run(A, 1, sanitize(0x02, false, 0), null, 0), 0x7, 0x27, 0x00);
        assertGood(h.run(B, 0, cdb(0x16, 0, 0, 0, 0, 0), null, 0));
        assertEquals(ScsiResponse.RESERVATION_CONFLICT, h.run(A, 0, sanitize(0x02, false, 0), null, 0).status());
        target.close();
    }

    /** A RAM device whose deallocation waits until the test lets it go. */
    private static final class SlowErase extends DelegatingDevice {
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch go = new CountDownLatch(1);

        SlowErase(BlockDevice d) {
            super(d);
        }

        @Override
        public void unmap(long lba, long blocks) throws IOException {
            started.countDown();
            try {
                go.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            super.unmap(lba, blocks);
        }
    }

    @Test
    void immedReturnsAtOnceAndOtherCommandsSeeSanitizeInProgress() throws Exception {
        RamBlockDevice ram = new RamBlockDevice(512, 4096);
        SlowErase dev = new SlowErase(ram);
        ScsiTargetService target = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        target.addLun(0, dev, LunOptions.defaults());
        ScsiHarness h = new ScsiHarness(target);
        h.login(A, 0);
        h.login(B, 0);
        byte[] data = new byte[8 * 512];
        Arrays.fill(data, (byte) 'a');
        assertGood(h.write(A, write16(0, 8), data));
        assertGood(h.run(A, 0, sanitize(0x02, true, 0), null, 0));
        assertTrue(dev.started.await(10, TimeUnit.SECONDS));
        assertSense(h.run(B, 0, TUR, null, 0), 0x2, 0x04, 0x1b);
        assertSense(h.run(A, 0, read16(0, 8), null, 4096), 0x2, 0x04, 0x1b);
        assertSense(h.write(A, write16(0, 8), data), 0x2, 0x04, 0x1b);
        assertGood(h.run(B, 0, cdb(0x12, 0, 0, 0, 96, 0), null, 96)); // INQUIRY still answers
        assertGood(h.run(B, 0, cdb(0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0), null, 256)); // and REPORT LUNS
        dev.go.countDown();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        ScsiResponse r;
        do {
            Thread.sleep(20);
            r = h.run(A, 0, TUR, null, 0);
        } while (r.status() != ScsiResponse.GOOD && System.nanoTime() < deadline);
        assertGood(r);
        assertArrayEquals(new byte[4096], bytes(h.run(A, 0, read16(0, 8), null, 4096)));
        assertEquals(0, ram.mappedBlocks());
        target.close();
    }

    /** A RAM device whose deallocation and WRITE SAME fail while {@code broken} is set. */
    private static final class BrokenErase extends DelegatingDevice {
        volatile boolean broken = true;

        BrokenErase(BlockDevice d) {
            super(d);
        }

        @Override
        public void unmap(long lba, long blocks) throws IOException {
            if (broken) {
                throw new IOException("erase failed");
            }
            super.unmap(lba, blocks);
        }

        @Override
        public void writeSame(long lba, long blocks, ByteBuffer p, boolean u) throws IOException {
            if (broken) {
                throw new IOException("overwrite failed");
            }
            super.writeSame(lba, blocks, p, u);
        }
    }

    private static byte[] ause(byte[] sanitizeCdb) {
        sanitizeCdb[1] |= 0x20;
        return sanitizeCdb;
    }

    @Test
    void aFailedSanitizeLeavesTheLunInSanitizeFailureUntilASanitizeSucceeds() throws Exception {
        BrokenErase dev = new BrokenErase(new RamBlockDevice(512, 4096));
        ScsiTargetService target = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        target.addLun(0, dev, LunOptions.defaults());
        ScsiHarness h = new ScsiHarness(target);
        h.login(A, 0);
        h.login(B, 0);
        byte[] data = new byte[8 * 512];
        Arrays.fill(data, (byte) 'a');
        assertGood(h.write(A, write16(0, 8), data));

        // without IMMED the SANITIZE itself answers MEDIUM ERROR, SANITIZE COMMAND FAILED
        assertSense(h.run(A, 0, sanitize(0x02, false, 0), null, 0), 0x3, 0x31, 0x03);
        // medium access gets the same on every nexus: the old data is never returned
        assertSense(h.run(A, 0, read16(0, 8), null, 4096), 0x3, 0x31, 0x03);
        assertSense(h.run(B, 0, read16(0, 8), null, 4096), 0x3, 0x31, 0x03);
        assertSense(h.write(B, write16(0, 8), data), 0x3, 0x31, 0x03);
        assertGood(h.run(B, 0, cdb(0x12, 0, 0, 0, 96, 0), null, 96)); // INQUIRY still answers
        // REQUEST SENSE reports the failure
        byte[] rs = bytes(h.run(B, 0, cdb(0x03, 0, 0, 0, 18, 0), null, 18));
        assertEquals("3/31/03", String.format("%x/%02x/%02x", rs[2] & 0xf, rs[12], rs[13]));
        // AUSE was 0: EXIT FAILURE MODE is refused, the LUN stays in failure
        assertSense(h.run(A, 0, sanitize(0x1f, false, 0), null, 0), 0x5, 0x24, 0x00);
        assertSense(h.run(A, 0, read16(0, 8), null, 4096), 0x3, 0x31, 0x03);
        // a SANITIZE that succeeds ends it
        dev.broken = false;
        assertGood(h.run(A, 0, sanitize(0x02, false, 0), null, 0));
        assertArrayEquals(new byte[4096], bytes(h.run(B, 0, read16(0, 8), null, 4096)));
        assertGood(h.write(B, write16(0, 8), data));
        target.close();
    }

    @Test
    void aFailedImmedSanitizeIsNotDroppedAndExitFailureModeEndsItWithAuse() throws Exception {
        BrokenErase dev = new BrokenErase(new RamBlockDevice(512, 4096));
        ScsiTargetService target = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        target.addLun(0, dev, LunOptions.defaults());
        ScsiHarness h = new ScsiHarness(target);
        h.login(A, 0);
        byte[] data = new byte[8 * 512];
        Arrays.fill(data, (byte) 'a');
        assertGood(h.write(A, write16(0, 8), data));

        byte[] p = overwrite(new byte[] {0x5a}, 1, false);
        assertGood(h.write(A, ause(sanitize(0x01, true, p.length)), p)); // IMMED: GOOD at once
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        ScsiResponse r;
        do {
            r = h.run(A, 0, read16(0, 8), null, 4096);
            if (r.status() == ScsiResponse.GOOD) {
                break;
            }
            byte[] s = r.sense();
            boolean inProgress = (s[0] & 0x7f) == 0x72 ? s[2] == 0x04 : s[12] == 0x04;
            if (!inProgress) {
                break;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        assertSense(r, 0x3, 0x31, 0x03); // not GOOD with the old data
        assertSense(h.write(A, write16(0, 8), data), 0x3, 0x31, 0x03);
        // the failed sanitize had AUSE: EXIT FAILURE MODE ends the failure state
        assertGood(h.run(A, 0, sanitize(0x1f, false, 0), null, 0));
        assertGood(h.run(A, 0, read16(0, 8), null, 4096));
        assertGood(h.write(A, write16(0, 8), data));
        assertGood(h.run(A, 0, sanitize(0x1f, false, 0), null, 0)); // and again: nothing to exit
        target.close();
    }
}
