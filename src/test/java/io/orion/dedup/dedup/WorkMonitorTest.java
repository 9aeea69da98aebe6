package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.containers.RecordFormat;
import io.orion.dedup.containers.SlotHeader;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine's background passes under a {@link WorkMonitor}: they report progress against the
 * total they announce, stop when cancelled leaving the metadata consistent (the scrub and the
 * accounting check find nothing, every block reads back, a later pass finishes the work), and the
 * scrub traces a damaged chunk to the LBA ranges that map it.
 */
class WorkMonitorTest {
    @TempDir
    Path dir;

    /** Counts progress; says "cancelled" once {@code cancelAfter} bytes are done. */
    static final class Monitor implements WorkMonitor {
        final long cancelAfter;
        final AtomicLong done = new AtomicLong();
        volatile long total = -1;
        volatile boolean asked;

        Monitor(long cancelAfter) {
            this.cancelAfter = cancelAfter;
        }

        @Override
        public void begin(long totalBytes) {
            total = totalBytes;
        }

        @Override
        public void advance(long bytes) {
            done.addAndGet(bytes);
        }

        @Override
        public boolean cancelled() {
            asked = true;
            return done.get() >= cancelAfter;
        }

        @Override
        public long rate(long engineDefault) {
            return 0;
        }
    }

    @Test
    void scrubReportsProgressAgainstStoredBytesAndStopsWhenCancelled() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1024 * 4096L, 4096);
            for (int lba = 0; lba < 1024; lba++) {
                v.write(lba, ByteBuffer.wrap(PoolFixture.random(lba, 4096)), false);
            }
            pool.flush();
            long stored = pool.stats().storedBytes();

            Monitor all = new Monitor(Long.MAX_VALUE);
            ScrubResult full = pool.verify(all);
            assertTrue(full.clean(), full.toString());
            assertFalse(full.cancelled());
            assertEquals(stored, all.total);
            assertEquals(stored, all.done.get(), "every record byte read is reported");
            assertEquals(1024, full.chunksChecked());
            assertEquals(1024, full.mappedBlocks(), "the block map was walked");

            Monitor part = new Monitor(stored / 4);
            ScrubResult cut = pool.verify(part);
            assertTrue(cut.cancelled());
            assertTrue(cut.chunksChecked() > 0 && cut.chunksChecked() < 1024, "stopped early: " + cut.chunksChecked());
            assertEquals(0, cut.mappedBlocks(), "a cancelled scrub does not start the block-map walk");
        }
    }

    @Test
    void scrubNamesTheLbaRangesADamagedChunkAffects() throws Exception {
        byte[] a = PoolFixture.random(1, 4096);
        byte[] b = PoolFixture.random(2, 4096);
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build())) {
            DedupVolume v = pool.createVolume("lun", 512, 1 << 24, 4096);
            v.write(0, ByteBuffer.wrap(a), false);                     // LBA 0-7: chunk a (first record)
            v.write(8, ByteBuffer.wrap(b), false);                     // LBA 8-15: chunk b
            ByteBuffer three = ByteBuffer.allocate(3 * 4096);
            three.put(a).put(a).put(a).flip();
            v.write(40, three, false);                                 // LBA 40-63: chunk a again
            pool.cloneVolume("lun", "copy", false);                   // the clone maps a at the same LBAs
            pool.flush();
        }
        try (RandomAccessFile r = new RandomAccessFile(dir.resolve("data/dev0.img").toFile(), "rw")) {
            long pos = SlotHeader.SIZE + RecordFormat.HEADER + 100;
            r.seek(pos);
            int x = r.read();
            r.seek(pos);
            r.write(x ^ 0x01);
        }
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build())) {
            ScrubResult s = pool.verify(new Monitor(Long.MAX_VALUE));
            assertEquals(1, s.crcErrors());
            assertEquals(0, s.mapErrors());
            List<String> got = s.affected().stream()
                    .map(x -> x.volume() + ":" + x.firstLba() + "-" + x.lastLba()).sorted().toList();
            assertEquals(List.of("copy:0-7", "copy:40-63", "lun:0-7", "lun:40-63"), got);
            long chunk = s.affected().get(0).chunk();
            assertTrue(s.affected().stream().allMatch(x -> x.chunk() == chunk && x.problem().contains("CRC")),
                    s.affected().toString());
            assertFalse(s.clean());
        }
    }

    private static byte[] content(int lba, int gen) {
        return PoolFixture.random(lba * 31L + gen * 1_000_003L, 4096);
    }

    @Test
    void cancelledCleanupLeavesConsistentMetadataAndTheNextRunFinishes() throws Exception {
        int blocks = 2048;
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).gcBytesPerSecond(1L << 30).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, blocks * 4096L, 4096);
            for (int lba = 0; lba < blocks; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 0)), false);
            }
            for (int lba = 0; lba < blocks; lba++) {
                if (lba % 4 != 0) {
                    v.write(lba, ByteBuffer.wrap(content(lba, 1)), false);
                }
            }
            pool.flush();
            long reclaimable = pool.stats().reclaimableBytes();
            assertTrue(reclaimable > 0);

            Monitor m = new Monitor(256 * 1024);
            CleanupResult cut = pool.cleanup(m);
            assertTrue(cut.cancelled(), cut.toString());
            assertTrue(m.total > m.done.get() && m.done.get() >= 256 * 1024, m.done + " of " + m.total);
            assertTrue(pool.stats().reclaimableBytes() > 0, "work is left for the next run");

            ScrubResult s = pool.verify();
            assertTrue(s.clean(), "metadata consistent after the cancel: " + s.problems());
            for (int lba = 0; lba < blocks; lba++) {
                assertArrayEquals(content(lba, lba % 4 == 0 ? 0 : 1), PoolFixture.read(v, lba, 1).array(), "lba " + lba);
            }

            Monitor rest = new Monitor(Long.MAX_VALUE);
            CleanupResult done = pool.cleanup(rest);
            assertFalse(done.cancelled());
            assertEquals(rest.total, rest.done.get(), "progress reaches the total");
            assertTrue(done.containersCompacted() > 0);
            assertTrue(pool.verify().clean());
        }
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).build())) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 0; lba < blocks; lba += 7) {
                assertArrayEquals(content(lba, lba % 4 == 0 ? 0 : 1), PoolFixture.read(v, lba, 1).array(), "lba " + lba);
            }
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void cancelledRecompressionLeavesExactAccountingAndTheNextPassFinishes() throws Exception {
        RecompressTest.writeRaw(dir);
        try (DedupPool pool = PoolFixture.open(dir)) {
            long stored = pool.stats().storedBytes();
            Monitor m = new Monitor(stored / 3);
            RecompressResult cut = pool.recompress(m);
            assertTrue(cut.limitReached(), "a cancelled pass says where to resume: " + cut);
            assertEquals(stored, m.total);
            assertTrue(cut.chunksRecompressed() > 0, cut.toString());
            RecompressTest.assertAccountingExact(pool);
            RecompressTest.assertContent(pool);
            assertTrue(pool.verify().clean());

            RecompressResult rest = pool.recompress(new Monitor(Long.MAX_VALUE));
            assertFalse(rest.limitReached());
            assertTrue(rest.chunksRecompressed() > 0, "the second pass does the rest: " + rest);
            assertEquals(RecompressTest.distinctCompressible(), cut.chunksRecompressed() + rest.chunksRecompressed());
            RecompressTest.assertAccountingExact(pool);
            RecompressTest.assertContent(pool);
        }
    }
}
