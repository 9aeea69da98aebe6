package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The saved flushed state of {@code data.mdb} applies only to the file it was saved for, on a new boot. */
class FlushedMetaTest {
    @TempDir
    Path dir;
    Path boot;

    @BeforeEach
    void setUp() throws Exception {
        boot = dir.resolve("boot_id");
        Files.writeString(boot, UUID.randomUUID().toString());
        System.setProperty(FlushedMeta.BOOT_ID_PROPERTY, boot.toString());
    }

    @AfterEach
    void tearDown() {
        System.clearProperty(FlushedMeta.BOOT_ID_PROPERTY);
    }

    /** A store with a flushed state at open and commits after it. */
    Path storeWithCommitsAfterTheFlush() throws Exception {
        Path meta = dir.resolve("meta");
        MetaStore m = MetaStore.open(meta, 16L << 20);
        try (MetaWriteTxn t = m.write()) {
            t.putVolume(new VolumeRecord("a", 1, UUID.randomUUID(), 4096, 4096, 1 << 20, 0, 0));
            t.commit();
        }
        // no sync: the flushed state is the one saved at open
        m.close();
        return meta;
    }

    @Test
    void theStateIsSavedAtOpenAndAtEveryFlushInTurn() throws Exception {
        Path meta = dir.resolve("meta");
        try (MetaStore m = MetaStore.open(meta, 16L << 20)) {
            FlushedMeta.Saved s0 = FlushedMeta.read(meta.resolve(FlushedMeta.FILE));
            assertNotNull(s0);
            try (MetaWriteTxn t = m.write()) {
                t.putVolume(new VolumeRecord("a", 1, UUID.randomUUID(), 4096, 4096, 1 << 20, 0, 0));
                t.commit();
            }
            m.sync();
            FlushedMeta.Saved s1 = FlushedMeta.read(meta.resolve(FlushedMeta.FILE));
            assertEquals(s0.seq() + 1, s1.seq());
            assertEquals(1 - s0.slot(), s1.slot());
            assertTrue(s1.txnId() > s0.txnId(), s0.txnId() + " then " + s1.txnId());
            assertEquals(UUID.fromString(Files.readString(boot)), s1.bootId());
        }
    }

    @Test
    void anotherBootRollsBackToTheFlushedState() throws Exception {
        Path meta = storeWithCommitsAfterTheFlush();
        Files.writeString(boot, UUID.randomUUID().toString());
        assertTrue(FlushedMeta.rollBackAfterPowerLoss(meta) >= 0);
        try (MetaStore m = MetaStore.open(meta, 16L << 20); MetaTxn t = m.read()) {
            assertTrue(t.volumes().isEmpty(), "the commit after the flush is gone");
        }
    }

    @Test
    void theSameBootRollsNothingBack() throws Exception {
        Path meta = storeWithCommitsAfterTheFlush();
        assertEquals(-1, FlushedMeta.rollBackAfterPowerLoss(meta));
        try (MetaStore m = MetaStore.open(meta, 16L << 20); MetaTxn t = m.read()) {
            assertEquals(1, t.volumes().size());
        }
    }

    @Test
    void aDataFileReplacedByAnotherIsNeverRolledBack() throws Exception {
        Path meta = storeWithCommitsAfterTheFlush();
        Path mdb = meta.resolve("data.mdb");
        Path copy = meta.resolve("copy");
        Files.copy(mdb, copy);
        Files.move(copy, mdb, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Files.writeString(boot, UUID.randomUUID().toString());
        assertEquals(-1, FlushedMeta.rollBackAfterPowerLoss(meta));
        assertFalse(Files.exists(meta.resolve(FlushedMeta.FILE)), "the saved state of the old file is removed");
        try (MetaStore m = MetaStore.open(meta, 16L << 20); MetaTxn t = m.read()) {
            assertEquals(1, t.volumes().size());
        }
    }

    @Test
    void aNewDataFileDropsAStaleSavedState() throws Exception {
        Path meta = storeWithCommitsAfterTheFlush();
        Files.delete(meta.resolve("data.mdb"));
        Files.writeString(boot, UUID.randomUUID().toString());
        assertEquals(-1, FlushedMeta.rollBackAfterPowerLoss(meta));
        assertNull(FlushedMeta.read(meta.resolve(FlushedMeta.FILE)));
    }

    @Test
    void durableCommitsKeepNoSavedState() throws Exception {
        Path meta = storeWithCommitsAfterTheFlush();
        try (MetaStore m = MetaStore.open(meta, 16L << 20, true)) {
            assertFalse(Files.exists(meta.resolve(FlushedMeta.FILE)));
        }
    }

    /**
     * A flush captured between two commits and completed later, while many more commits reuse
     * pages (the committer no longer waits for the fsyncs): a power loss after it rolls back to
     * exactly the captured commit, whose pages the later commits left alone. Before the capture
     * existed, a flush had to run with no commit in between.
     */
    @Test
    void aFlushCompletedWhileCommitsGoOnRollsBackToTheCapturedCommit() throws Exception {
        Path meta = dir.resolve("meta");
        MetaStore m = MetaStore.open(meta, 64L << 20);
        try {
            for (long b = 0; b < 2000; b++) {
                try (MetaWriteTxn t = m.write()) {
                    t.putBlock(1, b, 1000 + b);
                    t.commit();
                }
            }
            MetaStore.FlushPoint p = m.capture();
            assertNotNull(p);
            // later commits rewrite every block (freeing and reusing many pages) before the fsyncs
            for (int round = 0; round < 20; round++) {
                try (MetaWriteTxn t = m.write()) {
                    for (long b = 0; b < 2000; b++) {
                        t.putBlock(1, b, 5000 + round);
                    }
                    t.commit();
                }
            }
            m.complete(p);
            assertEquals(p.txn, FlushedMeta.read(meta.resolve(FlushedMeta.FILE)).txnId());
            // completing an older point after a newer one was saved changes nothing
            MetaStore.FlushPoint q = m.capture();
            m.sync();
            m.complete(q);
            FlushedMeta.Saved newest = FlushedMeta.read(meta.resolve(FlushedMeta.FILE));
            assertTrue(newest.txnId() > p.txn);
            // a commit after that flush, then a capture, then page-reusing commits before and after
            // its completion: the captured commit is the state a power loss keeps
            try (MetaWriteTxn t = m.write()) {
                for (long b = 0; b < 2000; b++) {
                    t.putBlock(1, b, 7777);
                }
                t.commit();
            }
            MetaStore.FlushPoint r = m.capture();
            for (int round = 0; round < 20; round++) {
                try (MetaWriteTxn t = m.write()) {
                    for (long b = 0; b < 2000; b++) {
                        t.putBlock(1, b, 100 + round);
                    }
                    t.commit();
                }
            }
            m.complete(r);
            assertEquals(0, m.pendingFlushPoints());
            for (int round = 0; round < 20; round++) {
                try (MetaWriteTxn t = m.write()) {
                    for (long b = 0; b < 2000; b++) {
                        t.putBlock(1, b, 200 + round);
                    }
                    t.commit();
                }
            }
        } finally {
            m.close();
        }
        Files.writeString(boot, UUID.randomUUID().toString()); // power loss: another boot
        try (MetaStore m2 = MetaStore.open(meta, 64L << 20); MetaTxn t = m2.read()) {
            assertTrue(m2.lastCheck().damage().isEmpty(), m2.lastCheck().damage().problems().toString());
            for (long b = 0; b < 2000; b++) {
                assertEquals(7777, t.block(1, b), "block " + b + " as at the captured commit");
            }
        }
    }
}
