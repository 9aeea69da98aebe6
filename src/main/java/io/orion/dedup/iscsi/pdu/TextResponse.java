package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Text Response (RFC 7143 §11.11); {@code cont} with a TTT asks for an empty Text Request. */
public record TextResponse(boolean fin, boolean cont, long lunField, int itt, int ttt, int statSN, int expCmdSN,
                           int maxCmdSN, ByteBuf data) implements OutboundPdu {

    @Override
    public Opcode opcode() {
        return Opcode.TEXT_RESPONSE;
    }

    @Override
    public void writeBhs(ByteBuf out) {
        Bhs.start(out, 0x24, (fin ? 0x80 : 0) | (cont ? 0x40 : 0), 0, 0, data.readableBytes(), lunField, itt);
        out.writeInt(ttt).writeInt(statSN).writeInt(expCmdSN).writeInt(maxCmdSN);
        out.writeZero(12);
    }
}
