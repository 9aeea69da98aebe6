package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.meta.MetaWriteTxn;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes and reference copies racing a volume's deletion: no block-map entry may outlive the
 * volume record (its chunk references would never drop, and the space never come back), and the
 * metadata cross-check (scrub) must see such orphans if they ever appear.
 */
class VolumeDeleteRaceTest {
    /** Three reference-copy pieces (1024 dedup blocks each) and a bit. */
    private static final int DBLOCKS = 2 * 1024 + 100;

    @TempDir
    Path dir;

    private static void fill(DedupVolume v, int dblocks) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(256 * 4096);
        for (int first = 0; first < dblocks; first += 256) {
            int n = Math.min(256, dblocks - first);
            b.clear();
            for (int i = 0; i < n; i++) {
                b.put(PoolFixture.compressible(first + i, 4096));
            }
            b.flip();
            v.write((long) first * 8, b, false);
        }
    }

    private static long entries(DedupPool pool, int volumeId) throws Exception {
        long[] n = {0};
        try (MetaTxn t = pool.meta().read()) {
            t.scanBlocks(volumeId, 0, Long.MAX_VALUE, (db, c) -> {
                n[0]++;
                return true;
            });
        }
        return n[0];
    }

    private static void deleteAll(DedupPool pool) throws IOException {
        for (VolumeInfo v : pool.volumes()) {
            pool.deleteVolume(v.name());
        }
        pool.cleanup();
    }

    @Test
    void referenceCopyIntoAVolumeDeletedBetweenPiecesFailsAndLeavesNoEntries() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 512, 16L << 20, 4096);
            DedupVolume b = pool.createVolume("b", 512, 16L << 20, 4096);
            int bId = b.state().id;
            fill(a, DBLOCKS);
            b.afterCopyPiece = () -> {
                try {
                    pool.deleteVolume("b");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            };

            // the first piece went in while b was live; the next must not land under its id
            IOException e = assertThrows(IOException.class, () -> b.copyFrom(a, 0, 0, DBLOCKS * 8L));
            assertTrue(e.getMessage().contains("deleted"), e.getMessage());
            assertFalse(pool.openVolume("b").isPresent());
            assertEquals(0, entries(pool, bId), "block entries under the deleted volume's id");
            for (ChunkRecord r : AccountingTest.chunks(pool)) {
                assertEquals(1, r.refCount(), "chunk " + r.id() + ": only volume a references it");
            }
            ScrubResult s = pool.verify();
            assertTrue(s.clean(), s.problems()::toString);

            deleteAll(pool);
            assertEquals(0, pool.stats().uniqueChunks(), "every chunk freed once its volumes are gone");
        }
    }

    @Test
    void writeCommittedAfterTheUnmapGoesWithTheDeletedVolume() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 512, 16L << 20, 4096);
            DedupVolume b = pool.createVolume("b", 512, 16L << 20, 4096);
            int bId = b.state().id;
            fill(a, 300);
            fill(b, 40);
            // a copy piece and a write that resolved b before the delete began commit after its unmap
            pool.afterUnmapAll = () -> {
                try {
                    b.copyFrom(a, 0, 0, 300 * 8L);
                    b.write(8L * 500, ByteBuffer.wrap(PoolFixture.random(7, 4096)), false);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            };
            assertTrue(pool.deleteVolume("b"));
            pool.afterUnmapAll = null;

            assertEquals(0, entries(pool, bId), "block entries under the deleted volume's id");
            for (ChunkRecord r : AccountingTest.chunks(pool)) {
                assertEquals(1, r.refCount(), "chunk " + r.id() + ": only volume a references it");
            }
            ScrubResult s = pool.verify();
            assertTrue(s.clean(), s.problems()::toString);
            deleteAll(pool);
            assertEquals(0, pool.stats().uniqueChunks(), "every chunk freed once its volumes are gone");
        }
    }

    @Test
    void scrubFindsBlockEntriesOfAVolumeThatHasNoRecord() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 512, 1L << 20, 4096);
            fill(a, 4);
            assertTrue(pool.verify().clean());
            ChunkRecord r = AccountingTest.chunks(pool).get(0);
            // the leak as it looked: an entry under an unknown volume id with its reference
            // counted, so every refcount agrees with the block map
            try (MetaWriteTxn w = pool.meta().write()) {
                w.putBlock(777, 5, r.id());
                w.putChunk(r.withRefCount(r.refCount() + 1));
                w.commit();
            }
            ScrubResult s = pool.verify();
            assertFalse(s.clean(), "an orphaned block entry must not pass the check");
            assertTrue(s.problems().toString().contains("volume id 777, which has no volume record"),
                    s.problems().toString());
            assertEquals(1, s.problems().size(), s.problems().toString());
        }
    }
}
