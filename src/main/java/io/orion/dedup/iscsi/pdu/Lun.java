package io.orion.dedup.iscsi.pdu;

/**
 * The 8-byte LUN field of the BHS (RFC 7143 §11.2.1.5, SAM-5 §4.6): peripheral (method 00b) and
 * flat (method 01b) single-level addressing, which cover LUNs 0..16383.
 */
public final class Lun {

    /** Value returned for addressing methods this target does not use. */
    public static final long UNSUPPORTED = -1L;

    private Lun() {
    }

    /** Decodes the raw 64-bit LUN field to a LUN number, or {@link #UNSUPPORTED}. */
    public static long decode(long raw) {
        int b0 = (int) (raw >>> 56) & 0xff;
        int b1 = (int) (raw >>> 48) & 0xff;
        if ((raw & 0x0000_ffff_ffff_ffffL) != 0) {
            return UNSUPPORTED;
        }
        return switch (b0 >>> 6) {
            case 0 -> b0 == 0 ? b1 : UNSUPPORTED;
            case 1 -> ((long) (b0 & 0x3f) << 8) | b1;
            default -> UNSUPPORTED;
        };
    }

    /** Encodes a LUN number 0..16383 (peripheral below 256, flat above). */
    public static long encode(long lun) {
        if (lun < 0 || lun > 0x3fff) {
            throw new IllegalArgumentException("LUN out of range: " + lun);
        }
        if (lun < 256) {
            return lun << 48;
        }
        return ((0x40L | (lun >>> 8)) << 56) | ((lun & 0xff) << 48);
    }
}
