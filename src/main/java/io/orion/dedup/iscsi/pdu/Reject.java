package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Reject (RFC 7143 §11.17); the data segment is the complete header of the rejected PDU. */
public record Reject(int reason, int statSN, int expCmdSN, int maxCmdSN, int dataSN, ByteBuf data)
        implements OutboundPdu {

    public static final int DATA_DIGEST_ERROR = 0x02;
    public static final int SNACK_REJECT = 0x03;
    public static final int PROTOCOL_ERROR = 0x04;
    public static final int COMMAND_NOT_SUPPORTED = 0x05;
    public static final int IMMEDIATE_COMMAND_REJECTED = 0x06;
    public static final int TASK_IN_PROGRESS = 0x07;
    public static final int INVALID_DATA_ACK = 0x08;
    public static final int INVALID_PDU_FIELD = 0x09;
    public static final int LONG_OPERATION_REJECT = 0x0a;
    public static final int WAITING_FOR_LOGOUT = 0x0c;

    @Override
    public Opcode opcode() {
        return Opcode.REJECT;
    }

    @Override
    public void writeBhs(ByteBuf out) {
        Bhs.start(out, 0x3f, 0x80, reason, 0, data.readableBytes(), 0, Pdu.NO_TAG);
        out.writeInt(0).writeInt(statSN).writeInt(expCmdSN).writeInt(maxCmdSN);
        out.writeInt(dataSN).writeZero(8);
    }
}
