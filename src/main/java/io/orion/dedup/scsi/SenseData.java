package io.orion.dedup.scsi;

/**
 * Builds sense data in fixed (response code 70h, SPC-4 §4.5.3) or descriptor (72h, SPC-4 §4.5.2)
 * format; the control mode page's D_SENSE bit chooses which (SPC-4 §7.5.8).
 */
public final class SenseData {

    private SenseData() {
    }

    public static byte[] build(SenseReason reason, boolean descriptor) {
        return build(new SenseException(reason), descriptor);
    }

    public static byte[] build(SenseException e, boolean descriptor) {
        return descriptor ? descriptor(e) : fixed(e);
    }

    private static byte[] fixed(SenseException e) {
        byte[] s = new byte[18];
        SenseReason r = e.reason();
        s[0] = (byte) 0x70;
        s[2] = (byte) r.key();
        if (e.information() != null) {
            s[0] |= (byte) 0x80;
            long info = e.information();
            s[3] = (byte) (info >>> 24);
            s[4] = (byte) (info >>> 16);
            s[5] = (byte) (info >>> 8);
            s[6] = (byte) info;
        }
        s[7] = 10;
        s[12] = (byte) r.asc();
        s[13] = (byte) r.ascq();
        if (e.fieldPointer() >= 0) {
            writeSks(s, 15, e);
        }
        return s;
    }

    private static byte[] descriptor(SenseException e) {
        SenseReason r = e.reason();
        int len = 8 + (e.information() != null ? 12 : 0) + (e.fieldPointer() >= 0 ? 8 : 0);
        byte[] s = new byte[len];
        s[0] = (byte) 0x72;
        s[1] = (byte) r.key();
        s[2] = (byte) r.asc();
        s[3] = (byte) r.ascq();
        s[7] = (byte) (len - 8);
        int at = 8;
        if (e.information() != null) {
            s[at] = 0x00;
            s[at + 1] = 0x0a;
            s[at + 2] = (byte) 0x80;
            long info = e.information();
            for (int i = 0; i < 8; i++) {
                s[at + 4 + i] = (byte) (info >>> (56 - 8 * i));
            }
            at += 12;
        }
        if (e.fieldPointer() >= 0) {
            s[at] = 0x02;
            s[at + 1] = 0x06;
            writeSks(s, at + 4, e);
        }
        return s;
    }

    private static void writeSks(byte[] s, int at, SenseException e) {
        int b = 0x80;
        if (e.inCdb()) {
            b |= 0x40;
        }
        if (e.bitPointer() >= 0) {
            b |= 0x08 | (e.bitPointer() & 7);
        }
        s[at] = (byte) b;
        s[at + 1] = (byte) (e.fieldPointer() >>> 8);
        s[at + 2] = (byte) e.fieldPointer();
    }
}
