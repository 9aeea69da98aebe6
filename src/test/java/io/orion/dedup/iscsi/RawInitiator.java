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
        socket = new Socket();
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
        expStatSN = ByteBuffer.wrap(bhs).getInt(24) + 1;
        return new byte[][] {bhs, data};
    }

    /** Logs in straight through the operational stage; returns the login status. */
    int login(String initiator, String target, long isid) throws IOException {
        String text = "InitiatorName=" + initiator + "\0"
                + (target == null ? "SessionType=Discovery\0" : "TargetName=" + target + "\0SessionType=Normal\0")
                + "HeaderDigest=None\0DataDigest=None\0";
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x43).put((byte) 0x87).put((byte) 0).put((byte) 0).putInt(0);
        b.putShort((short) (isid >>> 32)).putInt((int) isid).putShort((short) 0);
        b.putInt(1).putShort((short) 0).putShort((short) 0).putInt(cmdSN).putInt(0);
        send(b.array(), text.getBytes(StandardCharsets.UTF_8));
        byte[][] r = read();
        return ((r[0][36] & 0xff) << 8) | (r[0][37] & 0xff);
    }

    /** NOP-Out ping with data; returns the echoed data of the NOP-In. */
    byte[] ping(byte[] payload, int itt) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x40).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(itt).putInt(-1).putInt(cmdSN).putInt(expStatSN);
        send(b.array(), payload);
        while (true) {
            byte[][] r = read();
            if ((r[0][0] & 0x3f) == 0x20 && ByteBuffer.wrap(r[0]).getInt(16) == itt) {
                return r[1];
            }
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
