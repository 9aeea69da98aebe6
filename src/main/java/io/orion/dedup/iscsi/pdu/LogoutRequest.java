package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/** Logout Request (RFC 7143 §11.14). */
public record LogoutRequest(boolean immediate, int reason, int itt, int cid, int cmdSN, int expStatSN)
        implements InboundPdu {

    public static final int CLOSE_SESSION = 0;
    public static final int CLOSE_CONNECTION = 1;
    public static final int REMOVE_FOR_RECOVERY = 2;

    static LogoutRequest decode(ByteBuf bhs) {
        return new LogoutRequest((Bhs.u8(bhs, 0) & 0x40) != 0, Bhs.u8(bhs, 1) & 0x7f, Bhs.u32(bhs, 16),
                Bhs.u16(bhs, 20), Bhs.u32(bhs, 24), Bhs.u32(bhs, 28));
    }

    @Override
    public Opcode opcode() {
        return Opcode.LOGOUT_REQUEST;
    }

    @Override
    public ByteBuf data() {
        return Unpooled.EMPTY_BUFFER;
    }
}
