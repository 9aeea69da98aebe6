package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Asynchronous Message (RFC 7143 §11.9). */
public record AsyncMessage(long lunField, int statSN, int expCmdSN, int maxCmdSN, int asyncEvent, int asyncVCode,
                           int parameter1, int parameter2, int parameter3, ByteBuf data) implements OutboundPdu {

    /** AsyncEvent 1: the target requests a logout within Parameter3 seconds. */
    public static final int LOGOUT_REQUESTED = 1;
    /** AsyncEvent 3: the target drops all connections of the session. */
    public static final int DROPPING_ALL_CONNECTIONS = 3;

    @Override
    public Opcode opcode() {
        return Opcode.ASYNC_MESSAGE;
    }

    @Override
    public void writeBhs(ByteBuf out) {
        Bhs.start(out, 0x32, 0x80, 0, 0, data.readableBytes(), lunField, Pdu.NO_TAG);
        out.writeInt(0).writeInt(statSN).writeInt(expCmdSN).writeInt(maxCmdSN);
        out.writeByte(asyncEvent).writeByte(asyncVCode).writeShort(parameter1).writeShort(parameter2)
                .writeShort(parameter3).writeInt(0);
    }
}
