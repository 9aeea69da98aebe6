package io.orion.dedup.iscsi;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** A minimal hand-rolled initiator for integration tests: login, NOP-Out, raw bytes. */
final class RawInitiator implements AutoCloseable {

    final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    int cmdSN = 1;
    int expStatSN;

    RawInitiator(InetSocketAddress target) throws IOException {
        this(target, null);
    }

    /** Connects from local address {@code local} (any loopback address 127.x.y.z works), or any if null. */
    RawInitiator(InetSocketAddress target, java.net.InetAddress local) throws IOException {
        socket = new Socket();
        if (local != null) {
            socket.bind(new InetSocketAddress(local, 0));
        }
        socket.connect(target, 5000);
        socket.setSoTimeout(5000);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** Sends a PDU: 48-byte header and data (padded). */
    void send(byte[] bhs, byte[] data) throws IOException {
        int len = data == null ? 0 : data.length;
        bhs[5] = (byte) (len >>> 16);
        bhs[6] = (byte) (len >>> 8);
        bhs[7] = (byte) len;
        out.write(bhs);
        if (len > 0) {
            out.write(data);
            out.write(new byte[(4 - (len & 3)) & 3]);
        }
        out.flush();
    }

    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Reads one PDU; returns header (48 bytes) followed by its data. */
    byte[][] read() throws IOException {
        byte[] bhs = new byte[48];
        in.readFully(bhs);
        int len = ((bhs[5] & 0xff) << 16) | ((bhs[6] & 0xff) << 8) | (bhs[7] & 0xff);
        byte[] data = new byte[len];
        in.readFully(data);
        in.skipBytes((4 - (len & 3)) & 3);
        int op = bhs[0] & 0x3f;
        boolean statusCarrying = op != 0x31 && !(op == 0x25 && (bhs[1] & 1) == 0)
                && !(op == 0x20 && ByteBuffer.wrap(bhs).getInt(16) == -1);
        if (statusCarrying) {
            expStatSN = ByteBuffer.wrap(bhs).getInt(24) + 1;
        }
        return new byte[][] {bhs, data};
    }

    int tsih;
    /** MaxCmdSN of the last Login Response (RFC 7143 §11.13). */
    int maxCmdSN;
    String loginAnswer = "";

    /** Logs in straight through the operational stage; returns the login status. */
    int login(String initiator, String target, long isid) throws IOException {
        return login(initiator, target, isid, 0, 0, "");
    }

    /** Login with extra operational keys ("K=V\0..."), a TSIH and CID; returns the login status. */
    int login(String initiator, String target, long isid, int tsihIn, int cid, String extraKeys)
            throws IOException {
        String text = "InitiatorName=" + initiator + "\0"
                + (target == null ? "SessionType=Discovery\0" : "TargetName=" + target + "\0SessionType=Normal\0")
                + "HeaderDigest=None\0DataDigest=None\0" + extraKeys;
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x43).put((byte) 0x87).put((byte) 0).put((byte) 0).putInt(0);
        b.putShort((short) (isid >>> 32)).putInt((int) isid).putShort((short) tsihIn);
        b.putInt(1).putShort((short) cid).putShort((short) 0).putInt(cmdSN).putInt(0);
        send(b.array(), text.getBytes(StandardCharsets.UTF_8));
        byte[][] r = read();
        tsih = ByteBuffer.wrap(r[0]).getShort(14) & 0xffff;
        cmdSN = ByteBuffer.wrap(r[0]).getInt(28);
        maxCmdSN = ByteBuffer.wrap(r[0]).getInt(32);
        loginAnswer = new String(r[1], StandardCharsets.UTF_8);
        return ((r[0][36] & 0xff) << 8) | (r[0][37] & 0xff);
    }

