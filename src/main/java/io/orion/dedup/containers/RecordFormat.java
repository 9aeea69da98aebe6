package io.orion.dedup.containers;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Byte layout of one chunk record inside a container (see docs/on-disk-format.md). Records are
 * packed back to back without padding; each one describes itself so that a container can be
 * scanned, checked and used to rebuild the fingerprint index:
 *
 * <pre>
 *  off len field
 *    0   4 magic "ORCR" (0x4F524352)
 *    4   1 version (1)
 *    5   1 flags (bit 0: payload is LZ4 block-compressed; bit 1: unhashed, fingerprint all zeros)
 *    6   2 reserved, zero
 *    8   8 chunk id
 *   16   4 original (uncompressed) length
 *   20   4 payload length
 *   24  32 SHA-256 fingerprint of the original bytes
 *   56   4 CRC32C over bytes 0..55 and the payload
 *   60   n payload
 * </pre>
 *
 * All integers are big-endian.
 */
public final class RecordFormat {
    public static final int MAGIC = 0x4F524352;
    public static final int VERSION = 1;
    public static final int HEADER = 60;
    public static final int FLAG_LZ4 = 1;
    /**
     * The record carries no fingerprint (32 zero bytes): written by a post-process or no-dedup
     * volume, which does not hash on the write path. The chunk's fingerprint, once the post-process
     * pass computed it, lives in the metadata only.
     */
    public static final int FLAG_UNHASHED = 2;
    public static final int FINGERPRINT_LENGTH = 32;
    /** Largest original chunk the format accepts (the largest dedup block size). */
    public static final int MAX_ORIGINAL = 64 * 1024;

    private static final int CRC_OFFSET = 56;

    private RecordFormat() {
    }

    /**
     * Fills the header of a record whose payload already sits at {@code rec[HEADER..HEADER+payloadLength)}
     * and computes its CRC.
     */
    public static void seal(byte[] rec, long chunkId, byte[] fingerprint, int flags, int originalLength,
                            int payloadLength) {
        seal(rec, 0, chunkId, fingerprint, flags, originalLength, payloadLength);
    }

