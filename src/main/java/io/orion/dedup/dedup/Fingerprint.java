package io.orion.dedup.dedup;

import java.util.Arrays;
import java.util.HexFormat;

/** A SHA-256 fingerprint of one dedup block (32 bytes), usable as a hash key. */
public final class Fingerprint {
    public static final int LENGTH = 32;
    /**
     * The fingerprint of a chunk not hashed yet (32 zero bytes): the chunks of post-process and
     * no-dedup volumes until the post-process pass hashes them ({@code RecordFormat.FLAG_UNHASHED}).
     */
    public static final Fingerprint UNHASHED = new Fingerprint(new byte[LENGTH]);
    private final byte[] bytes;
    private final int hash;

    public Fingerprint(byte[] bytes) {
        if (bytes.length != LENGTH) {
            throw new IllegalArgumentException("fingerprint must be 32 bytes: " + bytes.length);
        }
        this.bytes = bytes;
        this.hash = (bytes[0] & 0xff) << 24 | (bytes[1] & 0xff) << 16 | (bytes[2] & 0xff) << 8 | (bytes[3] & 0xff);
    }

    /** The raw digest (not copied: callers must not modify it). */
    public byte[] bytes() {
        return bytes;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Fingerprint f && f.hash == hash && Arrays.equals(f.bytes, bytes);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public String toString() {
        return HexFormat.of().formatHex(bytes);
    }
}
