package io.orion.dedup.containers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The journal's changes records (docs/on-disk-format.md, "Journal records"): an UNMAP, a WRITE
 * SAME of zeros or a deletion of N blocks costs one range entry, not 8 bytes a block, and every
 * sequence of changes reads back as it was built.
 */
class JournalFormatTest {

    /** What a reader sees, one line per block. */
    private static List<String> expand(List<byte[]> records) {
        List<String> out = new ArrayList<>();
        for (byte[] r : records) {
            ByteBuffer b = ByteBuffer.wrap(r);
            assertNull(JournalFormat.check(b));
            assertEquals(JournalFormat.TYPE_CHANGES, JournalFormat.type(b));
            JournalFormat.readChanges(JournalFormat.payload(b), new JournalFormat.ChangeVisitor() {
                @Override
                public void map(int volume, long dblock, long chunkId) {
                    out.add(volume + ":" + dblock + "=" + chunkId);
                }

                @Override
                public void location(long chunkId, int containerId, int offset, int length) {
                    out.add("chunk " + chunkId + " at " + containerId + "/" + offset + "+" + length);
                }
            });
        }
        return out;
    }

    private static List<byte[]> records(JournalFormat.ChangesBuilder b) {
        AtomicLong seq = new AtomicLong(100);
        return b.records(seq::incrementAndGet);
    }

    @Test
    void anUnmapOfManyBlocksIsOneRecordOfAFewDozenBytes() {
        JournalFormat.ChangesBuilder b = new JournalFormat.ChangesBuilder();
        for (long db = 1000; db < 1000 + 131072; db++) { // 512 MiB of 4 KiB blocks
            b.map(3, db, JournalFormat.UNMAPPED);
        }
        List<byte[]> recs = records(b);
        assertEquals(1, recs.size());
        assertEquals(JournalFormat.HEADER + JournalFormat.RANGE_BYTES, recs.get(0).length);
        long[] seen = new long[4];
        JournalFormat.readChanges(JournalFormat.payload(ByteBuffer.wrap(recs.get(0))),
                new JournalFormat.ChangeVisitor() {
                    @Override
                    public void map(int volume, long dblock, long chunkId) {
                        throw new AssertionError("a block-map entry where a range was journaled");
                    }

                    @Override
                    public void location(long chunkId, int containerId, int offset, int length) {
                        throw new AssertionError();
                    }

                    @Override
                    public void range(int volume, long first, long count, long chunkId) {
                        seen[0] = volume;
                        seen[1] = first;
                        seen[2] = count;
                        seen[3] = chunkId;
                    }
                });
        assertEquals(List.of(3L, 1000L, 131072L, JournalFormat.UNMAPPED), List.of(seen[0], seen[1], seen[2], seen[3]));
    }

    @Test
    void zeroRangesUnmapRangesAndDataReadBackInTheirOrder() {
        JournalFormat.ChangesBuilder b = new JournalFormat.ChangesBuilder();
        List<String> want = new ArrayList<>();
        for (long db = 0; db < 5000; db++) { // data, with zero runs of every length in between
            long c = (db % 97) < (db / 97) % 9 ? JournalFormat.ZERO : 10_000 + db;
            b.map(1, db, c);
            want.add("1:" + db + "=" + c);
        }
        b.location(77, new Location(5, 4096, 300));
        want.add("chunk 77 at 5/4096+300");
        b.range(2, 10, 3000, JournalFormat.ZERO);
        for (long db = 10; db < 3010; db++) {
            want.add("2:" + db + "=" + JournalFormat.ZERO);
        }
        b.map(2, 3010, JournalFormat.ZERO); // continues the range
        want.add("2:3010=" + JournalFormat.ZERO);
        for (long db = 50; db < 60; db++) {
            b.map(2, db, JournalFormat.UNMAPPED);
            want.add("2:" + db + "=" + JournalFormat.UNMAPPED);
        }
        b.map(2, 60, 5); // a later change of a block just named: it comes after
        want.add("2:60=5");
        List<byte[]> recs = records(b);
        assertEquals(want, expand(recs));
        int bytes = recs.stream().mapToInt(r -> r.length).sum();
        assertTrue(bytes < 5000 * 8 + 3 * 1024, "short zero runs stay inline: " + bytes + " bytes");
    }

    @Test
    void aZeroRangeIsOneEntryAndAnIsolatedZeroBlockStaysInline() {
        JournalFormat.ChangesBuilder zeros = new JournalFormat.ChangesBuilder();
        zeros.range(1, 0, 1L << 30, JournalFormat.ZERO); // 4 TiB written as zeros
        assertEquals(JournalFormat.HEADER + JournalFormat.RANGE_BYTES, records(zeros).get(0).length);

        JournalFormat.ChangesBuilder mixed = new JournalFormat.ChangesBuilder();
        mixed.map(1, 0, 42);
        mixed.map(1, 1, JournalFormat.ZERO);
        mixed.map(1, 2, 43);
        // one block-map run of three blocks: tag, volume, first, count and 3 × 8
        assertEquals(JournalFormat.HEADER + 17 + 3 * 8, records(mixed).get(0).length);
    }
}
