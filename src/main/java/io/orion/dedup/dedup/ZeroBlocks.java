package io.orion.dedup.dedup;

import java.nio.ByteBuffer;

/** Detects all-zero blocks (vectorised comparison against a shared zero buffer). */
public final class ZeroBlocks {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();
    private static final byte[] ZERO_ARRAY = new byte[64 * 1024];

    private ZeroBlocks() {
    }

    /** True if every remaining byte of {@code b} is zero (position unchanged). */
    public static boolean isZero(ByteBuffer b) {
        int n = b.remaining();
        int p = b.position();
        if (b.hasArray()) {
            byte[] a = b.array();
            int base = b.arrayOffset() + p;
            while (n > 0) {
                int len = Math.min(n, ZERO_ARRAY.length);
                if (java.util.Arrays.mismatch(a, base, base + len, ZERO_ARRAY, 0, len) >= 0) {
                    return false;
                }
                base += len;
                n -= len;
            }
            return true;
        }
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
