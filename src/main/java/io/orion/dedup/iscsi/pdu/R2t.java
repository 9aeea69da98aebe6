package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/** Ready To Transfer (RFC 7143 §11.8). StatSN is not advanced by an R2T. */
public record R2t(long lunField, int itt, int ttt, int statSN, int expCmdSN, int maxCmdSN, int r2tSN,
                  int bufferOffset, int desiredLength) implements OutboundPdu {

    @Override
    public Opcode opcode() {
        return Opcode.R2T;
    }

    @Override
    public ByteBuf data() {
        return Unpooled.EMPTY_BUFFER;
    }

    @Override
    public void writeBhs(ByteBuf out) {
        Bhs.start(out, 0x31, 0x80, 0, 0, 0, lunField, itt);
        out.writeInt(ttt).writeInt(statSN).writeInt(expCmdSN).writeInt(maxCmdSN);
        out.writeInt(r2tSN).writeInt(bufferOffset).writeInt(desiredLength);
    }
}
