package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** NOP-In (RFC 7143 §11.19): the answer to a NOP-Out ping, or a target ping (TTT != 0xffffffff). */
public record NopIn(long lunField, int itt, int ttt, int statSN, int expCmdSN, int maxCmdSN, ByteBuf data)
        implements OutboundPdu {

    @Override
    public Opcode opcode() {
        return Opcode.NOP_IN;
    }

    @Override
    public void writeBhs(ByteBuf out) {
        Bhs.start(out, 0x20, 0x80, 0, 0, data.readableBytes(), lunField, itt);
        out.writeInt(ttt).writeInt(statSN).writeInt(expCmdSN).writeInt(maxCmdSN);
        out.writeZero(12);
    }
}
