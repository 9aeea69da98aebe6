package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/** Logout Response (RFC 7143 §11.15). */
public record LogoutResponse(int response, int itt, int statSN, int expCmdSN, int maxCmdSN, int time2Wait,
                             int time2Retain) implements OutboundPdu {

    public static final int CLOSED = 0;
    public static final int CID_NOT_FOUND = 1;
    public static final int RECOVERY_NOT_SUPPORTED = 2;
    public static final int CLEANUP_FAILED = 3;

    @Override
    public Opcode opcode() {
        return Opcode.LOGOUT_RESPONSE;
    }

    @Override
    public ByteBuf data() {
        return Unpooled.EMPTY_BUFFER;
    }

    @Override
    public void writeBhs(ByteBuf out) {
        Bhs.start(out, 0x26, 0x80, response, 0, 0, 0, itt);
        out.writeInt(0).writeInt(statSN).writeInt(expCmdSN).writeInt(maxCmdSN);
        out.writeInt(0).writeShort(time2Wait).writeShort(time2Retain).writeInt(0);
    }
}
