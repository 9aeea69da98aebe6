package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * SCSI Command (RFC 7143 §11.3). The CDB includes the Extended CDB AHS (§11.3.5) when present;
 * {@code data} holds the immediate data.
 */
public record ScsiCommandPdu(boolean immediate, boolean fin, boolean read, boolean write, int attr,
                             long lunField, int itt, int expectedDataTransferLength, int cmdSN,
                             int expStatSN, byte[] cdb, int bidiReadLength, ByteBuf data)
        implements InboundPdu {

    static ScsiCommandPdu decode(ByteBuf bhs, byte[] ahs, ByteBuf data) {
        int flags = Bhs.u8(bhs, 1);
        byte[] cdb = new byte[16];
        bhs.getBytes(bhs.readerIndex() + 32, cdb);
        int bidi = 0;
        int pos = 0;
        while (ahs != null && pos + 3 <= ahs.length) {
            int len = ((ahs[pos] & 0xff) << 8) | (ahs[pos + 1] & 0xff);
            int type = ahs[pos + 2] & 0xff;
            int start = pos + 4;
            if (start + len - 1 > ahs.length || len == 0) {
                break;
            }
            if (type == 1) { // Extended CDB: len includes the reserved byte
                byte[] ext = new byte[16 + len - 1];
                System.arraycopy(cdb, 0, ext, 0, 16);
                System.arraycopy(ahs, start, ext, 16, len - 1);
                cdb = ext;
            } else if (type == 2 && len >= 5) { // Bidirectional Read Expected Data Transfer Length
                bidi = ((ahs[start] & 0xff) << 24) | ((ahs[start + 1] & 0xff) << 16)
                        | ((ahs[start + 2] & 0xff) << 8) | (ahs[start + 3] & 0xff);
            }
            pos = start + ((len - 1 + 3) & ~3);
        }
        return new ScsiCommandPdu((Bhs.u8(bhs, 0) & 0x40) != 0, (flags & 0x80) != 0, (flags & 0x40) != 0,
                (flags & 0x20) != 0, flags & 7, Bhs.u64(bhs, 8), Bhs.u32(bhs, 16), Bhs.u32(bhs, 20),
                Bhs.u32(bhs, 24), Bhs.u32(bhs, 28), cdb, bidi, data);
    }

    /** The decoded LUN (see {@link Lun#decode}). */
    public long lun() {
        return Lun.decode(lunField);
    }

    @Override
    public Opcode opcode() {
        return Opcode.SCSI_COMMAND;
    }
}
