package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.A;
import static io.orion.dedup.scsi.ScsiHarness.B;
import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ScsiHarness.bytes;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.PoolOptions;
import io.orion.dedup.blockdev.RamBlockDevice;
import io.orion.dedup.blockdev.SparseFileBlockDevice;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Thin provisioning that tells the truth, through the SCSI command layer on a real dedup pool
 * (LMDB, container files) limited to 10 container slots of 1 MiB: READ CAPACITY(16) and VPD B0h
 * report the dedup block; the soft threshold raises THIN PROVISIONING SOFT THRESHOLD REACHED once
 * per nexus and re-arms after space is freed; a full pool answers 07/27/07 while reads go on; the
 * Logical Block Provisioning log page shows the pool's figures.
 */
class ThinProvisioningTest {

    private static final byte[] TUR = cdb(0, 0, 0, 0, 0, 0);

    @TempDir
    Path dir;
    DedupPool pool;
    ScsiTargetService target;
    ScsiHarness h;
    long savedInterval;

    @BeforeEach
    void setUp() throws Exception {
        pool = DedupPool.open(PoolOptions.builder(dir.resolve("meta")).device(dir.resolve("chunks.0"), 10L << 20)
                .containerSize(1 << 20).metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0)
                .cacheSize(8 << 20).hashCacheSize(1 << 20).build());
        target = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        h = new ScsiHarness(target);
        savedInterval = LogicalUnit.spaceCheckNanos;
        LogicalUnit.spaceCheckNanos = 0;
    }

    @AfterEach
    void tearDown() throws Exception {
        LogicalUnit.spaceCheckNanos = savedInterval;
        target.close();
        pool.close();
    }

    private static byte[] readCapacity16() {
        return cdb(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
    }

    private static byte[] inquiryVpd(int page) {
        return cdb(0x12, 1, page, 0, 255, 0);
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

    @Test
    void readCapacityAndBlockLimitsReportTheDedupBlock() throws Exception {
        target.addLun(0, pool.createVolume("v4k", 512, 64L << 20, 4096), LunOptions.defaults());
        target.addLun(1, pool.createVolume("v8k", 512, 64L << 20, 8192), LunOptions.defaults());
        target.addLun(2, pool.createVolume("v4k4k", 4096, 64L << 20, 4096), LunOptions.defaults());
        target.addLun(3, new RamBlockDevice(512, 1024), LunOptions.defaults());
        int[] exponent = {3, 4, 0, 0};
        for (int lun = 0; lun < 4; lun++) {
            h.login(A, lun);
            byte[] rc = bytes(h.run(A, lun, readCapacity16(), null, 32));
            assertEquals(exponent[lun], rc[13] & 0x0f, "LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT of LUN " + lun);
            byte[] bl = bytes(h.run(A, lun, inquiryVpd(0xb0), null, 255));
            int per = 1 << exponent[lun];
            assertEquals(per, Cdb.u16(bl, 6), "OPTIMAL TRANSFER LENGTH GRANULARITY of LUN " + lun);
            assertEquals(per, Cdb.u32(bl, 28), "OPTIMAL UNMAP GRANULARITY of LUN " + lun);
            assertEquals(0x80000000L, Cdb.u32(bl, 32), "UGAVALID, UNMAP GRANULARITY ALIGNMENT 0 of LUN " + lun);
            assertTrue(Cdb.u32(bl, 44) >= 256, "MAXIMUM ATOMIC TRANSFER LENGTH of LUN " + lun);
            assertTrue(Cdb.u32(bl, 44) <= Cdb.u32(bl, 8), "atomic length within MAXIMUM TRANSFER LENGTH");
        }
    }

    @Test
    void softThresholdOncePerNexusThenFullPoolRefusesWritesButReads() throws Exception {
        pool.spaceWarningPercent(50);
        DedupVolume v = pool.createVolume("v", 512, 64L << 20, 4096);
        target.addLun(0, v, LunOptions.defaults());
        h.login(A, 0);
        h.login(B, 0);
        byte[] b2 = bytes(h.run(A, 0, inquiryVpd(0xb2), null, 255));
        assertEquals(3, b2[4], "THRESHOLD EXPONENT: one dedup block");
        assertEquals(50, b2[7], "THRESHOLD PERCENTAGE: the soft threshold");
        Random rnd = new Random(7);
        int chunk = 256; // 128 KiB per write
        long lba = 0;
        int warnedA = 0;
        boolean full = false;
        byte[] first = null;
        while (!full && lba < 130_000) {
            byte[] data = new byte[chunk * 512];
            rnd.nextBytes(data);
            ScsiResponse r = h.write(A, write16(lba, chunk), data);
            if (r.status() == ScsiResponse.GOOD) {
                if (first == null) {
                    first = data;
                }
                lba += chunk;
                continue;
            }
            byte[] s = r.sense();
            int key = s[2] & 0xf;
            if (key == 0x6) {
                assertSense(r, 0x6, 0x38, 0x07);
                warnedA++;
                assertTrue(pool.space().aboveWarning(), "the warning came with usage above 50 %");
                continue;
            }
            assertSense(r, 0x7, 0x27, 0x07);
            full = true;
        }
        assertTrue(full, "the 10 MiB pool filled up");
        assertEquals(1, warnedA, "THIN PROVISIONING SOFT THRESHOLD REACHED exactly once on the writer's nexus");
        // reads keep working on a full pool, and the other nexus gets the warning once, too
        assertSense(h.run(B, 0, TUR, null, 0), 0x6, 0x38, 0x07);
        ScsiResponse rd = h.run(B, 0, read16(0, chunk), null, chunk * 512);
        assertGood(rd);
        assertArrayEquals(first, bytes(rd));
        for (int i = 0; i < 3; i++) {
            Thread.sleep(120);
            assertGood(h.run(A, 0, TUR, null, 0));
            assertGood(h.run(B, 0, TUR, null, 0));
        }
        // an overwrite with data the pool holds needs no new space
        assertGood(h.write(A, write16(chunk, chunk), first));
        // the log page: next to nothing available, the pool's use as used, shared scope
        byte[] lp = bytes(h.run(A, 0, cdb(0x4d, 0, 0x40 | 0x0c, 0, 0, 0, 0, 0x01, 0, 0), null, 256));
        assertEquals(0x0c, lp[0] & 0x3f);
        assertEquals(24, Cdb.u16(lp, 2));
        assertEquals(0x0001, Cdb.u16(lp, 4));
        assertEquals(0x02, lp[12] & 0x03, "SCOPE: not dedicated (a pool)");
        assertEquals(0x0002, Cdb.u16(lp, 16));
        long set = 4096;
        assertEquals(pool.space().availableBytes() / set, Cdb.u32(lp, 8));
        assertEquals(pool.space().usedBytes() / set, Cdb.u32(lp, 20));
        assertTrue(Cdb.u32(lp, 20) * set >= 9L << 20, "used: at least 9 of 10 MiB");
        // free the space: unmap everything, clean up; writes work again and the threshold re-armed
        v.unmap(0, v.blockCount());
        pool.cleanup();
        assertFalse(pool.space().aboveWarning(), "cleanup freed the pool's containers: " + pool.space());
        Thread.sleep(120);
        assertGood(h.run(A, 0, TUR, null, 0));
        byte[] data = new byte[chunk * 512];
        rnd.nextBytes(data);
        assertGood(h.write(A, write16(0, chunk), data));
        int warnedAgain = 0;
        for (lba = chunk; lba < 60_000 && warnedAgain == 0; ) {
            rnd.nextBytes(data);
            ScsiResponse r = h.write(A, write16(lba, chunk), data);
            if (r.status() == ScsiResponse.GOOD) {
                lba += chunk;
            } else {
                assertSense(r, 0x6, 0x38, 0x07);
                warnedAgain++;
            }
        }
        assertEquals(1, warnedAgain, "crossing the threshold again warns again");
    }

    /** Fills the pool with random writes through the SCSI layer until one answers 07/27/07. */
    private long fill(int lun) {
        Random rnd = new Random(11);
        long lba = 0;
        for (int i = 0; i < 2000; i++) {
            byte[] data = new byte[256 * 512];
            rnd.nextBytes(data);
            ScsiResponse r = h.run(A, lun, write16(lba, 256), data, data.length);
            if (r.status() == ScsiResponse.GOOD) {
                lba += 256;
            } else if ((r.sense()[2] & 0xf) != 0x6) {
                assertSense(r, 0x7, 0x27, 0x07);
                return lba;
            }
        }
        throw new AssertionError("the pool never filled");
    }

    @Test
    void everyWritingCommandOnAFullPoolAnswersSpaceAllocationFailedNeverMediumError() throws Exception {
        pool.spaceWarningPercent(0);
        DedupVolume v = pool.createVolume("v", 512, 64L << 20, 4096);
        target.addLun(0, v, LunOptions.defaults());
        h.login(A, 0);
        long end = fill(0);
        Random rnd = new Random(99);
        byte[] block = new byte[512];
        rnd.nextBytes(block);
        byte[] many = new byte[64 * 512];
        rnd.nextBytes(many);
        long at = end + 4096;
        // WRITE SAME(10) and (16) of a new pattern
        assertSense(h.write(A, cdb(0x41, 0, 0, 0, (int) (at >> 8), (int) at, 0, 0, 64, 0), block), 0x7, 0x27, 0x07);
        byte[] ws16 = write16(at, 64);
        ws16[0] = (byte) 0x93;
        assertSense(h.write(A, ws16, block), 0x7, 0x27, 0x07);
        // COMPARE AND WRITE of unmapped (zero) blocks with new data
        byte[] caw = cdb(0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0);
        Cdb.put64(caw, 2, at);
        byte[] cawData = new byte[16 * 512];
        System.arraycopy(many, 0, cawData, 8 * 512, 8 * 512);
        assertSense(h.write(A, caw, cawData), 0x7, 0x27, 0x07);
        // ORWRITE, WRITE AND VERIFY(16), WRITE ATOMIC(16), WRITE(16) of new data
        byte[] orw = write16(at, 64);
        orw[0] = (byte) 0x8b;
        assertSense(h.write(A, orw, many), 0x7, 0x27, 0x07);
        byte[] wv = write16(at, 64);
        wv[0] = (byte) 0x8e;
        assertSense(h.write(A, wv, many), 0x7, 0x27, 0x07);
        byte[] wa = cdb(0x9c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0);
        Cdb.put64(wa, 2, at);
        assertSense(h.write(A, wa, many), 0x7, 0x27, 0x07);
        assertSense(h.write(A, write16(at, 64), many), 0x7, 0x27, 0x07);
        // what needs no new space still works: reads, UNMAP of whole dedup blocks, WRITE SAME of
        // zeros; an UNMAP of part of a dedup block rewrites the rest of it, a new chunk: 07/27/07
        assertGood(h.run(A, 0, read16(0, 256), null, 256 * 512));
        byte[] unmap = new byte[24];
        Cdb.put16(unmap, 0, 22);
        Cdb.put16(unmap, 2, 16);
        Cdb.put64(unmap, 8, 8);
        Cdb.put32(unmap, 16, 128);
        assertGood(h.write(A, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), unmap));
        Cdb.put64(unmap, 8, 259);
        Cdb.put32(unmap, 16, 2);
        assertSense(h.write(A, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0), unmap), 0x7, 0x27, 0x07);
        assertArrayEquals(new byte[128 * 512], bytes(h.run(A, 0, read16(8, 128), null, 128 * 512)));
        assertGood(h.write(A, cdb(0x41, 0, 0, 0, 0x10, 0, 0, 0, 64, 0), new byte[512]));
        // SANITIZE OVERWRITE with a new pattern: 07/27/07 too, and the LU is in sanitize failure
        // (medium access 03/31/03) until a SANITIZE succeeds: BLOCK ERASE needs no space
        byte[] p = new byte[4 + 512];
        p[0] = 1;
        Cdb.put16(p, 2, 512);
        System.arraycopy(block, 0, p, 4, 512);
        byte[] san = cdb(0x48, 0x01, 0, 0, 0, 0, 0, (4 + 512) >> 8, (4 + 512) & 0xff, 0);
        assertSense(h.write(A, san, p), 0x7, 0x27, 0x07);
        assertSense(h.run(A, 0, read16(0, 8), null, 8 * 512), 0x3, 0x31, 0x03);
        assertGood(h.run(A, 0, cdb(0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0), null, 0));
        assertArrayEquals(new byte[256 * 512], bytes(h.run(A, 0, read16(0, 256), null, 256 * 512)));
    }

    @Test
    void supportedLogPagesAndRamLunProvisioning() throws Exception {
        RamBlockDevice ram = new RamBlockDevice(512, 2048);
        target.addLun(0, ram, LunOptions.defaults());
        h.login(A, 0);
        byte[] sup = bytes(h.run(A, 0, cdb(0x4d, 0, 0x40, 0, 0, 0, 0, 0, 64, 0), null, 64));
        assertArrayEquals(new byte[] {0, 0, 0, 2, 0x00, 0x0c}, sup);
        assertGood(h.write(A, write16(0, 8), new byte[8 * 512]));
        byte[] lp = bytes(h.run(A, 0, cdb(0x4d, 0, 0x4c, 0, 0, 0, 0, 0, 64, 0), null, 64));
        assertEquals(0x01, lp[12] & 0x03, "SCOPE: dedicated to the LU");
        // threshold exponent 1: sets of 2 blocks; 2048 blocks, 8 of them mapped
        assertEquals(1020, Cdb.u32(lp, 8));
        assertEquals(4, Cdb.u32(lp, 20));
        assertSense(h.run(A, 0, cdb(0x4d, 1, 0x4c, 0, 0, 0, 0, 0, 64, 0), null, 64), 0x5, 0x24, 0x00);
        assertSense(h.run(A, 0, cdb(0x4d, 0, 0x4d, 0, 0, 0, 0, 0, 64, 0), null, 64), 0x5, 0x24, 0x00);
    }

    @Test
    void writeAtomicWritesWholeAndRefusesTooLong() throws Exception {
        DedupVolume v = pool.createVolume("v", 512, 64L << 20, 4096);
        target.addLun(0, v, LunOptions.defaults());
        h.login(A, 0);
        byte[] data = new byte[24 * 512];
        new Random(3).nextBytes(data);
        byte[] c = cdb(0x9c, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 24, 0, 0);
        assertGood(h.write(A, c, data));
        assertArrayEquals(data, bytes(h.run(A, 0, read16(3, 24), null, 24 * 512)));
        byte[] beyond = cdb(0x9c, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 1, 0, 0);
        assertSense(h.write(A, beyond, new byte[512]), 0x5, 0x21, 0x00);
        // 4096-byte blocks: the maximum (32 MiB) fits the 16-bit TRANSFER LENGTH, one more is refused
        target.addLun(1, pool.createVolume("v4k", 4096, 64L << 20, 4096), LunOptions.defaults());
        h.login(A, 1);
        long max = Cdb.u32(bytes(h.run(A, 1, inquiryVpd(0xb0), null, 255)), 44);
        assertEquals(8192, max);
        byte[] tooLong = cdb(0x9c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (int) ((max + 1) >> 8), (int) ((max + 1) & 0xff), 0, 0);
        assertSense(h.run(A, 1, tooLong, new byte[0], 0), 0x5, 0x24, 0x00);
    }

    /** REPORT SUPPORTED OPERATION CODES, all commands: does the list name WRITE ATOMIC(16)? */
    private boolean listsWriteAtomic(long lun) {
        byte[] all = bytes(h.run(A, lun, cdb(0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0), null, 4096));
        long len = Cdb.u32(all, 0);
        for (int i = 4; i < 4 + len; i += 8) {
            if ((all[i] & 0xff) == 0x9c) {
                return true;
            }
        }
        return false;
    }

    @Test
    void writeAtomicOnlyOnLunsWhoseWritesAreAtomic() throws Exception {
        // a file LUN: one pwrite of up to 32 MiB can be torn by a crash, so nothing is advertised
        SparseFileBlockDevice file = SparseFileBlockDevice.open(dir.resolve("lun.img"), 512, 2048);
        target.addLun(0, file, LunOptions.defaults());
        target.addLun(1, pool.createVolume("v", 512, 8L << 20, 4096), LunOptions.defaults());
        target.addLun(2, new RamBlockDevice(512, 2048), LunOptions.defaults());
        h.login(A, 0);
        h.login(A, 1);
        h.login(A, 2);
        byte[] bl = bytes(h.run(A, 0, inquiryVpd(0xb0), null, 255));
        assertEquals(0, Cdb.u32(bl, 44), "MAXIMUM ATOMIC TRANSFER LENGTH of a file LUN");
        assertEquals(0, Cdb.u32(bl, 48) | Cdb.u32(bl, 52) | Cdb.u32(bl, 56) | Cdb.u32(bl, 60), "other atomic fields");
        byte[] data = new byte[8 * 512];
        Arrays.fill(data, (byte) 'w');
        byte[] wa = cdb(0x9c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0);
        assertSense(h.write(A, wa, data), 0x5, 0x20, 0x00);
        assertArrayEquals(new byte[8 * 512], bytes(h.run(A, 0, read16(0, 8), null, 8 * 512)), "nothing written");
        assertFalse(listsWriteAtomic(0));
        byte[] one = bytes(h.run(A, 0, cdb(0xa3, 0x0c, 0x01, 0x9c, 0, 0, 0, 0, 0x10, 0, 0, 0), null, 4096));
        assertEquals(0x01, one[1] & 0x07, "WRITE ATOMIC(16) not supported on the file LUN");
        // dedup (one metadata transaction per write) and RAM LUNs keep it
        for (int lun = 1; lun <= 2; lun++) {
            assertTrue(Cdb.u32(bytes(h.run(A, lun, inquiryVpd(0xb0), null, 255)), 44) > 0);
            assertGood(h.run(A, lun, wa, data, data.length));
            assertArrayEquals(data, bytes(h.run(A, lun, read16(0, 8), null, 8 * 512)));
            assertTrue(listsWriteAtomic(lun));
            one = bytes(h.run(A, lun, cdb(0xa3, 0x0c, 0x01, 0x9c, 0, 0, 0, 0, 0x10, 0, 0, 0), null, 4096));
            assertEquals(0x03, one[1] & 0x07, "WRITE ATOMIC(16) supported on LUN " + lun);
        }
        // the plain WRITE still works on the file LUN
        assertGood(h.write(A, write16(0, 8), data));
        assertArrayEquals(data, bytes(h.run(A, 0, read16(0, 8), null, 8 * 512)));
    }
}
