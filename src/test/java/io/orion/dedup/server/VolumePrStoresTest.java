package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.PoolOptions;
import io.orion.dedup.scsi.LunOptions;
import io.orion.dedup.scsi.Nexus;
import io.orion.dedup.scsi.PrStore;
import io.orion.dedup.scsi.ScsiCommand;
import io.orion.dedup.scsi.ScsiResponse;
import io.orion.dedup.scsi.ScsiTargetService;
import io.orion.dedup.scsi.TaskAttribute;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file store of a file volume's persistent reservations: replaced whole, private, removable. */
class VolumePrStoresTest {
    @TempDir
    Path data;

    @Test
    void fileStoreKeepsTheLastImageAndRemovesIt() throws Exception {
        Path file = VolumePrStores.file(data, "vol-1");
        assertEquals(data.resolve("reservations/vol-1.pr"), file);
        PrStore store = VolumePrStores.file(file);
        assertTrue(store.persistent());
        assertNull(store.load(), "nothing saved yet");
        store.save(new byte[] {1, 2, 3, 4, 5, 6});
        store.save(new byte[] {9, 8, 7});
        assertArrayEquals(new byte[] {9, 8, 7}, VolumePrStores.file(file).load(), "a new store reads the last image");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        try (var files = Files.list(file.getParent())) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
        store.save(null);
        assertFalse(Files.exists(file));
        assertNull(store.load());
        store.save(null); // removing nothing is fine
    }

    private static final Nexus A = Nexus.iscsi("iqn.2026-11.test:a", 1, "iqn.2026-11.io.orion:t", 1);
    private static final Nexus B = Nexus.iscsi("iqn.2026-11.test:b", 2, "iqn.2026-11.io.orion:t", 1);

    private static ScsiResponse run(ScsiTargetService t, Nexus n, byte[] cdb, byte[] out) throws Exception {
        ScsiCommand c = new ScsiCommand(n, 0, cdb, TaskAttribute.SIMPLE, out == null ? 4096 : out.length,
                out == null, out != null, out == null ? null : ByteBuffer.wrap(out), 1);
        return t.execute(c).get(30, TimeUnit.SECONDS).detached();
    }

    private static ScsiResponse register(ScsiTargetService t, Nexus n, long sark) throws Exception {
        byte[] p = ByteBuffer.allocate(24).putLong(0).putLong(sark).array();
        p[20] = 0x01; // APTPL
        return run(t, n, new byte[] {0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0}, p);
    }

    private static int keys(ScsiTargetService t, Nexus n) throws Exception {
        ScsiResponse r = run(t, n, new byte[] {0x5e, 0, 0, 0, 0, 0, 0, 0x10, 0, 0}, null);
        return r.dataIn().getInt(4) / 8;
    }

    private static ScsiTargetService target(DedupPool pool, DedupVolume v) throws Exception {
        ScsiTargetService t = new ScsiTargetService("iqn.2026-11.io.orion:t", null);
        t.addLun(0, v, LunOptions.defaults(), VolumePrStores.pool(pool, v));
        run(t, A, new byte[6], null); // power-on unit attentions
        run(t, B, new byte[6], null);
        return t;
    }

    /**
     * A dedup volume's reservations through the real pool: saved with APTPL and found again after
     * the pool is reopened; when the pool cannot save (closed under the LU), the PR OUT fails with
     * HARDWARE ERROR and the registrations stay as they were.
     */
    @Test
    void poolStoreSavesDurablyAndAFailedSaveChangesNothing() throws Exception {
        PoolOptions o = PoolOptions.builder(data.resolve("meta")).device(data.resolve("data/dev0.img"), 0)
                .containerSize(1 << 20).metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0)
                .cacheSize(8 << 20).hashCacheSize(1 << 20).build();
        DedupPool pool = DedupPool.open(o);
        DedupVolume v = pool.createVolume("v", 512, 1 << 20, 4096);
        ScsiTargetService t = target(pool, v);
        assertEquals(ScsiResponse.GOOD, register(t, A, 0xa).status());
        pool.close();
        ScsiResponse failed = register(t, B, 0xb);
        assertEquals(ScsiResponse.CHECK_CONDITION, failed.status());
        assertEquals(0x4, failed.sense()[2] & 0xf, "HARDWARE ERROR");
        assertEquals(0x44, failed.sense()[12] & 0xff, "INTERNAL TARGET FAILURE");
        assertEquals(1, keys(t, B), "B is not registered");
        t.close();
        try (DedupPool again = DedupPool.open(o)) {
            DedupVolume v2 = again.openVolume("v").orElseThrow();
            ScsiTargetService t2 = target(again, v2);
            ScsiResponse k = run(t2, B, new byte[] {0x5e, 0, 0, 0, 0, 0, 0, 0x10, 0, 0}, null);
            assertEquals(8, k.dataIn().getInt(4));
            assertEquals(0xa, k.dataIn().getLong(8));
            t2.close();
        }
    }
}
