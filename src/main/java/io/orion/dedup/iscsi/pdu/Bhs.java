package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Field helpers for the 48-byte Basic Header Segment (RFC 7143 §11.2.1). */
final class Bhs {

    private Bhs() {
    }

    static int u8(ByteBuf b, int i) {
        return b.getUnsignedByte(b.readerIndex() + i);
    }

    static int u16(ByteBuf b, int i) {
        return b.getUnsignedShort(b.readerIndex() + i);
    }

    static int u32(ByteBuf b, int i) {
        return b.getInt(b.readerIndex() + i);
    }

    static long u64(ByteBuf b, int i) {
        return b.getLong(b.readerIndex() + i);
    }

    static int dataSegmentLength(ByteBuf b) {
        return b.getUnsignedMedium(b.readerIndex() + 5);
    }

    static int totalAhsLength(ByteBuf b) {
        return u8(b, 4) * 4;
    }

    /** Writes bytes 0..19: opcode byte, flags, two opcode-specific bytes, AHS 0, DSL, LUN, ITT. */
    static void start(ByteBuf out, int opcodeByte, int flags, int b2, int b3, int dataLength, long lunField,
                      int itt) {
        out.writeByte(opcodeByte);
        out.writeByte(flags);
        out.writeByte(b2);
        out.writeByte(b3);
        out.writeByte(0);
        out.writeMedium(dataLength);
        out.writeLong(lunField);
        out.writeInt(itt);
    }
}
