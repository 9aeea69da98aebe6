package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * SCSI Response (RFC 7143 §11.4). {@code data} carries SenseLength (2 bytes) + sense data when
 * there is sense. {@code residual} is positive for underflow, negative for overflow.
 */
public record ScsiResponsePdu(int response, int status, int itt, int statSN, int expCmdSN, int maxCmdSN,
                              int expDataSN, long residual, ByteBuf data) implements OutboundPdu {

    @Override
    public Opcode opcode() {
        return Opcode.SCSI_RESPONSE;
    }

    @Override
    public void writeBhs(ByteBuf out) {
        int flags = 0x80;
        if (residual > 0) {
            flags |= 0x02;
        } else if (residual < 0) {
            flags |= 0x04;
        }
        Bhs.start(out, 0x21, flags, response, status, data.readableBytes(), 0, itt);
        out.writeInt(0).writeInt(statSN).writeInt(expCmdSN).writeInt(maxCmdSN).writeInt(expDataSN);
        out.writeInt(0).writeInt((int) Math.abs(residual));
    }
}
