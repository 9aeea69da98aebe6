package io.orion.dedup.initiator;

import io.orion.dedup.iscsi.login.ChapAlgorithm;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A read-only iSCSI initiator (RFC 7143) for one LUN: one session of one connection, logged in
 * without authentication or with one-way CHAP (MD5, SHA-1, SHA-256 or SHA3-256, as the target
 * picks), then READ CAPACITY(16) and READ(16) requests of up to 1 MiB, several in flight within
 * the target's command window. No digests, ErrorRecoveryLevel 0.
 *
 * <p>It only ever sends TEST UNIT READY, INQUIRY, READ CAPACITY(16) and READ(16): no command that
 * carries data to the target exists in this class. Unit attentions (a new session's first command
 * meets one) are retried; any other CHECK CONDITION is an {@link IOException} naming the sense.
 * The target's NOP-In pings are answered.
 */
public final class IscsiReader implements AutoCloseable {
    private static final int BHS = 48;
    private static final int OUR_MAX_RECV = 256 * 1024;
    private static final int MAX_REQUEST = 1 << 20;
    private static final int MAX_IN_FLIGHT = 16;
    private static final int TIMEOUT_MS = 30_000;
    private static final int NO_TAG = -1;

    /** One-way CHAP credentials. */
    public record Chap(String user, byte[] secret) {
        @Override
        public String toString() {
            return "Chap[user=" + user + ", secret=********]";
        }
    }

    private final IscsiUrl url;
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private int cmdSN = 1;
    private int maxCmdSN = 1;
    private int expStatSN;
    private int nextItt = 1;
    private long blocks;
    private int blockSize;
    private int requestBytes = MAX_REQUEST;

