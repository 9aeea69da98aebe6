package io.orion.dedup.estimate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fingerprint table counts exactly while it fits, and samples by content within its memory when it does not. */
class FingerprintTableTest {

    @Test
    void countsEveryReferenceExactlyWhileItFits() {
        FingerprintTable t = new FingerprintTable(1 << 20);
        Random rnd = new Random(5);
        long[] keys = new long[5000];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = rnd.nextLong();
        }
        keys[7] = 0; // stored as 1, still counted
        int news = 0;
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i <= round * 2000 && i < keys.length; i++) {
                news += t.add(keys[i]) == FingerprintTable.NEW ? 1 : 0;
            }
        }
        assertEquals(4001, news);
        assertEquals(4001, t.size());
        assertEquals(0, t.shift());
        long[] refs = new long[1];
        t.forEach((r, s) -> refs[0] += r);
        assertEquals(1 + 2001 + 4001, refs[0]);
    }

    @Test
    void samplesByContentWithinItsMemory() {
        FingerprintTable t = new FingerprintTable(64 * 1024);
        Random rnd = new Random(9);
        int distinct = 200_000;
        for (int i = 0; i < distinct; i++) {
            long k = rnd.nextLong();
            t.add(k);
            t.add(k); // every block twice: the sample must keep both references of what it keeps
        }
        assertTrue(t.shift() > 0, "sampling began");
        assertTrue(t.bytes() <= 64 * 1024, "memory bound kept: " + t.bytes());
        long scaled = (long) t.size() << t.shift();
        assertTrue(Math.abs(scaled - distinct) < distinct * 0.15, "scaled distinct " + scaled + " vs " + distinct);
        t.forEach((r, s) -> assertEquals(2, r));
    }

    @Test
    void estimatorScalesASampleAndSaysSo(@TempDir Path dir) throws Exception {
        Random rnd = new Random(11);
        byte[] img = new byte[8 << 20];
        byte[] blk = new byte[4096];
        for (int i = 0; i < 1024; i++) {
            rnd.nextBytes(blk);
            System.arraycopy(blk, 0, img, i * 4096, 4096);
            System.arraycopy(blk, 0, img, (4 << 20) + i * 4096, 4096);
        }
        Path f = Files.write(dir.resolve("s.img"), img);
        EstimateSettings s = new EstimateSettings(new int[] {4096}, true, 1, 0.8, 65536, 16 * 1024, 2);
        try (FileImageSource src = FileImageSource.open(f)) {
            SizeEstimate e = new Estimator(src, s).run(d -> { }, 50).blockSizes().get(0);
            assertTrue(!e.exact() && e.sampling() >= 2, e.toString());
            assertEquals(2048, e.logicalBlocks(), "block counts stay exact");
            assertTrue(Math.abs(e.uniqueChunks() - 1024) < 1024 * 0.2, "unique ≈ 1024: " + e.uniqueChunks());
            assertTrue(Math.abs(e.storedBytes() - 1024L * (4096 + 60)) < 1024L * 4156 * 0.2, e.toString());
            assertEquals(1, e.histogram().size());
            assertEquals(2, e.histogram().get(0).maxRefcount());
            assertTrue(ByteBuffer.wrap(img).getLong() != 0);
        }
    }
}
