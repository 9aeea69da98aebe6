package io.orion.dedup.estimate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A read error ends the estimate with that error (no hang, no figures), and progress reaches the size. */
class EstimatorFailureTest {

    /** {@code size} bytes of a counter pattern; fails at {@code failAt} (or never when negative). */
    private static ImageSource source(long size, long failAt) {
        return new ImageSource() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public String describe() {
                return "test source";
            }

            @Override
            public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
                if (failAt >= 0 && offset + length > failAt) {
                    throw new IOException("medium error at byte " + failAt);
                }
                for (int i = 0; i < length; i++) {
                    dst[dstOffset + i] = (byte) ((offset + i) / 4096 % 7 + 1);
                }
            }

            @Override
            public void close() {
            }
        };
    }

    private static EstimateSettings settings() {
        return new EstimateSettings(new int[] {4096, 65536}, true, 1, 0.8, 65536, 4 << 20, 2);
    }

    @Test
    @Timeout(60)
    void aReadErrorEndsTheEstimateWithIt() {
        IOException e = assertThrows(IOException.class,
                () -> new Estimator(source(40L << 20, 21L << 20), settings()).run(d -> { }, 20));
        assertTrue(e.getMessage().contains("medium error at byte"), e.getMessage());
    }

    @Test
    @Timeout(60)
    void progressReachesTheSizeAndFiguresFollowTheContent() throws Exception {
        List<Long> seen = new ArrayList<>();
        long size = (10L << 20) + 512;
        EstimateReport r = new Estimator(source(size, -1), settings()).run(seen::add, 5);
        assertEquals(size, seen.get(seen.size() - 1));
        SizeEstimate k4 = r.blockSizes().get(0);
        assertEquals(2561, k4.logicalBlocks(), "a partial last block counts as one");
        assertEquals(8, k4.uniqueChunks(), "7 patterns, and the partial block padded with zeros");
    }
}
