package io.orion.dedup.containers;

import io.orion.dedup.blockdev.ChecksumMismatchException;
import java.nio.ByteBuffer;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * LZ4 block compression of chunk payloads (at.yawk.lz4 lz4-java). {@code level <= 1} uses the fast
 * compressor; levels 2..17 use the LZ4 HC compressor at that level (slower, smaller). A payload is
 * kept compressed only if its compressed size is at most {@code threshold} times the original.
 *
 * <p>Decompression always goes into a fresh array of exactly the original length (the safe
 * decompressor; see CVE-2025-66566) and fails unless it produces exactly that many bytes.
 */
public final class Compression {
    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[70 * 1024]);
    /** Copy of a read-only heap source (the JNI compressor needs an array or a direct buffer). */
    private static final ThreadLocal<byte[]> SOURCE = ThreadLocal.withInitial(() -> new byte[64 * 1024]);
    private final boolean enabled;
    private final double threshold;
    private final int level;
    private final LZ4Compressor compressor;
    private final LZ4SafeDecompressor decompressor;

    public Compression(boolean enabled, double threshold, int level) {
        if (!(threshold > 0 && threshold <= 1)) {
            throw new IllegalArgumentException("compression threshold must be in (0, 1]: " + threshold);
        }
        LZ4Factory f = LZ4Factory.fastestInstance();
        this.enabled = enabled;
        this.threshold = threshold;
        this.level = level;
        this.compressor = level <= 1 ? f.fastCompressor() : f.highCompressor(Math.min(17, level));
        this.decompressor = f.safeDecompressor();
    }

    public boolean enabled() {
        return enabled;
    }

    /** The configured level ({@code <= 1}: LZ4 fast, 2..17: LZ4 HC). */
    public int level() {
        return level;
    }

    /** True when new payloads are compressed with LZ4 HC (level 2 or more). */
    public boolean highCompression() {
        return level > 1;
    }

    /** True when a compressed payload of {@code compressedLength} bytes is worth keeping for that original. */
    public boolean pays(int compressedLength, int originalLength) {
        return compressedLength <= threshold * originalLength && compressedLength < originalLength;
    }

    /**
     * The compressed form of {@code data}'s remaining bytes (position unchanged) when compression is
     * enabled and the result is at most {@code threshold} of the original, else null.
     */
    public byte[] tryCompress(ByteBuffer data) {
        if (!enabled) {
            return null;
        }
        int orig = data.remaining();
        int max = compressor.maxCompressedLength(orig);
        byte[] scratch = SCRATCH.get();
        if (scratch.length < max) {
            scratch = new byte[max];
            SCRATCH.set(scratch);
        }
        int n = compressor.compress(source(data), 0, orig, ByteBuffer.wrap(scratch), 0, max);
        if (pays(n, orig)) {
            return java.util.Arrays.copyOf(scratch, n);
        }
        return null;
    }

    /** The most bytes {@link #compressInto} can write for an original of {@code originalLength} bytes. */
    public int maxCompressedLength(int originalLength) {
        return compressor.maxCompressedLength(originalLength);
    }

    /**
     * Compresses {@code data}'s remaining bytes (position unchanged) straight into {@code dest} at
     * absolute index {@code destOff} (room for {@link #maxCompressedLength} bytes needed) and returns
     * the compressed length when compression is enabled and pays, else -1 (then the bytes written
     * to {@code dest} from {@code destOff} are undefined and the caller stores the raw payload).
     */
    public int compressInto(ByteBuffer data, ByteBuffer dest, int destOff) {
        if (!enabled) {
            return -1;
        }
        int orig = data.remaining();
        int max = compressor.maxCompressedLength(orig);
        int n = compressor.compress(source(data), 0, orig, dest, destOff, max);
        return pays(n, orig) ? n : -1;
    }

    /**
     * {@code data}'s remaining bytes starting at index 0 of the returned buffer. Array-backed and
     * direct buffers are sliced; a read-only heap buffer (what the SCSI layer hands in) is copied
     * into a per-thread array, because lz4-java's JNI compressor silently falls back to its much
     * slower pure-Java "safe" compressor for buffers that are neither.
     */
    private static ByteBuffer source(ByteBuffer data) {
        if (data.hasArray() || data.isDirect()) {
            return data.slice();
        }
        int n = data.remaining();
        byte[] src = SOURCE.get();
        if (src.length < n) {
            src = new byte[n];
            SOURCE.set(src);
        }
        data.get(data.position(), src, 0, n);
        return ByteBuffer.wrap(src, 0, n);
    }

    /**
     * Builds a complete record for {@code data} (its remaining bytes; position unchanged):
     * compressed when worthwhile, else raw.
     */
    public byte[] buildRecord(long chunkId, byte[] fingerprint, ByteBuffer data) {
        int orig = data.remaining();
        if (enabled) {
            int max = compressor.maxCompressedLength(orig);
            byte[] rec = new byte[RecordFormat.HEADER + max];
            int n = compressor.compress(source(data), 0, orig, ByteBuffer.wrap(rec), RecordFormat.HEADER, max);
            if (pays(n, orig)) {
                byte[] exact = n == max ? rec : java.util.Arrays.copyOf(rec, RecordFormat.HEADER + n);
                RecordFormat.seal(exact, chunkId, fingerprint, RecordFormat.FLAG_LZ4, orig, n);
                return exact;
            }
        }
        byte[] rec = new byte[RecordFormat.HEADER + orig];
        data.duplicate().get(rec, RecordFormat.HEADER, orig);
        RecordFormat.seal(rec, chunkId, fingerprint, 0, orig, orig);
        return rec;
    }

    /**
     * Extracts the original bytes of a checked record (position at the record start) into a fresh
     * array of exactly the original length.
     */
    public byte[] payload(ByteBuffer rec) throws ChecksumMismatchException {
        int flags = RecordFormat.flags(rec);
        int orig = RecordFormat.originalLength(rec);
        int plen = RecordFormat.payloadLength(rec);
        byte[] out = new byte[orig];
        ByteBuffer src = rec.duplicate();
        src.position(rec.position() + RecordFormat.HEADER).limit(rec.position() + RecordFormat.HEADER + plen);
        if ((flags & RecordFormat.FLAG_LZ4) == 0) {
            if (plen != orig) {
                throw new ChecksumMismatchException("raw record length " + plen + " differs from original " + orig);
            }
            src.get(out);
            return out;
        }
        try {
            int n = decompressor.decompress(src, src.position(), plen, ByteBuffer.wrap(out), 0, orig);
            if (n != orig) {
                throw new ChecksumMismatchException("LZ4 payload decompressed to " + n + " bytes, expected " + orig);
            }
        } catch (LZ4Exception e) {
            throw new ChecksumMismatchException("LZ4 payload is damaged: " + e.getMessage());
        }
        return out;
    }
}
