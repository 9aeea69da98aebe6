package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Text Request (RFC 7143 §11.10). */
public record TextRequest(boolean immediate, boolean fin, boolean cont, long lunField, int itt, int ttt,
                          int cmdSN, int expStatSN, ByteBuf data) implements InboundPdu {

    static TextRequest decode(ByteBuf bhs, ByteBuf data) {
        int flags = Bhs.u8(bhs, 1);
        return new TextRequest((Bhs.u8(bhs, 0) & 0x40) != 0, (flags & 0x80) != 0, (flags & 0x40) != 0,
                Bhs.u64(bhs, 8), Bhs.u32(bhs, 16), Bhs.u32(bhs, 20), Bhs.u32(bhs, 24), Bhs.u32(bhs, 28), data);
    }

    @Override
    public Opcode opcode() {
        return Opcode.TEXT_REQUEST;
    }
}
