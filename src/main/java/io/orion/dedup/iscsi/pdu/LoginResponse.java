package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Login Response (RFC 7143 §11.13). */
public record LoginResponse(boolean transit, boolean cont, int csg, int nsg, int versionMax, int versionActive,
                            long isid, int tsih, int itt, int statSN, int expCmdSN, int maxCmdSN, int statusClass,
                            int statusDetail, ByteBuf data) implements OutboundPdu {

    @Override
    public Opcode opcode() {
        return Opcode.LOGIN_RESPONSE;
    }

    @Override
    public void writeBhs(ByteBuf out) {
        int flags = (transit ? 0x80 : 0) | (cont ? 0x40 : 0) | ((csg & 3) << 2) | (nsg & 3);
        Bhs.start(out, 0x23, flags, versionMax, versionActive, data.readableBytes(),
                (isid << 16) | (tsih & 0xffff), itt);
        out.writeInt(0).writeInt(statSN).writeInt(expCmdSN).writeInt(maxCmdSN);
        out.writeByte(statusClass).writeByte(statusDetail);
        out.writeZero(10);
    }
}