    private IscsiReader(IscsiUrl url, Socket socket) throws IOException {
        this.url = url;
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 512 * 1024));
        this.out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
    }

    /**
     * Connects to {@code url}'s portal, logs in as {@code initiatorName} (with {@code chap} when not
     * null), and reads the LUN's capacity and transfer limit.
     */
    public static IscsiReader open(IscsiUrl url, String initiatorName, Chap chap) throws IOException {
        Socket s = new Socket();
        try {
            s.connect(new InetSocketAddress(url.portal().host(), url.portal().port()), TIMEOUT_MS);
            s.setSoTimeout(TIMEOUT_MS);
            s.setTcpNoDelay(true);
            s.setReceiveBufferSize(1 << 20);
            IscsiReader r = new IscsiReader(url, s);
            r.login(initiatorName, chap);
            r.inquireLimits();
            return r;
        } catch (IOException | RuntimeException e) {
            s.close();
            if (e instanceof java.net.ConnectException || e instanceof java.net.UnknownHostException) {
                throw new IOException(url.portal() + ": cannot connect: " + e.getMessage(), e);
            }
            throw e;
        }
    }

    /** Logical blocks of the LUN. */
    public long blockCount() {
        return blocks;
    }

    /** Logical block size in bytes. */
    public int blockSize() {
        return blockSize;
    }

    /** Capacity in bytes. */
    public long sizeBytes() {
        return blocks * blockSize;
    }

    /** Bytes per READ(16) request. */
    public int requestBytes() {
        return requestBytes;
    }

    // ---------------------------------------------------------------- login

    private void login(String initiatorName, Chap chap) throws IOException {
        long isid = 0x80L << 40 | (new SecureRandom().nextLong() & 0xff_ffff_ffffL); // type 10b: random
        int itt = nextItt++;
        Map<String, String> keys = new LinkedHashMap<>();
        keys.put("InitiatorName", initiatorName);
        keys.put("SessionType", "Normal");
        keys.put("TargetName", url.target());
        keys.put("AuthMethod", chap != null ? "CHAP" : "None");
        Map<String, String> answer;
        if (chap == null) {
            try {
                answer = loginStep(isid, itt, 0, 1, true, keys);
            } catch (LoginRefused e) {
                if (e.status == 0x0201) {
                    throw new IOException(url + ": login refused: the target wants authentication: "
                            + "give --chap-user and --chap-secret-file", e);
                }
                throw e;
            }
            String method = answer.get("AuthMethod");
            if (method != null && !method.equals("None")) {
                throw new IOException(url + ": the target wants AuthMethod " + method
                        + ": give --chap-user and --chap-secret-file");
            }
            while (!transit()) {
                answer = loginStep(isid, itt, 0, 1, true, Map.of());
            }
        } else {
            answer = loginStep(isid, itt, 0, 1, false, keys);
            if (!"CHAP".equals(answer.get("AuthMethod"))) {
                throw new IOException(url + ": the target does not accept CHAP (AuthMethod="
                        + answer.get("AuthMethod") + ")");
            }
            answer = loginStep(isid, itt, 0, 1, false, Map.of("CHAP_A", "7,6,5,8"));
            String chosen = answer.get("CHAP_A");
            ChapAlgorithm alg = ChapAlgorithm.of(parseInt(chosen, "CHAP_A"))
                    .orElseThrow(() -> new IOException(url + ": the target chose an unknown CHAP_A " + chosen));
            int id = parseInt(answer.get("CHAP_I"), "CHAP_I");
            byte[] challenge = hex(answer.get("CHAP_C"), "CHAP_C");
            byte[] response = alg.response(id, chap.secret(), challenge);
            Map<String, String> reply = new LinkedHashMap<>();
            reply.put("CHAP_N", chap.user());
            reply.put("CHAP_R", "0x" + HexFormat.of().formatHex(response));
            answer = loginStep(isid, itt, 0, 1, true, reply);
            while (!transit()) {
                answer = loginStep(isid, itt, 0, 1, true, Map.of());
            }
        }
        Map<String, String> op = new LinkedHashMap<>();
        op.put("HeaderDigest", "None");
        op.put("DataDigest", "None");
        op.put("MaxRecvDataSegmentLength", Integer.toString(OUR_MAX_RECV));
        op.put("MaxBurstLength", Integer.toString(MAX_REQUEST));
        op.put("FirstBurstLength", "65536");
        op.put("InitialR2T", "Yes");
        op.put("ImmediateData", "Yes");
        op.put("MaxOutstandingR2T", "1");
        op.put("DataPDUInOrder", "Yes");
        op.put("DataSequenceInOrder", "Yes");
        op.put("DefaultTime2Wait", "0");
        op.put("DefaultTime2Retain", "0");
        op.put("ErrorRecoveryLevel", "0");
        op.put("MaxConnections", "1");
        answer = loginStep(isid, itt, 1, 3, true, op);
        for (int round = 0; !transit(); round++) {
            if (round > 8) {
                throw new IOException(url + ": the target never ended the login's operational stage");
            }
            answer = loginStep(isid, itt, 1, 3, true, Map.of());
        }
        for (String digest : new String[] {"HeaderDigest", "DataDigest"}) {
            String v = answer.get(digest);
            if (v != null && !v.equals("None")) {
                throw new IOException(url + ": the target insists on " + digest + "=" + v + " (not supported)");
            }
        }
    }

    /** Whether the last Login Response moved on to the stage asked for (T set, NSG as requested). */
    private boolean lastTransit;

    private boolean transit() {
        return lastTransit;
    }

    /** Sends one Login Request and returns the response's keys; a non-zero status is an IOException. */
    private Map<String, String> loginStep(long isid, int itt, int csg, int nsg, boolean transit, Map<String, String> keys)
            throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BHS);
        b.put((byte) 0x43).put((byte) ((transit ? 0x80 : 0) | csg << 2 | (transit ? nsg : 0))).put((byte) 0).put((byte) 0);
        b.putInt(0);
        b.putShort((short) (isid >>> 32)).putInt((int) isid).putShort((short) 0);
        b.putInt(itt).putShort((short) 0).putShort((short) 0).putInt(cmdSN).putInt(expStatSN);
        StringBuilder text = new StringBuilder();
        keys.forEach((k, v) -> text.append(k).append('=').append(v).append('\0'));
        send(b.array(), text.toString().getBytes(StandardCharsets.UTF_8));
        Pdu r = readPdu(null);
        if (r.opcode() != 0x23) {
            throw new IOException(url + ": expected a Login Response, got opcode 0x" + Integer.toHexString(r.opcode()));
        }
        int statusClass = r.bhs[36] & 0xff;
        int detail = r.bhs[37] & 0xff;
        if (statusClass != 0) {
            throw new LoginRefused(statusClass << 8 | detail, url + ": login refused: " + loginStatus(statusClass, detail));
        }
        expStatSN = r.u32(24) + 1;
        window(r);
        Map<String, String> answer = new HashMap<>();
        for (String kv : new String(r.data, StandardCharsets.UTF_8).split("\0")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                answer.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        int flags = r.bhs[1] & 0xff;
        lastTransit = (flags & 0x80) != 0 && (flags & 0x03) == nsg;
        return answer;
    }

    /** A Login Response with a non-zero status. */
    private static final class LoginRefused extends IOException {
        final int status;

        LoginRefused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private static String loginStatus(int cls, int detail) {
        String what = switch (cls << 8 | detail) {
            case 0x0201 -> "authentication failed (wrong CHAP user or secret)";
            case 0x0202 -> "not authorized (no ACL for this initiator name)";
            case 0x0203 -> "no such target";
            case 0x0204 -> "the target was removed";
            case 0x0300 -> "target error";
            case 0x0301 -> "the target's service is unavailable";
            case 0x0302 -> "the target is out of resources";
            default -> cls == 1 ? "redirected (not followed)" : "error";
        };
        return String.format("status %02x%02x: %s", cls, detail, what);
    }

    private int parseInt(String v, String key) throws IOException {
        if (v == null) {
            throw new IOException(url + ": the target sent no " + key);
        }
        try {
            return v.startsWith("0x") || v.startsWith("0X") ? Integer.parseInt(v.substring(2), 16) : Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IOException(url + ": bad " + key + " from the target: " + v);
        }
    }

    private byte[] hex(String v, String key) throws IOException {
        if (v == null || !(v.startsWith("0x") || v.startsWith("0X"))) {
            throw new IOException(url + ": the target sent no hex " + key);
        }
        try {
            return HexFormat.of().parseHex(v.substring(2));
        } catch (IllegalArgumentException e) {
            throw new IOException(url + ": bad " + key + " from the target");
        }
    }

    // ---------------------------------------------------------------- commands

    /** A command in flight: its CDB, where its Data-In goes, and its outcome. */
    private static final class Task {
        final byte[] cdb;
        final byte[] dst;
        final int dstOffset;
        final int length;
        int itt;
        int status = -1;
        byte[] sense;
        int residual;
        boolean underflow;

        Task(byte[] cdb, byte[] dst, int dstOffset, int length) {
            this.cdb = cdb;
            this.dst = dst;
            this.dstOffset = dstOffset;
            this.length = length;
        }
    }

    private void inquireLimits() throws IOException {
        for (int i = 0; i < 8; i++) {
            Task t = runOne(new byte[6], new byte[0], 0, 0);
            if (t.status == 0) {
                break;
            }
            if (!isUnitAttention(t)) {
                throw scsiError("TEST UNIT READY", t);
            }
        }
        byte[] cap = new byte[32];
        runRetrying(cdb16(0x9e, 0x10, 0, 32), cap, 0, 32, "READ CAPACITY(16)");
        ByteBuffer c = ByteBuffer.wrap(cap);
        blocks = c.getLong(0) + 1;
        blockSize = c.getInt(8);
        if (blockSize <= 0 || blockSize > 1 << 20 || Integer.bitCount(blockSize) != 1) {
            throw new IOException(url + ": READ CAPACITY(16) reports block size " + blockSize);
        }
        byte[] vpd = new byte[64];
        byte[] inquiry = {0x12, 0x01, (byte) 0xb0, 0, 64, 0};
        Task lim = runOne(inquiry, vpd, 0, 64);
        if (lim.status == 0 && (vpd[1] & 0xff) == 0xb0) {
            long maxBlocks = ByteBuffer.wrap(vpd).getInt(8) & 0xffff_ffffL;
            if (maxBlocks > 0) {
                requestBytes = (int) Math.min(MAX_REQUEST, maxBlocks * blockSize);
            }
        }
        requestBytes = Math.max(blockSize, requestBytes / blockSize * blockSize);
    }

    /** A 16-byte CDB with {@code op}, service action, LBA 0 and allocation length. */
    private static byte[] cdb16(int op, int serviceAction, long lba, int allocation) {
        ByteBuffer b = ByteBuffer.allocate(16);
        b.put((byte) op).put((byte) serviceAction).putLong(lba).putInt(allocation).put((byte) 0).put((byte) 0);
        return b.array();
    }

    private static byte[] read16(long lba, int blocks) {
        ByteBuffer b = ByteBuffer.allocate(16);
        b.put((byte) 0x88).put((byte) 0).putLong(lba).putInt(blocks).put((byte) 0).put((byte) 0);
        return b.array();
    }

    /**
     * Reads {@code length} bytes at byte {@code offset} of the LUN into {@code dst[dstOffset..]}.
     * {@code offset} must be block-aligned; a {@code length} that ends inside a block is read up to
     * there (the block is read whole into a scratch buffer).
     */
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        if (offset % blockSize != 0) {
            throw new IllegalArgumentException("offset " + offset + " is not a multiple of the block size " + blockSize);
        }
        if (offset < 0 || offset + length > sizeBytes()) {
            throw new IllegalArgumentException("read of " + length + " at " + offset + " beyond the LUN's " + sizeBytes());
        }
        int whole = length / blockSize * blockSize;
        ArrayDeque<Task> pending = new ArrayDeque<>();
        for (int done = 0; done < whole; done += requestBytes) {
            int n = Math.min(requestBytes, whole - done);
            pending.add(new Task(read16((offset + done) / blockSize, n / blockSize), dst, dstOffset + done, n));
        }
        runAll(pending);
        if (whole < length) {
            byte[] last = new byte[blockSize];
            runRetrying(read16((offset + whole) / blockSize, 1), last, 0, blockSize, "READ(16)");
            System.arraycopy(last, 0, dst, dstOffset + whole, length - whole);
        }
    }

    private Task runOne(byte[] cdb, byte[] dst, int off, int len) throws IOException {
        Task t = new Task(cdb, dst, off, len);
        ArrayDeque<Task> q = new ArrayDeque<>();
        q.add(t);
        runTasks(q);
        return t;
    }

    private Task runRetrying(byte[] cdb, byte[] dst, int off, int len, String name) throws IOException {
        for (int i = 0; i < 8; i++) {
            Task t = runOne(cdb, dst, off, len);
            if (!isUnitAttention(t)) {
                if (t.status != 0) {
                    throw scsiError(name, t);
                }
                return t;
            }
        }
        throw new IOException(url + ": " + name + " kept meeting unit attentions");
    }

    /** Runs every task, retrying those that meet a unit attention; any other failure is an IOException. */
    private void runAll(ArrayDeque<Task> tasks) throws IOException {
        ArrayDeque<Task> round = tasks;
        for (int attempt = 0; !round.isEmpty(); attempt++) {
            java.util.List<Task> all = new java.util.ArrayList<>(round);
            runTasks(round);
            ArrayDeque<Task> again = new ArrayDeque<>();
            for (Task t : all) {
                if (t.status == 0 && t.underflow) {
                    throw new IOException(url + ": READ(16) returned " + (t.length - t.residual) + " of " + t.length + " bytes");
                }
                if (t.status == 0) {
                    continue;
                }
                if (isUnitAttention(t) && attempt < 8) {
                    again.add(new Task(t.cdb, t.dst, t.dstOffset, t.length));
                } else {
                    throw scsiError("READ(16) at LBA " + ByteBuffer.wrap(t.cdb).getLong(2), t);
                }
            }
            round = again;
        }
    }

    private static boolean isUnitAttention(Task t) {
        return t.status == 2 && senseKey(t.sense) == 6;
    }

    private static int senseKey(byte[] s) {
        if (s == null || s.length < 3) {
            return -1;
        }
        return ((s[0] & 0x7f) >= 0x72 ? s[1] : s[2]) & 0x0f;
    }

    private IOException scsiError(String what, Task t) {
        String sense = "";
        byte[] s = t.sense;
        if (s != null && s.length >= 14 && (s[0] & 0x7f) < 0x72) {
            sense = String.format(" sense %x/%02x/%02x", s[2] & 0x0f, s[12] & 0xff, s[13] & 0xff);
        } else if (s != null && s.length >= 4) {
            sense = String.format(" sense %x/%02x/%02x", s[1] & 0x0f, s[2] & 0xff, s[3] & 0xff);
        }
        return new IOException(String.format("%s: %s failed: status 0x%02x%s", url, what, t.status, sense));
    }

    /** Sends the tasks (as many at once as the command window and {@link #MAX_IN_FLIGHT} allow) and waits for all. */
    private void runTasks(ArrayDeque<Task> queue) throws IOException {
        Map<Integer, Task> inFlight = new HashMap<>();
        while (!queue.isEmpty() || !inFlight.isEmpty()) {
            boolean sent = false;
            while (!queue.isEmpty() && inFlight.size() < MAX_IN_FLIGHT && cmdSN - maxCmdSN <= 0) {
                Task t = queue.poll();
                t.itt = nextItt++;
                if (t.itt == NO_TAG) {
                    t.itt = nextItt++;
                }
                inFlight.put(t.itt, t);
                sendCommand(t);
                sent = true;
            }
            if (sent) {
                out.flush();
            }
            if (inFlight.isEmpty()) {
                // the window is closed and nothing is in flight: wait for a NOP-In that opens it
                receive(inFlight);
                continue;
            }
            Task done = receive(inFlight);
            if (done != null) {
                inFlight.remove(done.itt);
            }
        }
    }

    private void sendCommand(Task t) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BHS);
        int flags = 0x80 | (t.length > 0 ? 0x40 : 0) | 0x01; // F, R (never W), SIMPLE
        b.put((byte) 0x01).put((byte) flags).putShort((short) 0).putInt(0);
        int lun = url.lun();
        b.putShort((short) (lun < 256 ? lun : 0x4000 | lun)).putShort((short) 0).putInt(0);
        b.putInt(t.itt).putInt(t.length).putInt(cmdSN++).putInt(expStatSN);
        b.put(t.cdb);
        b.put(new byte[16 - t.cdb.length]);
        out.write(b.array());
    }

    /** Reads one PDU and applies it; returns the task it completed, if any. */
    private Task receive(Map<Integer, Task> inFlight) throws IOException {
        Pdu p = readPdu(inFlight);
        switch (p.opcode()) {
            case 0x25 -> { // Data-In
                window(p);
                Task t = inFlight.get(p.u32(16));
                if (t == null) {
                    throw new IOException(url + ": Data-In for unknown task " + p.u32(16));
                }
                int flags = p.bhs[1] & 0xff;
                if ((flags & 0x01) != 0) { // S: status carried
                    expStatSN = p.u32(24) + 1;
                    t.status = p.bhs[3] & 0xff;
                    t.underflow = (flags & 0x02) != 0;
                    t.residual = p.u32(44);
                    return t;
                }
                return null;
            }
            case 0x21 -> { // SCSI Response
                window(p);
                expStatSN = p.u32(24) + 1;
                Task t = inFlight.get(p.u32(16));
                if (t == null) {
                    throw new IOException(url + ": SCSI Response for unknown task " + p.u32(16));
                }
                if ((p.bhs[2] & 0xff) != 0) {
                    throw new IOException(url + ": the target failed a command (iSCSI response 0x"
                            + Integer.toHexString(p.bhs[2] & 0xff) + ")");
                }
                t.status = p.bhs[3] & 0xff;
                int flags = p.bhs[1] & 0xff;
                t.underflow = (flags & 0x02) != 0;
                t.residual = p.u32(44);
                if (p.data.length >= 2) {
                    int len = Math.min(p.data.length - 2, (p.data[0] & 0xff) << 8 | (p.data[1] & 0xff));
                    t.sense = java.util.Arrays.copyOfRange(p.data, 2, 2 + len);
                }
                return t;
            }
            case 0x20 -> { // NOP-In
                window(p);
                int ttt = p.u32(20);
                if (p.u32(16) != NO_TAG) {
                    expStatSN = p.u32(24) + 1;
                }
                if (ttt != NO_TAG) {
                    ByteBuffer n = ByteBuffer.allocate(BHS);
                    n.put((byte) 0x40).put((byte) 0x80).putShort((short) 0).putInt(0);
                    n.put(p.bhs, 8, 8);
                    n.putInt(NO_TAG).putInt(ttt).putInt(cmdSN).putInt(expStatSN);
                    send(n.array(), null);
                }
                return null;
            }
            case 0x32 -> { // Asynchronous Message
                window(p);
                expStatSN = p.u32(24) + 1;
                int event = p.bhs[36] & 0xff;
                if (event == 1 || event == 2 || event == 3) {
                    throw new IOException(url + ": the target is ending the session (asynchronous event " + event + ")");
                }
                return null;
            }
            case 0x3f -> throw new IOException(url + ": the target rejected a PDU (reason 0x"
                    + Integer.toHexString(p.bhs[2] & 0xff) + ")");
            default -> throw new IOException(url + ": unexpected PDU opcode 0x" + Integer.toHexString(p.opcode()));
        }
    }

    private void window(Pdu p) {
        int max = p.u32(32);
        int exp = p.u32(28);
        if (max - exp >= -1 && max - maxCmdSN > 0) { // a valid window that moved forward
            maxCmdSN = max;
        }
    }

    // ---------------------------------------------------------------- PDUs

    private record Pdu(byte[] bhs, byte[] data) {
        int opcode() {
            return bhs[0] & 0x3f;
        }

        int u32(int off) {
            return ByteBuffer.wrap(bhs).getInt(off);
        }
    }

    private static final byte[] NO_DATA = new byte[0];

    /**
     * Reads one PDU. A Data-In's payload goes straight into its task's buffer (then {@code data}
     * is empty); everything else is returned with its data segment.
     */
    private Pdu readPdu(Map<Integer, Task> inFlight) throws IOException {
        byte[] bhs = new byte[BHS];
        try {
            in.readFully(bhs);
        } catch (SocketTimeoutException e) {
            throw new IOException(url + ": no answer from the target in " + TIMEOUT_MS / 1000 + " s", e);
        } catch (EOFException e) {
            throw new IOException(url + ": the target closed the connection", e);
        }
        int ahs = (bhs[4] & 0xff) * 4;
        int len = (bhs[5] & 0xff) << 16 | (bhs[6] & 0xff) << 8 | (bhs[7] & 0xff);
        int pad = (4 - (len & 3)) & 3;
        in.skipNBytes(ahs);
        if ((bhs[0] & 0x3f) == 0x25 && inFlight != null && len > 0) {
            Task t = inFlight.get(ByteBuffer.wrap(bhs).getInt(16));
            int offset = ByteBuffer.wrap(bhs).getInt(40);
            if (t == null || offset < 0 || (long) offset + len > t.length) {
                throw new IOException(url + ": Data-In of " + len + " bytes at offset " + offset
                        + " does not fit its command");
            }
            in.readFully(t.dst, t.dstOffset + offset, len);
            in.skipNBytes(pad);
            return new Pdu(bhs, NO_DATA);
        }
        if (len > 16 << 20) {
            throw new IOException(url + ": PDU with a " + len + "-byte data segment");
        }
        byte[] data = new byte[len];
        in.readFully(data);
        in.skipNBytes(pad);
        return new Pdu(bhs, data);
    }

    private void send(byte[] bhs, byte[] data) throws IOException {
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

    /** Logs out (best effort) and closes the connection. */
    @Override
    public void close() throws IOException {
        try {
            if (!socket.isClosed()) {
                socket.setSoTimeout(2000);
                ByteBuffer b = ByteBuffer.allocate(BHS);
                b.put((byte) 0x46).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
                b.putInt(nextItt++).putShort((short) 0).putShort((short) 0).putInt(cmdSN).putInt(expStatSN);
                send(b.array(), null);
                for (int i = 0; i < 16; i++) {
                    Pdu p = readPdu(null);
                    if (p.opcode() == 0x26) {
                        break;
                    }
                }
            }
        } catch (IOException e) {
            // the session ends with the connection anyway
        } finally {
            socket.close();
        }
    }
}
