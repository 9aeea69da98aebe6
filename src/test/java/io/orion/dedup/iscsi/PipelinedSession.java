package io.orion.dedup.iscsi;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A logged-in normal session of {@link RawInitiator} with many SCSI commands in flight: {@link
 * #submit} sends a command (data-out as immediate data, so it must fit the negotiated
 * FirstBurstLength and the target's MaxRecvDataSegmentLength) and returns at once; one reader
 * thread per session matches Data-In and SCSI Response PDUs to their task tags and completes the
 * futures (on the reader thread: callbacks must be short). Target NOP-In pings are answered. Any
 * PDU it cannot place (a Reject, an unknown opcode or task tag) or a broken connection fails every
 * outstanding command and the session.
 */
public final class PipelinedSession implements AutoCloseable {

    /** The outcome of one command: SCSI status, sense key/ASC/ASCQ (-1 without sense), Data-In. */
    public record Result(int status, int key, int asc, int ascq, byte[] data) {
        public String describe() {
            return status == 0 ? "GOOD" : String.format("status 0x%02x sense %x/%02x/%02x", status, key, asc, ascq);
        }
    }

    private static final class Pending {
        final CompletableFuture<Result> future = new CompletableFuture<>();
        final byte[] in;

        Pending(int readLength) {
            in = new byte[readLength];
        }
    }

    private final RawInitiator raw;
    private final OutputStream out;
    private final DataInputStream in;
    private final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
    private final Object sendLock = new Object();
    private final Thread reader;
    private int nextItt = 1;
    private volatile int expStatSN;
    private volatile IOException failure;
    /** The target's MaxRecvDataSegmentLength: the most data one PDU of ours may carry. */
    public final int maxSendSegment;

    private PipelinedSession(RawInitiator raw, String name) throws IOException {
        this.raw = raw;
        raw.socket.setSoTimeout(0);
        raw.socket.setTcpNoDelay(true);
        this.out = raw.socket.getOutputStream();
        this.in = new DataInputStream(new BufferedInputStream(raw.socket.getInputStream(), 1 << 18));
        this.expStatSN = raw.expStatSN;
        int mrdsl = 8192;
        for (String kv : raw.loginAnswer.split("\0")) {
            if (kv.startsWith("MaxRecvDataSegmentLength=")) {
                mrdsl = Integer.parseInt(kv.substring(kv.indexOf('=') + 1));
            }
        }
        this.maxSendSegment = mrdsl;
        reader = new Thread(this::readLoop, "pipelined-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Logs {@code initiator} (ISID {@code isid}) in to {@code target} with immediate data of up to
     * 256 KiB allowed, and starts the reader.
     */
    public static PipelinedSession login(InetSocketAddress portal, String initiator, String target, long isid)
            throws IOException {
        RawInitiator r = new RawInitiator(portal);
        int status = r.login(initiator, target, isid, 0, 0, "ImmediateData=Yes\0FirstBurstLength=262144\0"
                + "MaxBurstLength=1048576\0MaxRecvDataSegmentLength=262144\0");
        if (status != 0) {
            r.close();
            throw new IOException("login of " + initiator + " to " + target + " failed: status 0x"
                    + Integer.toHexString(status) + " " + r.loginAnswer);
        }
        return new PipelinedSession(r, initiator);
    }

    /** Sends one SIMPLE command to {@code lun}; {@code dataOut} (null: none) goes as immediate data. */
    public CompletableFuture<Result> submit(int lun, byte[] cdb, byte[] dataOut, int readLength) {
        Pending p = new Pending(Math.max(0, readLength));
        IOException f = failure;
        if (f != null) {
            p.future.completeExceptionally(f);
            return p.future;
        }
        int len = dataOut == null ? 0 : dataOut.length;
        if (len > maxSendSegment) {
            p.future.completeExceptionally(new IllegalArgumentException(len + " bytes of immediate data exceed the"
                    + " target's MaxRecvDataSegmentLength " + maxSendSegment));
            return p.future;
        }
        byte[] pdu = new byte[48 + ((len + 3) & ~3)];
        ByteBuffer b = ByteBuffer.wrap(pdu);
        int flags = 0x80 | 0x01 | (dataOut != null ? 0x20 : 0) | (readLength > 0 ? 0x40 : 0);
        b.put((byte) 0x01).put((byte) flags).putShort((short) 0);
        b.put((byte) 0).put((byte) (len >>> 16)).put((byte) (len >>> 8)).put((byte) len);
        b.putShort((short) (lun < 256 ? lun : 0x4000 | lun)).putShort((short) 0).putInt(0);
        if (len > 0) {
            System.arraycopy(dataOut, 0, pdu, 48, len);
        }
        synchronized (sendLock) {
            int itt = nextItt++;
            if (nextItt == -1) {
                nextItt = 1;
            }
            b.putInt(16, itt).putInt(20, dataOut != null ? len : readLength).putInt(24, raw.cmdSN++)
                    .putInt(28, expStatSN);
            System.arraycopy(cdb, 0, pdu, 32, cdb.length);
            pending.put(itt, p);
            try {
                out.write(pdu);
            } catch (IOException e) {
                fail(e);
            }
        }
        if (failure != null) {
            fail(failure);                                          // it failed while this one was being sent
        }
        return p.future;
    }

    /** Commands sent and not yet answered. */
    public int outstanding() {
        return pending.size();
    }

    private void readLoop() {
        try {
            byte[] bhs = new byte[48];
            while (true) {
                in.readFully(bhs);
                ByteBuffer h = ByteBuffer.wrap(bhs);
                int len = ((bhs[5] & 0xff) << 16) | ((bhs[6] & 0xff) << 8) | (bhs[7] & 0xff);
                int op = bhs[0] & 0x3f;
                int itt = h.getInt(16);
                if (op == 0x25) {                                   // Data-In straight into the command's buffer
                    Pending p = pending.get(itt);
                    if (p == null) {
                        throw new IOException("Data-In for unknown ITT " + itt);
                    }
                    int off = h.getInt(40);
                    if (off < 0 || off + len > p.in.length) {
                        throw new IOException("Data-In of " + len + " bytes at offset " + off + " beyond the "
                                + p.in.length + " bytes expected (ITT " + itt + ")");
                    }
                    in.readFully(p.in, off, len);
                    in.skipBytes((4 - (len & 3)) & 3);
                    if ((bhs[1] & 0x01) != 0) {
                        expStatSN = h.getInt(24) + 1;
                        pending.remove(itt);
                        p.future.complete(new Result(bhs[3] & 0xff, -1, -1, -1, p.in));
                    }
                    continue;
                }
                byte[] data = new byte[len];
                in.readFully(data);
                in.skipBytes((4 - (len & 3)) & 3);
                if (op == 0x21) {
                    expStatSN = h.getInt(24) + 1;
                    Pending p = pending.remove(itt);
                    if (p == null) {
                        throw new IOException("SCSI Response for unknown ITT " + itt);
                    }
                    int status = bhs[3] & 0xff;
                    if ((bhs[2] & 0xff) != 0) {
                        throw new IOException("SCSI Response with response code " + (bhs[2] & 0xff));
                    }
                    if (data.length >= 2 + 14) {
                        byte[] s = java.util.Arrays.copyOfRange(data, 2, data.length);
                        boolean desc = (s[0] & 0x7f) >= 0x72;
                        p.future.complete(new Result(status, (desc ? s[1] : s[2]) & 0x0f,
                                (desc ? s[2] : s[12]) & 0xff, (desc ? s[3] : s[13]) & 0xff, p.in));
                    } else {
                        p.future.complete(new Result(status, -1, -1, -1, p.in));
                    }
                    continue;
                }
                if (op == 0x20) {                                   // NOP-In
                    int ttt = h.getInt(20);
                    if (itt == -1) {
                        if (ttt != -1) {                            // a target ping wanting an answer
                            byte[] n = new byte[48];
                            ByteBuffer nb = ByteBuffer.wrap(n);
                            nb.put((byte) 0x40).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
                            synchronized (sendLock) {
                                nb.putInt(-1).putInt(ttt).putInt(raw.cmdSN).putInt(expStatSN);
                                out.write(n);
                            }
                        }
                        continue;
                    }
                    throw new IOException("NOP-In for ITT " + itt + " that was never sent");
                }
                if (op == 0x32) {
                    continue;                                       // asynchronous message
                }
                throw new IOException(String.format("unexpected PDU opcode 0x%02x (ITT %d)", op, itt));
            }
        } catch (IOException e) {
            fail(e);
        } catch (RuntimeException e) {
            fail(new IOException(e));
        }
    }

    private void fail(IOException e) {
        if (failure == null) {
            failure = e;
        }
        List<Integer> tags = new ArrayList<>(pending.keySet());
        for (Integer t : tags) {
            Pending p = pending.remove(t);
            if (p != null) {
                p.future.completeExceptionally(e);
            }
        }
    }

    @Override
    public void close() throws IOException {
        fail(new IOException("session closed"));
        raw.close();
    }
}
