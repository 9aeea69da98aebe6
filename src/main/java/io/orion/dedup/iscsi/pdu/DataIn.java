package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * SCSI Data-In (RFC 7143 §11.7). With {@code statusPresent} it carries the command status
 * (§11.7.4) and the residual (positive underflow, negative overflow).
 */
public record DataIn(boolean fin, boolean statusPresent, int status, long lunField, int itt, int statSN,
                     int expCmdSN, int maxCmdSN, int dataSN, int bufferOffset, long residual, ByteBuf data)
        implements OutboundPdu {

    @Override
    public Opcode opcode() {
        return Opcode.SCSI_DATA_IN;
    }

    @Override
    public void writeBhs(ByteBuf out) {
        int flags = (fin ? 0x80 : 0);
        if (statusPresent) {
            flags |= 0x01;
            if (residual > 0) {
                flags |= 0x02;
            } else if (residual < 0) {
                flags |= 0x04;
            }
        }
        Bhs.start(out, 0x25, flags, 0, statusPresent ? status : 0, data.readableBytes(), lunField, itt);
        out.writeInt(Pdu.NO_TAG).writeInt(statusPresent ? statSN : 0).writeInt(expCmdSN).writeInt(maxCmdSN);
        out.writeInt(dataSN).writeInt(bufferOffset).writeInt(statusPresent ? (int) Math.abs(residual) : 0);
    }
}
