package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** SCSI Data-Out (RFC 7143 §11.7). */
public record DataOut(boolean fin, long lunField, int itt, int ttt, int expStatSN, int dataSN, int bufferOffset,
                      ByteBuf data) implements InboundPdu {

    static DataOut decode(ByteBuf bhs, ByteBuf data) {
        return new DataOut((Bhs.u8(bhs, 1) & 0x80) != 0, Bhs.u64(bhs, 8), Bhs.u32(bhs, 16), Bhs.u32(bhs, 20),
                Bhs.u32(bhs, 28), Bhs.u32(bhs, 36), Bhs.u32(bhs, 40), data);
    }

    @Override
    public Opcode opcode() {
        return Opcode.SCSI_DATA_OUT;
    }
}
