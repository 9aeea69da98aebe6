package io.orion.dedup.dedup;

import java.nio.ByteBuffer;

/** Detects all-zero blocks (vectorised comparison against a shared zero buffer). */
public final class ZeroBlocks {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    private ZeroBlocks() {
    }

    /** True if every remaining byte of {@code b} is zero (position unchanged). */
    public static boolean isZero(ByteBuffer b) {
        int n = b.remaining();
        int p = b.position();
        while (n > 0) {
            int len = Math.min(n, ZEROS.capacity());
            if (b.slice(p, len).mismatch(ZEROS.slice(0, len)) >= 0) {
                return false;
            }
            p += len;
            n -= len;
        }
        return true;
    }
}
