package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/** SNACK Request (RFC 7143 §11.16); only meaningful at ErrorRecoveryLevel &gt; 0. */
public record SnackRequest(int type, long lunField, int itt, int ttt, int expStatSN, int begRun, int runLength,
                           byte[] header) implements InboundPdu {

    static SnackRequest decode(ByteBuf bhs, byte[] header) {
        return new SnackRequest(Bhs.u8(bhs, 1) & 0x0f, Bhs.u64(bhs, 8), Bhs.u32(bhs, 16), Bhs.u32(bhs, 20),
                Bhs.u32(bhs, 28), Bhs.u32(bhs, 40), Bhs.u32(bhs, 44), header);
    }

    @Override
    public Opcode opcode() {
        return Opcode.SNACK_REQUEST;
    }

    @Override
    public ByteBuf data() {
        return Unpooled.EMPTY_BUFFER;
    }
}
