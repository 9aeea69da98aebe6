package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Login Request (RFC 7143 §11.12): T/C bits, CSG/NSG stages, ISID/TSIH, CID and text keys. */
public record LoginRequest(boolean transit, boolean cont, int csg, int nsg, int versionMax, int versionMin,
                           long isid, int tsih, int itt, int cid, int cmdSN, int expStatSN, ByteBuf data)
        implements InboundPdu {

    static LoginRequest decode(ByteBuf bhs, ByteBuf data) {
        int flags = Bhs.u8(bhs, 1);
        long isidTsih = Bhs.u64(bhs, 8);
        return new LoginRequest((flags & 0x80) != 0, (flags & 0x40) != 0, (flags >> 2) & 3, flags & 3,
                Bhs.u8(bhs, 2), Bhs.u8(bhs, 3), isidTsih >>> 16, (int) (isidTsih & 0xffff), Bhs.u32(bhs, 16),
                Bhs.u16(bhs, 20), Bhs.u32(bhs, 24), Bhs.u32(bhs, 28), data);
    }

    @Override
    public boolean immediate() {
        return true;
    }

    @Override
    public Opcode opcode() {
        return Opcode.LOGIN_REQUEST;
    }
}