    /** As {@link #seal(byte[], long, byte[], int, int, int)} for a record starting at {@code off}. */
    public static void seal(byte[] buf, int off, long chunkId, byte[] fingerprint, int flags, int originalLength,
                            int payloadLength) {
        ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.BIG_ENDIAN);
        b.putInt(off, MAGIC);
        b.put(off + 4, (byte) VERSION);
        b.put(off + 5, (byte) flags);
        b.putShort(off + 6, (short) 0);
        b.putLong(off + 8, chunkId);
        b.putInt(off + 16, originalLength);
        b.putInt(off + 20, payloadLength);
        System.arraycopy(fingerprint, 0, buf, off + 24, FINGERPRINT_LENGTH);
        CRC32C crc = new CRC32C();
        crc.update(buf, off, CRC_OFFSET);
        crc.update(buf, off + HEADER, payloadLength);
        b.putInt(off + CRC_OFFSET, (int) crc.getValue());
    }

    /** As {@link #seal(byte[], int, long, byte[], int, int, int)} for any (heap or direct) buffer. */
    public static void seal(ByteBuffer buf, int off, long chunkId, byte[] fingerprint, int flags, int originalLength,
                            int payloadLength) {
        ByteBuffer b = buf.duplicate().order(ByteOrder.BIG_ENDIAN);
        b.putInt(off, MAGIC);
        b.put(off + 4, (byte) VERSION);
        b.put(off + 5, (byte) flags);
        b.putShort(off + 6, (short) 0);
        b.putLong(off + 8, chunkId);
        b.putInt(off + 16, originalLength);
        b.putInt(off + 20, payloadLength);
        b.put(off + 24, fingerprint, 0, FINGERPRINT_LENGTH);
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().limit(off + CRC_OFFSET).position(off));
        crc.update(b.duplicate().limit(off + HEADER + payloadLength).position(off + HEADER));
        b.putInt(off + CRC_OFFSET, (int) crc.getValue());
    }

    /**
     * Checks the record that starts at {@code rec}'s position and spans its remaining bytes.
     *
     * @param expectedChunkId the chunk id the caller expects, or -1 for any
     * @return null when the record is whole and correct, else why not
     */
    public static String check(ByteBuffer rec, long expectedChunkId) {
        int p = rec.position();
        int n = rec.remaining();
        if (n < HEADER) {
            return "record shorter than its header (" + n + " bytes)";
        }
        ByteBuffer b = rec.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (b.getInt(p) != MAGIC) {
            return "bad record magic";
        }
        if (b.get(p + 4) != VERSION) {
            return "unknown record version " + b.get(p + 4);
        }
        long id = b.getLong(p + 8);
        if (expectedChunkId >= 0 && id != expectedChunkId) {
            return "record holds chunk " + id + ", expected " + expectedChunkId;
        }
        int orig = b.getInt(p + 16);
        int payload = b.getInt(p + 20);
        if (orig <= 0 || orig > MAX_ORIGINAL || payload < 0 || payload > MAX_ORIGINAL + 1024) {
            return "implausible record lengths " + orig + "/" + payload;
        }
        if (HEADER + payload != n) {
            return "record length " + n + " does not match its header (" + (HEADER + payload) + ")";
        }
        CRC32C crc = new CRC32C();
        b.limit(p + CRC_OFFSET);
        crc.update(b); // moves b's position to p + CRC_OFFSET
        b.limit(p + n).position(p + HEADER);
        crc.update(b);
        if ((int) crc.getValue() != b.getInt(p + CRC_OFFSET)) {
            return "CRC32C mismatch";
        }
        return null;
    }

    /** Total record length announced by a header at {@code rec}'s position, or -1 if no header. */
    public static int announcedLength(ByteBuffer rec) {
        int p = rec.position();
        if (rec.remaining() < HEADER) {
            return -1;
        }
        ByteBuffer b = rec.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (b.getInt(p) != MAGIC) {
            return -1;
        }
        int payload = b.getInt(p + 20);
        if (payload < 0 || payload > MAX_ORIGINAL + 1024) {
            return -1;
        }
        return HEADER + payload;
    }

    public static long chunkId(ByteBuffer rec) {
        return rec.order(ByteOrder.BIG_ENDIAN).getLong(rec.position() + 8);
    }

    public static int flags(ByteBuffer rec) {
        return rec.get(rec.position() + 5) & 0xff;
    }

    public static int originalLength(ByteBuffer rec) {
        return rec.duplicate().order(ByteOrder.BIG_ENDIAN).getInt(rec.position() + 16);
    }

    public static int payloadLength(ByteBuffer rec) {
        return rec.duplicate().order(ByteOrder.BIG_ENDIAN).getInt(rec.position() + 20);
    }

    /** True if {@code fp} is the "no fingerprint" value (32 zero bytes) of an unhashed chunk. */
    public static boolean unhashed(byte[] fp) {
        for (byte b : fp) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * True if the record at {@code rec}'s position may hold the chunk whose metadata fingerprint is
     * {@code chunkFingerprint}: its header carries that fingerprint, or it carries none
     * ({@link #FLAG_UNHASHED}; the CRC and chunk id still identify it).
     */
    public static boolean fingerprintMatches(ByteBuffer rec, byte[] chunkFingerprint) {
        if ((flags(rec) & FLAG_UNHASHED) != 0) {
            return true;
        }
        if (chunkFingerprint.length != FINGERPRINT_LENGTH) {
            return false;
        }
        // compared in place, eight bytes at a time (no copy of the record's fingerprint)
        int at = rec.position() + 24;
        boolean big = rec.order() == ByteOrder.BIG_ENDIAN;
        for (int i = 0; i < FINGERPRINT_LENGTH; i += 8) {
            long v = rec.getLong(at + i);
            if ((big ? v : Long.reverseBytes(v)) != (long) BIG_LONG.get(chunkFingerprint, i)) {
                return false;
            }
        }
        return true;
    }

    private static final java.lang.invoke.VarHandle BIG_LONG =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    public static byte[] fingerprint(ByteBuffer rec) {
        byte[] fp = new byte[FINGERPRINT_LENGTH];
        rec.duplicate().position(rec.position() + 24).get(fp);
        return fp;
    }
}