    /** Sends a SCSI Command PDU; flags byte as on the wire (F=0x80 R=0x40 W=0x20 | attr). */
    void command(int flags, boolean immediate, int itt, int edtl, int cmdSNValue, byte[] cdb, byte[] immediateData)
            throws IOException {
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) (0x01 | (immediate ? 0x40 : 0))).put((byte) flags).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(itt).putInt(edtl).putInt(cmdSNValue).putInt(expStatSN);
        b.put(cdb);
        send(b.array(), immediateData);
    }

    /** SCSI status and sense of the last {@link #scsi} command. */
    int status;
    byte[] sense = new byte[0];

    /**
     * Runs one SCSI command on LUN 0 (simple task, next CmdSN): {@code dataOut} (may be null) goes
     * as immediate data; returns the Data-In bytes, with {@link #status} and {@link #sense} set.
     * Target NOP-In pings are skipped.
     */
    byte[] scsi(int itt, byte[] cdb, int allocation, byte[] dataOut) throws IOException {
        int flags = 0x80 | 0x01 | (dataOut != null ? 0x20 : 0) | (allocation > 0 ? 0x40 : 0);
        command(flags, false, itt, dataOut != null ? dataOut.length : allocation, cmdSN, cdb, dataOut);
        cmdSN++;
        java.io.ByteArrayOutputStream in = new java.io.ByteArrayOutputStream();
        while (true) {
            byte[][] r = read();
            int op = opcode(r);
            if (op == 0x20) {
                continue; // a target ping; it needs no answer within a test
            }
            if (op == 0x25) {
                in.write(r[1]);
                if ((r[0][1] & 0x01) != 0) {
                    status = r[0][3] & 0xff;
                    sense = new byte[0];
                    return in.toByteArray();
                }
                continue;
            }
            if (op == 0x21) {
                status = r[0][3] & 0xff;
                sense = r[1].length >= 2 ? java.util.Arrays.copyOfRange(r[1], 2, r[1].length) : new byte[0];
                return in.toByteArray();
            }
            throw new AssertionError(String.format("unexpected opcode 0x%02x", op));
        }
    }

    /** Sends one Data-Out PDU. */
    void dataOut(boolean fin, int itt, int ttt, int dataSN, int offset, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x05).put((byte) (fin ? 0x80 : 0)).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(itt).putInt(ttt).putInt(0).putInt(expStatSN).putInt(0).putInt(dataSN).putInt(offset).putInt(0);
        send(b.array(), data);
    }

    /** Sends a Task Management request (immediate). */
    void taskManagement(int function, int itt, int referencedItt, int refCmdSN) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x42).put((byte) (0x80 | function)).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(itt).putInt(referencedItt).putInt(cmdSN).putInt(expStatSN).putInt(refCmdSN).putInt(0).putLong(0);
        send(b.array(), null);
    }

    /** Sends a Text request (immediate, final unless {@code cont}). */
    void text(int itt, int ttt, boolean cont, String kv) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x44).put((byte) (cont ? 0x40 : 0x80)).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(itt).putInt(ttt).putInt(cmdSN).putInt(expStatSN);
        send(b.array(), kv.isEmpty() ? null : kv.getBytes(StandardCharsets.UTF_8));
    }

    /** Sends a Logout request (immediate). */
    void logout(int reason, int itt, int cid) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x46).put((byte) (0x80 | reason)).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(itt).putShort((short) cid).putShort((short) 0).putInt(cmdSN).putInt(expStatSN);
        send(b.array(), null);
    }

    static int opcode(byte[][] pdu) {
        return pdu[0][0] & 0x3f;
    }

    static int u32(byte[][] pdu, int offset) {
        return ByteBuffer.wrap(pdu[0]).getInt(offset);
    }

    /** NOP-Out ping with data; returns the echoed data. The next PDU (apart from target pings) must be its NOP-In. */
    byte[] ping(byte[] payload, int itt) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x40).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(itt).putInt(-1).putInt(cmdSN).putInt(expStatSN);
        send(b.array(), payload);
        while (true) {
            byte[][] r = read();
            boolean targetPing = (r[0][0] & 0x3f) == 0x20 && ByteBuffer.wrap(r[0]).getInt(16) == -1;
            if (targetPing) {
                continue;
            }
            if ((r[0][0] & 0x3f) == 0x20 && ByteBuffer.wrap(r[0]).getInt(16) == itt) {
                return r[1];
            }
            throw new AssertionError(String.format("expected the NOP-In for ITT %d, got opcode 0x%02x ITT %d", itt,
                    r[0][0] & 0x3f, ByteBuffer.wrap(r[0]).getInt(16)));
        }
    }

    /** True when the peer closed the connection (EOF) within the socket timeout. */
    boolean closedByPeer() {
        try {
            while (true) {
                if (in.read() < 0) {
                    return true;
                }
            }
        } catch (IOException e) {
            return e instanceof java.net.SocketException;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
