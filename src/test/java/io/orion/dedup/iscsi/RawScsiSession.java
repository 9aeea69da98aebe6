package io.orion.dedup.iscsi;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/**
 * A logged-in normal session of {@link RawInitiator} for integration tests in other packages: one
 * SCSI command at a time to any LUN, with immediate data (ImmediateData=Yes is the default), its
 * status, sense and Data-In returned.
 */
public final class RawScsiSession implements AutoCloseable {

    /** The outcome of one command: SCSI status, sense key/ASC/ASCQ (-1 without sense), Data-In. */
    public record Result(int status, int key, int asc, int ascq, byte[] data) {
        public String sense() {
            return key < 0 ? "none" : String.format("%x/%02x/%02x", key, asc, ascq);
        }
    }

    private final RawInitiator raw;
    private int itt = 1;

    private RawScsiSession(RawInitiator raw) {
        this.raw = raw;
    }

    /** Logs {@code initiator} (ISID {@code isid}) in to {@code target} through {@code portal}. */
    public static RawScsiSession login(InetSocketAddress portal, String initiator, String target, long isid)
            throws IOException {
        RawInitiator r = new RawInitiator(portal);
        int status = r.login(initiator, target, isid);
        if (status != 0) {
            r.close();
            throw new IOException("login of " + initiator + " to " + target + " failed: status 0x"
                    + Integer.toHexString(status) + " " + r.loginAnswer);
        }
        r.socket.setTcpNoDelay(true); // header and data go in two writes: no Nagle delay between them
        return new RawScsiSession(r);
    }

    /** Runs one command on {@code lun}; {@code dataOut} goes as immediate data (null: none). */
    public Result run(int lun, byte[] cdb, byte[] dataOut, int dataInLength) throws IOException {
        int task = itt++;
        ByteBuffer b = ByteBuffer.allocate(48);
        boolean write = dataOut != null;
        int flags = 0x80 | (write ? 0x20 : 0) | (dataInLength > 0 ? 0x40 : 0) | 0x01; // F, W/R, SIMPLE
        b.put((byte) 0x01).put((byte) flags).putShort((short) 0).putInt(0);
        b.putShort((short) (lun < 256 ? lun : 0x4000 | lun)).putShort((short) 0).putInt(0);
        b.putInt(task).putInt(write ? dataOut.length : dataInLength).putInt(raw.cmdSN++).putInt(raw.expStatSN);
        byte[] c = new byte[16];
        System.arraycopy(cdb, 0, c, 0, cdb.length);
        b.put(c);
        raw.send(b.array(), dataOut);
        java.io.ByteArrayOutputStream in = new java.io.ByteArrayOutputStream();
        while (true) {
            byte[][] pdu = raw.read();
            int op = RawInitiator.opcode(pdu);
            if (op == 0x20 || op == 0x32) {
                continue; // target NOP-In ping, async message
            }
            if (RawInitiator.u32(pdu, 16) != task) {
                throw new IOException(String.format("unexpected PDU opcode 0x%02x for ITT %d", op,
                        RawInitiator.u32(pdu, 16)));
            }
            if (op == 0x25) {
                in.writeBytes(pdu[1]);
                if ((pdu[0][1] & 0x01) != 0) {
                    return new Result(pdu[0][3] & 0xff, -1, -1, -1, in.toByteArray());
                }
                continue;
            }
            if (op != 0x21) {
                throw new IOException(String.format("unexpected PDU opcode 0x%02x", op));
            }
            int status = pdu[0][3] & 0xff;
            byte[] d = pdu[1];
            if (d.length >= 2 + 14) {
                byte[] s = new byte[((d[0] & 0xff) << 8) | (d[1] & 0xff)];
                System.arraycopy(d, 2, s, 0, s.length);
                if ((s[0] & 0x7f) == 0x72) {
                    return new Result(status, s[1] & 0xf, s[2] & 0xff, s[3] & 0xff, in.toByteArray());
                }
                return new Result(status, s[2] & 0xf, s[12] & 0xff, s[13] & 0xff, in.toByteArray());
            }
            return new Result(status, -1, -1, -1, in.toByteArray());
        }
    }

    /** TEST UNIT READY until no unit attention is left (at most 8 tries); returns the last result. */
    public Result clearAttentions(int lun) throws IOException {
        Result r = null;
        for (int i = 0; i < 8; i++) {
            r = run(lun, new byte[6], null, 0);
            if (r.status() != 2 || r.key() != 6) {
                return r;
            }
        }
        return r;
    }

    @Override
    public void close() throws IOException {
        raw.close();
    }
}
