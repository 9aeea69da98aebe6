package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * NOP-Out (RFC 7143 §11.18): a ping from the initiator (ITT != 0xffffffff) or the answer to a
 * target NOP-In (TTT != 0xffffffff).
 */
public record NopOut(boolean immediate, long lunField, int itt, int ttt, int cmdSN, int expStatSN,
                     ByteBuf data) implements InboundPdu {

    static NopOut decode(ByteBuf bhs, ByteBuf data) {
        return new NopOut((Bhs.u8(bhs, 0) & 0x40) != 0, Bhs.u64(bhs, 8), Bhs.u32(bhs, 16),
                Bhs.u32(bhs, 20), Bhs.u32(bhs, 24), Bhs.u32(bhs, 28), data);
    }

    @Override
    public Opcode opcode() {
        return Opcode.NOP_OUT;
    }
}
