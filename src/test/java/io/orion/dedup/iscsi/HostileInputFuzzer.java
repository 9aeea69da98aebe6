package io.orion.dedup.iscsi;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * The project's own seeded fuzzer of hostile iSCSI input against a real server on loopback. Input
 * number K is made from (seed, K) alone, so a failing input is replayed with the same seed and
 * {@code from = K} (the sessions it runs on are fresh then, which is the only difference).
 *
 * <p>Kinds of input, each on a connection of its own kind:
 * <ul>
 *   <li>CDB: a SCSI command of any of the 256 opcodes with mutated fields (LBAs past the end,
 *       lengths, allocation lengths, flags, reserved bits, control byte, task attribute, LUN, R/W
 *       bits and Expected Data Transfer Length), pipelined on one session (target {@code cdbTarget},
 *       LUN = the lane's number, so that one lane's reservations leave the others' LUNs alone)
 *       with up to {@link #WINDOW} commands in flight; the target must answer every one with a
 *       status (never a dropped connection) and a well-formed PDU; R2Ts are answered with data.</li>
 *   <li>DATAOUT: a WRITE whose Data-Out sequence is mutated (wrong TTT, offsets, overlaps, too much
 *       data, bad DataSN, unsolicited data against InitialR2T=Yes, missing or early F bit, a Data-Out
 *       for an unknown task); then the correct data is sent for every R2T, and a task still open is
 *       aborted: the session must survive and every task must end.</li>
 *   <li>PDU: a valid PDU of any initiator opcode (or an unknown one) with mutated header bytes,
 *       AHS and data segment, in the full-feature phase (target {@code pduTarget}), followed by a
 *       NOP-Out whose answer proves the connection still reads.</li>
 *   <li>TEXT: a Text Request with hostile keys (unknown keys, overlong values, duplicates, bad
 *       numbers, NUL-less data, huge MaxRecvDataSegmentLength), on the same session.</li>
 *   <li>LOGIN: a fresh connection with a mutated login at the security stage, the operational stage
 *       or straight through, then (if it got there) a login PDU in the full-feature phase.</li>
 *   <li>DIGEST: a session with CRC32C header and data digests: PDUs with a bad data digest (a Reject
 *       and, for a command, CHECK CONDITION is due, not a dropped connection), a bad header digest (the
 *       connection may close), or good digests.</li>
 *   <li>FRAMING: a truncated header followed by EOF, an oversized data segment length, a long AHS,
 *       garbage, at login or after it: the target may close the connection but must not hang.</li>
 * </ul>
 */
public final class HostileInputFuzzer {

    /** Commands in flight on the CDB session. */
    static final int WINDOW = 16;
    /** Largest Expected Data Transfer Length the fuzzer uses (keeps socket buffers from filling). */
    static final int MAX_EDTL = 65536;
    static final int NO_TAG = -1;

    public enum Kind { CDB, DATAOUT, PDU, TEXT, LOGIN, DIGEST, FRAMING }

    private final InetSocketAddress portal;
    private final String cdbTarget;
    private final String pduTarget;
    private final long lunBlocks;
    private final long seed;
    private final int lane;
    private final int lanes;
    final Stats stats = new Stats();
    private final byte[][] patterns = new byte[16][512];

    private CdbSession cdb;
    private Conn dout;
    private Conn pdu;
    private int pduUses;
    private Conn digest;
    private int sourceNo;

    /** Counts for the report, and what went wrong. */
    public static final class Stats {
        public long inputs;
        public final Map<Kind, Long> byKind = new TreeMap<>();
        /** Milliseconds spent on each kind. */
        public final Map<Kind, Long> millisByKind = new TreeMap<>();
        /** "key/ASC/ASCQ" of every CHECK CONDITION, with counts. */
        public final Map<String, Long> senses = new TreeMap<>();
        /** SCSI status byte answers, with counts. */
        public final Map<String, Long> statuses = new TreeMap<>();
        /** Reject reasons, with counts. */
        public final Map<String, Long> rejects = new TreeMap<>();
        /** Login status class/detail answers, with counts. */
        public final Map<String, Long> loginStatuses = new TreeMap<>();
        /** Connections the target closed (any kind), and those by kind. */
        public long closedByTarget;
        public final Map<Kind, Long> closedByKind = new TreeMap<>();
        public long abortedAfterStall;
        public final List<String> failures = new ArrayList<>();

        static void inc(Map<String, Long> m, String k) {
            m.merge(k, 1L, Long::sum);
        }

        public String summary() {
            return String.format("inputs %d %s%n  distinct sense answers %d: %s%n  statuses %s%n"
                    + "  distinct reject reasons %d: %s%n  login answers %s%n  connections closed by the target %d %s%n"
                    + "  tasks aborted after a stalled Data-Out sequence %d%n  ms by kind %s%n  failures %d",
                    inputs, byKind, senses.size(), senses, statuses, rejects.size(), rejects, loginStatuses,
                    closedByTarget, closedByKind, abortedAfterStall, millisByKind, failures.size());
        }
    }

    /** A failure of the target: the input that caused it, and what was wrong. */
    static final class Defect extends RuntimeException {
        Defect(String message) {
            super(message);
        }
    }

    public HostileInputFuzzer(InetSocketAddress portal, String cdbTarget, String pduTarget, long lunBlocks, long seed) {
        this(portal, cdbTarget, pduTarget, lunBlocks, seed, 0, 1);
    }

    /** Lane {@code lane} of {@code lanes}: it runs the inputs K with K mod lanes = lane, on sessions of its own. */
    HostileInputFuzzer(InetSocketAddress portal, String cdbTarget, String pduTarget, long lunBlocks, long seed,
                       int lane, int lanes) {
        this.lane = lane;
        this.lanes = lanes;
        this.portal = portal;
        this.cdbTarget = cdbTarget;
        this.pduTarget = pduTarget;
        this.lunBlocks = lunBlocks;
        this.seed = seed;
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 1; i < patterns.length; i++) { // pattern 0 stays zeros; few patterns keep the pool small
            r.nextBytes(patterns[i]);
        }
    }

    /**
     * Runs inputs {@code from} .. {@code from + count - 1} on {@code lanes} lanes at once (each with
     * sessions of its own; input K is the same whichever lane runs it); the counts are summed.
     */
    public static Stats run(InetSocketAddress portal, String cdbTarget, String pduTarget, long lunBlocks, long seed,
                            long from, long count, int lanes, java.util.function.BooleanSupplier keepGoing)
            throws Exception {
        List<HostileInputFuzzer> fuzzers = new ArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean failed = new java.util.concurrent.atomic.AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> thrown = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int lane = 0; lane < lanes; lane++) {
            HostileInputFuzzer f = new HostileInputFuzzer(portal, cdbTarget, pduTarget, lunBlocks, seed, lane, lanes);
            fuzzers.add(f);
            Thread t = new Thread(() -> {
                try {
                    f.run(from, count, () -> !failed.get() && keepGoing.getAsBoolean());
                } catch (Throwable e) {
                    thrown.add(e);
                    f.stats.failures.add("lane " + f.lane + " threw " + e);
                } finally {
                    if (!f.stats.failures.isEmpty()) {
                        failed.set(true);
                    }
                }
            }, "fuzz-lane-" + lane);
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        Stats all = new Stats();
        for (HostileInputFuzzer f : fuzzers) {
            Stats s = f.stats;
            all.inputs += s.inputs;
            s.byKind.forEach((k, v) -> all.byKind.merge(k, v, Long::sum));
            s.millisByKind.forEach((k, v) -> all.millisByKind.merge(k, v, Long::sum));
            s.senses.forEach((k, v) -> all.senses.merge(k, v, Long::sum));
            s.statuses.forEach((k, v) -> all.statuses.merge(k, v, Long::sum));
            s.rejects.forEach((k, v) -> all.rejects.merge(k, v, Long::sum));
            s.loginStatuses.forEach((k, v) -> all.loginStatuses.merge(k, v, Long::sum));
            s.closedByKind.forEach((k, v) -> all.closedByKind.merge(k, v, Long::sum));
            all.closedByTarget += s.closedByTarget;
            all.abortedAfterStall += s.abortedAfterStall;
            for (String x : s.failures) {
                if (!x.startsWith("stopped before")) {
                    all.failures.add(x);
                }
            }
            if (s.failures.stream().anyMatch(x -> x.startsWith("stopped before")) && all.failures.isEmpty()) {
                all.failures.add(s.failures.get(0));
            }
        }
        return all;
    }

    static long mix(long seed, long k) {
        long z = seed + 0x9E3779B97F4A7C15L * (k + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static Kind kindOf(SplittableRandom r) {
        int w = r.nextInt(1000);
        if (w < 800) {
            return Kind.CDB;
        } else if (w < 860) {
            return Kind.DATAOUT;
        } else if (w < 920) {
            return Kind.PDU;
        } else if (w < 950) {
            return Kind.TEXT;
        } else if (w < 980) {
            return Kind.LOGIN;
        } else if (w < 995) {
            return Kind.DIGEST;
        }
        return Kind.FRAMING;
    }

    /**
     * Runs inputs {@code from} .. {@code from + count - 1}; stops at the first failure (recorded in
     * {@link Stats#failures}) or when {@code keepGoing} returns false.
     */
    public Stats run(long from, long count, java.util.function.BooleanSupplier keepGoing) throws IOException {
        try {
            for (long k = from; k < from + count; k++) {
                if (Math.floorMod(k, lanes) != lane) {
                    continue;
                }
                if (!keepGoing.getAsBoolean()) {
                    stats.failures.add("stopped before input " + k + " (the healthy session or the server failed)");
                    break;
                }
                SplittableRandom r = new SplittableRandom(mix(seed, k));
                Kind kind = kindOf(r);
                stats.inputs++;
                stats.byKind.merge(kind, 1L, Long::sum);
                long t0 = System.nanoTime();
                try {
                    switch (kind) {
                        case CDB -> cdb().submit(k, r);
                        case DATAOUT -> dataOut(k, r);
                        case PDU -> pdu(k, r);
                        case TEXT -> text(k, r);
                        case LOGIN -> login(k, r);
                        case DIGEST -> digest(k, r);
                        case FRAMING -> framing(k, r);
                        default -> throw new IllegalStateException();
                    }
                } catch (Defect d) {
                    stats.failures.add("input " + k + " (" + kind + "): " + d.getMessage());
                    break;
                } catch (IOException e) {
                    // a write or read on a connection the target closed (or reset) under the input
                    if (kind == Kind.PDU || kind == Kind.LOGIN || kind == Kind.FRAMING) {
                        closed(kind);
                        if (kind == Kind.PDU && pdu != null) {
                            pdu.close();
                            pdu = null;
                        }
                    } else {
                        stats.failures.add("input " + k + " (" + kind + "): the connection failed: " + e);
                        break;
                    }
                } finally {
                    stats.millisByKind.merge(kind, (System.nanoTime() - t0) / 1_000_000, Long::sum);
                }
            }
            if (stats.failures.isEmpty() && cdb != null) {
                try {
                    cdb.drain(0);
                } catch (Defect d) {
                    stats.failures.add("CDB session: " + d.getMessage());
                }
            }
        } finally {
            for (Conn c : new Conn[] {cdb == null ? null : cdb.c, dout, pdu, digest}) {
                if (c != null) {
                    c.close();
                }
            }
        }
        return stats;
    }

    void closed(Kind kind) {
        stats.closedByTarget++;
        stats.closedByKind.merge(kind, 1L, Long::sum);
    }

    InetAddress nextSource() throws IOException {
        sourceNo++;
        return InetAddress.getByName("127." + (1 + lane) + "." + (1 + sourceNo / 250 % 250) + "." + (1 + sourceNo % 250));
    }

    // ------------------------------------------------------------------ the wire

    /** One connection: raw PDUs, optional CRC32C digests, the StatSN check and well-formedness. */
    final class Conn implements AutoCloseable {
        final Socket socket;
        final DataInputStream in;
        final OutputStream out;
        final Kind kind;
        int cmdSN = 1;
        int expStatSN;
        boolean statSnKnown;
        boolean headerDigest;
        boolean dataDigest;
        /** The largest data segment the target may send us (our MaxRecvDataSegmentLength). */
        int maxRecv = 8192;
        int targetMaxRecv = 8192;
        int firstBurst = 65536;
        boolean immediateData = true;
        String loginAnswer = "";
        int nextItt = 1;

        Conn(Kind kind, InetAddress local) throws IOException {
            this.kind = kind;
            socket = new Socket();
            if (local != null) {
                socket.bind(new InetSocketAddress(local, 0));
            }
            socket.connect(portal, 5000);
            socket.setSoTimeout(10000);
            socket.setTcpNoDelay(true);
            in = new DataInputStream(new java.io.BufferedInputStream(socket.getInputStream(), 65536));
            out = new java.io.BufferedOutputStream(socket.getOutputStream(), 65536);
        }

        /** Writes a PDU (the header's length fields are left as given); digests as negotiated. */
        void write(byte[] bhs, byte[] ahs, byte[] data, boolean badHeaderDigest, boolean badDataDigest)
                throws IOException {
            out.write(bhs);
            if (ahs != null) {
                out.write(ahs);
            }
            if (headerDigest) {
                CRC32C c = new CRC32C();
                c.update(bhs);
                if (ahs != null) {
                    c.update(ahs);
                }
                writeLe((int) c.getValue() ^ (badHeaderDigest ? 1 : 0));
            }
            if (data != null && data.length > 0) {
                byte[] pad = new byte[(4 - (data.length & 3)) & 3];
                out.write(data);
                out.write(pad);
                if (dataDigest) {
                    CRC32C c = new CRC32C();
                    c.update(data);
                    c.update(pad);
                    writeLe((int) c.getValue() ^ (badDataDigest ? 0x100 : 0));
                }
            }
        }

        private void writeLe(int v) throws IOException {
            out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
        }

        /** Sets the data segment length in the header and writes the PDU. */
        void send(byte[] bhs, byte[] data) throws IOException {
            int len = data == null ? 0 : data.length;
            bhs[5] = (byte) (len >>> 16);
            bhs[6] = (byte) (len >>> 8);
            bhs[7] = (byte) len;
            write(bhs, null, data, false, false);
        }

        void flush() throws IOException {
            out.flush();
        }

        /** Reads one PDU (header, data), checking it; null when the target closed the connection. */
        byte[][] read() throws IOException {
            byte[] bhs = new byte[48];
            try {
                in.readFully(bhs);
            } catch (EOFException | java.net.SocketException e) {
                return null;
            }
            int ahsLen = (bhs[4] & 0xff) * 4;
            int len = ((bhs[5] & 0xff) << 16) | ((bhs[6] & 0xff) << 8) | (bhs[7] & 0xff);
            if (ahsLen != 0) {
                throw new Defect("target PDU opcode " + hex(bhs[0] & 0x3f) + " with TotalAHSLength " + ahsLen);
            }
            if (len > maxRecv) {
                throw new Defect("target PDU opcode " + hex(bhs[0] & 0x3f) + " with a data segment of " + len
                        + " bytes, over our MaxRecvDataSegmentLength " + maxRecv);
            }
            if (headerDigest) {
                int got = Integer.reverseBytes(in.readInt());
                CRC32C c = new CRC32C();
                c.update(bhs);
                if (got != (int) c.getValue()) {
                    throw new Defect("bad header digest from the target");
                }
            }
            byte[] data = new byte[len];
            in.readFully(data);
            byte[] pad = new byte[(4 - (len & 3)) & 3];
            in.readFully(pad);
            if (dataDigest && len > 0) {
                int got = Integer.reverseBytes(in.readInt());
                CRC32C c = new CRC32C();
                c.update(data);
                c.update(pad);
                if (got != (int) c.getValue()) {
                    throw new Defect("bad data digest from the target");
                }
            }
            byte[][] p = {bhs, data};
            wellFormed(p);
            return p;
        }

        /** RFC 7143 §11: the checks every target PDU must pass, and StatSN advancing by one. */
        void wellFormed(byte[][] p) {
            byte[] h = p[0];
            int op = h[0] & 0x3f;
            boolean f = (h[1] & 0x80) != 0;
            if ((h[0] & 0xc0) != 0) {
                throw new Defect("target PDU with reserved bits of byte 0 set: " + hex(h[0] & 0xff));
            }
            switch (op) {
                case 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x31, 0x32, 0x3f -> {
                }
                default -> throw new Defect("target PDU with opcode " + hex(op) + ", not a target opcode");
            }
            if (!f && op != 0x25 && op != 0x23 && op != 0x24) {
                throw new Defect("target PDU opcode " + hex(op) + " without the F bit");
            }
            if (op == 0x21) {
                int response = h[2] & 0xff;
                int status = h[3] & 0xff;
                if (response > 1) {
                    throw new Defect("SCSI Response with response code " + hex(response));
                }
                if (response == 0 && status == 2) {
                    if (p[1].length < 2 + 8) {
                        throw new Defect("CHECK CONDITION without sense data");
                    }
                    int senseLen = ((p[1][0] & 0xff) << 8) | (p[1][1] & 0xff);
                    int code = p[1][2] & 0x7f;
                    if (senseLen + 2 > p[1].length || senseLen < 8 || code < 0x70 || code > 0x73) {
                        throw new Defect("malformed sense: length " + senseLen + " response code " + hex(code));
                    }
                }
            }
            if (op == 0x25 && (h[1] & 0x01) != 0 && !f) {
                throw new Defect("Data-In with the S bit but not the F bit");
            }
            if (op == 0x3f && p[1].length != 48) {
                throw new Defect("Reject whose data is " + p[1].length + " bytes, not the rejected header");
            }
            boolean advances = op == 0x21 || op == 0x22 || op == 0x23 || op == 0x24 || op == 0x26 || op == 0x32
                    || op == 0x3f || (op == 0x25 && (h[1] & 0x01) != 0)
                    || (op == 0x20 && ByteBuffer.wrap(h).getInt(16) != NO_TAG);
            if (advances) {
                int statSN = ByteBuffer.wrap(h).getInt(24);
                if (op == 0x23 && (h[36] != 0)) {
                    return; // a failed login's StatSN is not meaningful
                }
                if (statSnKnown && statSN != expStatSN && op != 0x23) {
                    throw new Defect(String.format("StatSN %d from the target where %d was due (opcode %s)", statSN,
                            expStatSN, hex(op)));
                }
                expStatSN = statSN + 1;
                statSnKnown = true;
            }
        }

        /** Answers a target ping; true when {@code p} was one. */
        boolean answerPing(byte[][] p) throws IOException {
            if ((p[0][0] & 0x3f) != 0x20 || ByteBuffer.wrap(p[0]).getInt(16) != NO_TAG) {
                return false;
            }
            int ttt = ByteBuffer.wrap(p[0]).getInt(20);
            if (ttt != NO_TAG) {
                ByteBuffer b = ByteBuffer.allocate(48);
                b.put((byte) 0x40).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
                b.putInt(NO_TAG).putInt(ttt).putInt(cmdSN).putInt(expStatSN);
                send(b.array(), null);
                flush();
            }
            return true;
        }

        /** Logs in (normal session to {@code target}); returns the login status, 0 for success. */
        int login(String initiator, String target, long isid, String keys) throws IOException {
            String text = "InitiatorName=" + initiator + "\0" + "TargetName=" + target + "\0SessionType=Normal\0"
                    + keys;
            ByteBuffer b = ByteBuffer.allocate(48);
            b.put((byte) 0x43).put((byte) 0x87).put((byte) 0).put((byte) 0).putInt(0);
            b.putShort((short) (isid >>> 32)).putInt((int) isid).putShort((short) 0);
            b.putInt(1).putShort((short) 0).putShort((short) 0).putInt(cmdSN).putInt(0);
            boolean hd = headerDigest;
            boolean dd = dataDigest;
            headerDigest = false;
            dataDigest = false;
            send(b.array(), text.getBytes(StandardCharsets.UTF_8));
            flush();
            byte[][] r = read();
            if (r == null) {
                throw new Defect("the target closed a valid login to " + target);
            }
            headerDigest = hd;
            dataDigest = dd;
            cmdSN = ByteBuffer.wrap(r[0]).getInt(28);
            loginAnswer = new String(r[1], StandardCharsets.UTF_8);
            for (String kv : loginAnswer.split("\0")) {
                if (kv.startsWith("MaxRecvDataSegmentLength=")) {
                    targetMaxRecv = Integer.parseInt(kv.substring(kv.indexOf('=') + 1));
                } else if (kv.startsWith("FirstBurstLength=")) {
                    firstBurst = Integer.parseInt(kv.substring(kv.indexOf('=') + 1));
                } else if (kv.equals("ImmediateData=No")) {
                    immediateData = false;
                }
            }
            return ((r[0][36] & 0xff) << 8) | (r[0][37] & 0xff);
        }

        byte[] nopOut(int itt, byte[] data) {
            ByteBuffer b = ByteBuffer.allocate(48);
            b.put((byte) 0x40).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
            b.putInt(itt).putInt(NO_TAG).putInt(cmdSN).putInt(expStatSN);
            return b.array();
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // closing
            }
        }
    }

    static String hex(int v) {
        return String.format("0x%02x", v);
    }

    private Conn normalSession(Kind kind, String target, String initiator, long isid, String keys) throws IOException {
        Conn c = new Conn(kind, null);
        int status = c.login(initiator, target, isid, "HeaderDigest=None\0DataDigest=None\0" + keys);
        if (status != 0) {
            c.close();
            throw new Defect("a valid login to " + target + " failed with status " + hex(status) + ": "
                    + c.loginAnswer.replace('\0', ' '));
        }
        return c;
    }

    // ------------------------------------------------------------------ CDB

    CdbSession cdb() throws IOException {
        if (cdb == null) {
            cdb = new CdbSession();
        }
        return cdb;
    }

    /** One command in flight on the CDB session. */
    record Pending(long k, byte[] cdb, int flags, int edtl, byte[] data, int[] dataIn) {
    }

    final class CdbSession {
        final Conn c;
        final Map<Integer, Pending> out = new LinkedHashMap<>();

        CdbSession() throws IOException {
            c = normalSession(Kind.CDB, cdbTarget, "iqn.2026-11.fuzz:cdb-" + lane, 0x23d000fc0001L + (lane << 8), "");
        }

        void submit(long k, SplittableRandom r) throws IOException {
            drain(WINDOW - 1);
            byte[] cdbBytes = mutatedCdb(r);
            int op = cdbBytes[0] & 0xff;
            boolean write = isDataOut(op);
            int edtl = expectedLength(r, op, cdbBytes, write);
            int flags = 0x80 | (write ? 0x20 : (edtl > 0 ? 0x40 : 0));
            int attr = r.nextInt(10) == 0 ? r.nextInt(8) : 1;
            if (r.nextInt(15) == 0) {
                flags = 0x80 | (r.nextInt(4) << 5); // R/W bits at random, whatever the CDB says
                write = (flags & 0x20) != 0;
            }
            flags |= attr;
            byte[] data = null;
            if (write && edtl != 0) {
                data = payload(r, edtl > 0 ? edtl : 512); // an EDTL of 2^31 or more: the target must refuse it
            }
            int lun = r.nextInt(20) == 0 ? r.nextInt(300) : lane;
            int itt = (int) k;
            if (out.containsKey(itt) || itt == NO_TAG) {
                itt ^= 0x40000000;
            }
            ByteBuffer b = ByteBuffer.allocate(48);
            b.put((byte) 0x01).put((byte) flags).putShort((short) 0).putInt(0);
            if (lun < 256) {
                b.put((byte) 0).put((byte) lun).putShort((short) 0).putInt(0);
            } else {
                b.putLong(r.nextLong()); // any LUN encoding
            }
            b.putInt(itt).putInt(edtl).putInt(c.cmdSN++).putInt(c.expStatSN);
            b.put(cdbBytes, 0, 16);
            byte[] imm = null;
            if (data != null && c.immediateData) {
                int n = Math.min(data.length, Math.min(c.firstBurst, c.targetMaxRecv));
                imm = java.util.Arrays.copyOf(data, n);
            }
            out.put(itt, new Pending(k, cdbBytes, flags, edtl, data, new int[1]));
            c.send(b.array(), imm);
            c.flush();
        }

        /** Reads answers until at most {@code max} commands are in flight. */
        void drain(int max) throws IOException {
            while (out.size() > max) {
                byte[][] p;
                try {
                    p = c.read();
                } catch (SocketTimeoutException e) {
                    throw new Defect("no answer within 10 s; in flight: " + inFlight());
                }
                if (p == null) {
                    closed(Kind.CDB);
                    throw new Defect("the target closed the CDB session (a CHECK CONDITION was due); in flight: "
                            + inFlight());
                }
                handle(p);
            }
        }

        String inFlight() {
            StringBuilder s = new StringBuilder();
            for (Pending q : out.values()) {
                s.append(String.format("%n    input %d: CDB %s flags 0x%02x EDTL %d", q.k,
                        java.util.HexFormat.of().formatHex(q.cdb), q.flags, q.edtl));
            }
            return s.toString();
        }

        void handle(byte[][] p) throws IOException {
            int op = p[0][0] & 0x3f;
            ByteBuffer h = ByteBuffer.wrap(p[0]);
            int itt = h.getInt(16);
            if (c.answerPing(p) || op == 0x32) {
                return;
            }
            Pending q = out.get(itt);
            if (q == null) {
                throw new Defect("target PDU " + hex(op) + " for ITT " + itt + ", which is not in flight");
            }
            switch (op) {
                case 0x31 -> {
                    int ttt = h.getInt(20);
                    int offset = h.getInt(40);
                    int length = h.getInt(44);
                    if (q.data == null || offset < 0 || length <= 0 || (long) offset + length > q.data.length) {
                        throw new Defect(String.format("R2T offset %d length %d for input %d (EDTL %d)", offset,
                                length, q.k, q.edtl));
                    }
                    sendData(c, itt, ttt, q.data, offset, length);
                }
                case 0x25 -> {
                    q.dataIn[0] += p[1].length;
                    if ((q.flags & 0x40) == 0 || q.dataIn[0] > Integer.toUnsignedLong(q.edtl)) {
                        throw new Defect(String.format("%d bytes of Data-In for input %d (flags 0x%02x EDTL %d)",
                                q.dataIn[0], q.k, q.flags, q.edtl));
                    }
                    if ((p[0][1] & 0x01) != 0) {
                        answered(q, p[0][3] & 0xff, null);
                        out.remove(itt);
                    }
                }
                case 0x21 -> {
                    if (p[0][2] != 0) {
                        throw new Defect("iSCSI response " + hex(p[0][2]) + " (target failure) for input " + q.k);
                    }
                    answered(q, p[0][3] & 0xff, p[1]);
                    out.remove(itt);
                }
                case 0x3f -> {
                    Stats.inc(stats.rejects, hex(p[0][2] & 0xff));
                    throw new Defect("Reject " + hex(p[0][2] & 0xff) + " for a well-formed command, input " + q.k);
                }
                default -> throw new Defect("unexpected target PDU " + hex(op) + " for input " + q.k);
            }
        }

        void answered(Pending q, int status, byte[] senseData) {
            Stats.inc(stats.statuses, hex(status));
            switch (status) {
                case 0x00, 0x02, 0x04, 0x08, 0x18, 0x28, 0x30, 0x40 -> {
                }
                default -> throw new Defect("SCSI status " + hex(status) + " for input " + q.k);
            }
            if (status == 2 && senseData != null) {
                String s = sense(senseData);
                Stats.inc(stats.senses, s);
                if (s.startsWith("4/44")) {
                    throw new Defect("INTERNAL TARGET FAILURE (" + s + ") for input " + q.k + ": CDB "
                            + java.util.HexFormat.of().formatHex(q.cdb) + String.format(" flags 0x%02x EDTL %d",
                            q.flags, q.edtl));
                }
            }
        }
    }

    static String sense(byte[] data) {
        byte[] s = java.util.Arrays.copyOfRange(data, 2, data.length);
        boolean desc = (s[0] & 0x7f) >= 0x72;
        int key = (desc ? s[1] : s[2]) & 0x0f;
        int asc = (desc ? s[2] : s.length > 12 ? s[12] : 0) & 0xff;
        int ascq = (desc ? s[3] : s.length > 13 ? s[13] : 0) & 0xff;
        return String.format("%x/%02x/%02x", key, asc, ascq);
    }

    /** Sends {@code length} bytes from {@code offset} of {@code data} as Data-Out PDUs for one R2T. */
    static void sendData(Conn c, int itt, int ttt, byte[] data, int offset, int length) throws IOException {
        int sn = 0;
        for (int pos = offset; pos < offset + length; ) {
            int n = Math.min(c.targetMaxRecv, offset + length - pos);
            byte[] seg = java.util.Arrays.copyOfRange(data, pos, pos + n);
            c.send(dataOutHeader(c, pos + n == offset + length, itt, ttt, sn++, pos), seg);
            pos += n;
        }
        c.flush();
    }

    static byte[] dataOutHeader(Conn c, boolean fin, int itt, int ttt, int dataSN, int offset) {
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x05).put((byte) (fin ? 0x80 : 0)).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(itt).putInt(ttt).putInt(0).putInt(c.expStatSN).putInt(0).putInt(dataSN).putInt(offset).putInt(0);
        return b.array();
    }

    byte[] payload(SplittableRandom r, int n) {
        byte[] d = new byte[n];
        if (r.nextInt(4) == 0) {
            r.nextBytes(d); // parameter lists at random: small ones mostly
            if (n > 4096) {
                java.util.Arrays.fill(d, 4096, n, (byte) 0);
            }
            return d;
        }
        for (int i = 0; i < n; i += 512) {
            System.arraycopy(patterns[r.nextInt(patterns.length)], 0, d, i, Math.min(512, n - i));
        }
        return d;
    }

    /** Opcodes whose data goes from the initiator to the target. */
    static boolean isDataOut(int op) {
        return switch (op) {
            case 0x04, 0x07, 0x0a, 0x15, 0x18, 0x1d, 0x2a, 0x2e, 0x3b, 0x3d, 0x41, 0x42, 0x4c, 0x55, 0x5f, 0x83,
                 0x89, 0x8a, 0x8e, 0x93, 0xa4, 0xaa, 0xae, 0xb6, 0x2f, 0x8f, 0xaf, 0x48 -> true;
            default -> false;
        };
    }

    static int cdbLength(int op) {
        return switch (op >>> 5) {
            case 0 -> 6;
            case 1, 2 -> 10;
            case 4 -> 16;
            case 5 -> 12;
            default -> 16;
        };
    }

    long lba(SplittableRandom r) {
        return switch (r.nextInt(9)) {
            case 0 -> 0;
            case 1 -> lunBlocks - 1;
            case 2 -> lunBlocks;
            case 3 -> lunBlocks + r.nextInt(1000);
            case 4 -> 0xffffffffL;
            case 5 -> -1L;
            case 6 -> r.nextLong();
            default -> r.nextLong(lunBlocks);
        };
    }

    static int smallCount(SplittableRandom r) {
        return switch (r.nextInt(8)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> 0xff;
            case 3 -> 0xffff;
            case 4 -> r.nextInt();
            default -> 1 + r.nextInt(64);
        };
    }

    /** A CDB of a random opcode, its fields filled as for a real command and then mutated. */
    byte[] mutatedCdb(SplittableRandom r) {
        int op = r.nextInt(3) == 0 ? r.nextInt(256) : COMMON[r.nextInt(COMMON.length)];
        byte[] c = new byte[16];
        c[0] = (byte) op;
        int len = cdbLength(op);
        ByteBuffer b = ByteBuffer.wrap(c);
        long lba = lba(r);
        int count = smallCount(r);
        switch (len) {
            case 6 -> {
                c[1] = (byte) ((lba >>> 16) & 0x1f);
                c[2] = (byte) (lba >>> 8);
                c[3] = (byte) lba;
                c[4] = (byte) count;
            }
            case 10 -> {
                b.putInt(2, (int) lba);
                b.putShort(7, (short) count);
            }
            case 12 -> {
                b.putInt(2, (int) lba);
                b.putInt(6, count);
            }
            default -> {
                b.putLong(2, lba);
                b.putInt(10, count);
            }
        }
        if (op == 0x9e || op == 0x9f || op == 0xa3 || op == 0xa4 || op == 0x5e || op == 0x5f || op == 0x83
                || op == 0x84 || op == 0x7f) {
            c[1] = (byte) r.nextInt(0x20); // service action
        }
        int mutations = r.nextInt(4);
        for (int i = 0; i < mutations; i++) {
            int at = 1 + r.nextInt(len - 1);
            switch (r.nextInt(4)) {
                case 0 -> c[at] ^= (byte) (1 << r.nextInt(8));
                case 1 -> c[at] = (byte) r.nextInt(256);
                case 2 -> c[at] = (byte) 0xff;
                default -> c[at] = 0;
            }
        }
        if (r.nextInt(20) == 0) {
            c[len - 1] = (byte) r.nextInt(256); // control byte: NACA, link, vendor bits
        }
        return c;
    }

    static final int[] COMMON = {
        0x00, 0x03, 0x04, 0x08, 0x0a, 0x12, 0x15, 0x16, 0x17, 0x1a, 0x1b, 0x1d, 0x1e, 0x25, 0x28, 0x2a, 0x2b,
        0x2e, 0x2f, 0x34, 0x35, 0x37, 0x3b, 0x3c, 0x41, 0x42, 0x48, 0x4d, 0x55, 0x56, 0x57, 0x5a, 0x5e, 0x5f,
        0x7f, 0x83, 0x84, 0x88, 0x89, 0x8a, 0x8e, 0x8f, 0x90, 0x91, 0x93, 0x9e, 0xa0, 0xa3, 0xa4, 0xa8, 0xaa,
        0xae, 0xaf, 0xb7,
    };

    /** The Expected Data Transfer Length: what the CDB implies, or something else. */
    int expectedLength(SplittableRandom r, int op, byte[] c, boolean write) {
        if (r.nextInt(40) == 0) {
            return 0x80000000 | r.nextInt(); // 2^31 or more: the field is unsigned
        }
        int edtl;
        switch (r.nextInt(6)) {
            case 0 -> edtl = 0;
            case 1 -> edtl = r.nextInt(MAX_EDTL + 1);
            case 2 -> edtl = 512 * (1 + r.nextInt(64));
            default -> {
                int len = cdbLength(op);
                long n = len == 6 ? c[4] & 0xff : len == 10 ? ByteBuffer.wrap(c).getShort(7) & 0xffff
                        : ByteBuffer.wrap(c).getInt(len == 12 ? 6 : 10) & 0xffffffffL;
                boolean blocks = switch (op) {
                    case 0x08, 0x0a, 0x28, 0x2a, 0x2e, 0x88, 0x8a, 0x8e, 0xa8, 0xaa, 0xae -> true;
                    default -> false;
                };
                edtl = (int) Math.min(MAX_EDTL, blocks ? n * 512 : n);
            }
        }
        if (write && edtl > 32768 && r.nextInt(2) == 0) {
            edtl = 32768;
        }
        return edtl;
    }

    // ------------------------------------------------------------------ Data-Out sequences

    void dataOut(long k, SplittableRandom r) throws IOException {
        if (dout == null) {
            dout = normalSession(Kind.DATAOUT, cdbTarget, "iqn.2026-11.fuzz:dataout-" + lane, 0x23d000fc0002L + (lane << 8), "");
        }
        Conn c = dout;
        int blocks = 1 + r.nextInt(64);
        int edtl = blocks * 512;
        long lba = r.nextLong(lunBlocks - blocks);
        byte[] data = payload(r, edtl);
        int itt = (int) k;
        int mutation = r.nextInt(11);
        byte[] cdbBytes = new byte[16];
        ByteBuffer.wrap(cdbBytes).put((byte) 0x2a).put((byte) 0).putInt((int) lba).put((byte) 0)
                .putShort((short) blocks);
        ByteBuffer b = ByteBuffer.allocate(48);
        b.put((byte) 0x01).put((byte) (0x80 | 0x20 | 1)).putShort((short) 0).putInt(0).putLong((long) lane << 48);
        b.putInt(itt).putInt(edtl).putInt(c.cmdSN++).putInt(c.expStatSN);
        b.put(cdbBytes);
        byte[] bhs = b.array();
        int imm = r.nextInt(3) == 0 ? 0 : Math.min(edtl, r.nextInt(Math.min(edtl, c.targetMaxRecv) + 1));
        if (mutation == 0) {
            imm = Math.min(c.targetMaxRecv, edtl + 512); // more immediate data than the EDTL
            data = java.util.Arrays.copyOf(data, Math.max(edtl, imm));
        }
        if (mutation == 1) {
            bhs[1] &= 0x7f; // F=0: unsolicited data announced, against InitialR2T=Yes
        }
        c.send(bhs, imm == 0 ? null : java.util.Arrays.copyOf(data, imm));
        if (mutation == 1 || mutation == 2) {
            // unsolicited Data-Out (TTT 0xffffffff) although InitialR2T=Yes
            int n = Math.min(c.targetMaxRecv, Math.max(1, edtl - imm));
            c.send(dataOutHeader(c, true, itt, NO_TAG, 0, imm), java.util.Arrays.copyOfRange(data, imm,
                    Math.min(data.length, imm + n)));
        }
        if (mutation == 3) {
            c.send(dataOutHeader(c, true, itt ^ 0x5a5a, r.nextInt(), 0, 0), new byte[512]); // unknown task
        }
        c.flush();
        boolean mutatedOnce = false;
        int ping = sendPing(c);
        boolean pingAnswered = false;
        try {
            while (true) {
                byte[][] p;
                try {
                    p = c.read();
                } catch (SocketTimeoutException e) {
                    if (pingAnswered) {
                        // the target has read all we sent and waits for data we will not send
                        c.socket.setSoTimeout(10000);
                        abort(c, itt);
                        return;
                    }
                    throw new Defect("no answer to a WRITE within 10 s (Data-Out mutation " + mutation + ")");
                } catch (IOException e) {
                    p = null;
                }
                if (p == null) {
                    closed(Kind.DATAOUT);
                    dout.close();
                    dout = null;
                    throw new Defect("the target closed the session after Data-Out mutation " + mutation
                            + " (a CHECK CONDITION or a discarded PDU was due)");
                }
                if (c.answerPing(p) || (p[0][0] & 0x3f) == 0x32) {
                    continue;
                }
                int op = p[0][0] & 0x3f;
                ByteBuffer h = ByteBuffer.wrap(p[0]);
                if (op != 0x3f && op != 0x20 && h.getInt(16) != itt) {
                    continue; // the late answer of a task aborted before
                }
                switch (op) {
                    case 0x31 -> {
                        int ttt = h.getInt(20);
                        int offset = h.getInt(40);
                        int length = h.getInt(44);
                        if (offset < 0 || length <= 0 || (long) offset + length > edtl) {
                            throw new Defect(String.format("R2T offset %d length %d for a WRITE of %d bytes",
                                    offset, length, edtl));
                        }
                        if (!mutatedOnce && mutation >= 4) {
                            mutatedOnce = true;
                            mutateSequence(c, r, mutation, itt, ttt, data, offset, length);
                        }
                        sendData(c, itt, ttt, data, offset, length);
                        c.socket.setSoTimeout(10000);
                        ping = sendPing(c);
                        pingAnswered = false;
                    }
                    case 0x21 -> {
                        Stats.inc(stats.statuses, hex(p[0][3] & 0xff));
                        if ((p[0][3] & 0xff) == 2) {
                            String s = sense(p[1]);
                            Stats.inc(stats.senses, s);
                            if (s.startsWith("4/44")) {
                                throw new Defect("INTERNAL TARGET FAILURE after Data-Out mutation " + mutation);
                            }
                        }
                        return;
                    }
                    case 0x3f -> Stats.inc(stats.rejects, hex(p[0][2] & 0xff));
                    case 0x20 -> {
                        if (h.getInt(16) == ping) {
                            pingAnswered = true;
                            c.socket.setSoTimeout(500); // the write may still be running: a little while
                        }
                    }
                    default -> throw new Defect("unexpected target PDU " + hex(op) + " in a WRITE's data phase");
                }
            }
        } finally {
            if (dout != null) {
                dout.socket.setSoTimeout(10000);
            }
        }
    }

    private int pingNo;

    int sendPing(Conn c) throws IOException {
        int itt = 0x7f000000 | (++pingNo & 0xffffff);
        c.send(c.nopOut(itt, null), null);
        c.flush();
        return itt;
    }

    /** One hostile Data-Out sequence for an R2T (the correct data follows it). */
    void mutateSequence(Conn c, SplittableRandom r, int mutation, int itt, int ttt, byte[] data, int offset,
                        int length) throws IOException {
        int half = Math.max(1, length / 2);
        switch (mutation) {
            case 4 -> c.send(dataOutHeader(c, true, itt, ttt ^ 0x11, 0, offset), // wrong TTT
                    java.util.Arrays.copyOfRange(data, offset, offset + Math.min(length, c.targetMaxRecv)));
            case 5 -> c.send(dataOutHeader(c, false, itt, ttt, 0, offset + length), new byte[512]); // past the R2T
            case 6 -> { // overlapping
                c.send(dataOutHeader(c, false, itt, ttt, 0, offset), java.util.Arrays.copyOfRange(data, offset,
                        offset + Math.min(half, c.targetMaxRecv)));
                c.send(dataOutHeader(c, true, itt, ttt, 1, offset), java.util.Arrays.copyOfRange(data, offset,
                        offset + Math.min(length, c.targetMaxRecv)));
            }
            case 7 -> c.send(dataOutHeader(c, true, itt, ttt, 0, offset), // too much data
                    new byte[Math.min(c.targetMaxRecv, length + 512 + r.nextInt(512))]);
            case 8 -> c.send(dataOutHeader(c, true, itt, ttt, 5 + r.nextInt(100), offset), // bad DataSN
                    java.util.Arrays.copyOfRange(data, offset, offset + Math.min(length, c.targetMaxRecv)));
            case 9 -> c.send(dataOutHeader(c, true, itt, ttt, 0, offset), // F bit early, short data
                    java.util.Arrays.copyOfRange(data, offset, offset + Math.min(half, c.targetMaxRecv)));
            default -> c.send(dataOutHeader(c, false, itt, ttt, 0, -r.nextInt(1 << 20) - 1), new byte[4]);
        }
    }

    /** A task left waiting for data: ABORT TASK must end it, on a live connection. */
    void abort(Conn c, int itt) throws IOException {
        stats.abortedAfterStall++;
        ByteBuffer b = ByteBuffer.allocate(48);
        int tmfItt = itt ^ 0x20000000;
        b.put((byte) 0x42).put((byte) (0x80 | 1)).putShort((short) 0).putInt(0).putLong(0);
        b.putInt(tmfItt).putInt(itt).putInt(c.cmdSN).putInt(c.expStatSN).putInt(c.cmdSN - 1).putInt(0).putLong(0);
        c.send(b.array(), null);
        c.flush();
        while (true) {
            byte[][] p;
            try {
                p = c.read();
            } catch (SocketTimeoutException e) {
                throw new Defect("no Task Management response to ABORT TASK within 10 s");
            }
            if (p == null) {
                closed(Kind.DATAOUT);
                dout.close();
                dout = null;
                throw new Defect("the target closed the session on ABORT TASK");
            }
            if (c.answerPing(p)) {
                continue;
            }
            if ((p[0][0] & 0x3f) == 0x22 && ByteBuffer.wrap(p[0]).getInt(16) == tmfItt) {
                return;
            }
        }
    }

    // ------------------------------------------------------------------ PDUs and text in full feature

    Conn pduSession() throws IOException {
        if (pdu == null || ++pduUses > 300) {
            if (pdu != null) {
                pdu.close();
            }
            pduUses = 0;
            pdu = normalSession(Kind.PDU, pduTarget, "iqn.2026-11.fuzz:pdu-" + lane, 0x23d000fc0003L + (lane << 8), "");
            pdu.maxRecv = 16777215;
        }
        return pdu;
    }

    static final int[] INITIATOR_OPS = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x1c, 0x1d, 0x1e};

    /**
     * The header of a PDU input: an initiator opcode (at times any opcode), random fields and bit flips.
     * Two functions are kept out, after the flips so that no flip brings them back: a logout that
     * closes the session (remove for recovery at most), and a TARGET COLD RESET, which ends every
     * session of the target, the other lanes' too (a warm reset instead).
     */
    static byte[] hostileHeader(long k, SplittableRandom r, int cmdSN, int expStatSN) {
        int op = r.nextInt(5) == 0 ? r.nextInt(64) : INITIATOR_OPS[r.nextInt(INITIATOR_OPS.length)];
        ByteBuffer b = ByteBuffer.allocate(48);
        boolean immediate = r.nextBoolean();
        b.put((byte) (op | (immediate ? 0x40 : 0))).put((byte) (0x80 | r.nextInt(0x80))).putShort((short) 0)
                .putInt(0).putLong(r.nextInt(4) == 0 ? r.nextLong() : 0);
        b.putInt(r.nextInt(4) == 0 ? NO_TAG : (int) k).putInt(r.nextInt(3) == 0 ? r.nextInt() : NO_TAG);
        b.putInt(r.nextInt(4) == 0 ? r.nextInt() : cmdSN).putInt(expStatSN);
        byte[] rest = new byte[16];
        if (r.nextInt(3) == 0) {
            r.nextBytes(rest);
        }
        b.put(rest);
        byte[] bhs = b.array();
        int flips = r.nextInt(5);
        for (int i = 0; i < flips; i++) {
            int at = 1 + r.nextInt(47);
            if (at >= 4 && at <= 7) {
                continue; // the length fields are set by the caller, consistent with the bytes sent
            }
            bhs[at] ^= (byte) (1 << r.nextInt(8));
        }
        if (op == 0x06 && (bhs[1] & 0x7f) <= 1) {
            bhs[1] = (byte) ((bhs[1] & 0x80) | 0x02); // keep the session: logout "remove for recovery" at most
        }
        if (op == 0x02 && (bhs[1] & 0x7f) == 7) {
            bhs[1] = (byte) ((bhs[1] & 0x80) | 0x06); // a cold reset ends the other lanes' sessions: warm reset
        }
        return bhs;
    }

    void pdu(long k, SplittableRandom r) throws IOException {
        Conn c = pduSession();
        byte[] bhs = hostileHeader(k, r, c.cmdSN, c.expStatSN);
        int ahsWords = r.nextInt(8) == 0 ? r.nextInt(256) : 0;
        byte[] ahs = ahsWords == 0 ? null : new byte[ahsWords * 4];
        if (ahs != null) {
            r.nextBytes(ahs);
        }
        bhs[4] = (byte) ahsWords;
        int dataLen = switch (r.nextInt(5)) {
            case 0, 1 -> 0;
            case 2 -> r.nextInt(64);
            case 3 -> r.nextInt(8193);
            default -> r.nextInt(c.targetMaxRecv + 1);
        };
        byte[] data = new byte[dataLen];
        r.nextBytes(data);
        bhs[5] = (byte) (dataLen >>> 16);
        bhs[6] = (byte) (dataLen >>> 8);
        bhs[7] = (byte) dataLen;
        c.write(bhs, ahs, data, false, false);
        barrier(c, k, Kind.PDU, true);
    }

    /**
     * A NOP-Out ping after the input; reads until its echo (the target has read the input and still
     * reads), answering R2Ts with zeros. True when the connection is still up.
     */
    boolean barrier(Conn c, long k, Kind kind, boolean closeAllowed) throws IOException {
        int itt = 0x7e000000 | (int) (k & 0xffffff);
        byte[] payload = ("ping " + k).getBytes(StandardCharsets.US_ASCII);
        c.send(c.nopOut(itt, payload), payload);
        c.flush();
        while (true) {
            byte[][] p;
            try {
                p = c.read();
            } catch (SocketTimeoutException e) {
                throw new Defect("no answer to a NOP-Out within 10 s after the input");
            } catch (IOException e) {
                p = null; // reset by the target
            }
            if (p == null) {
                closed(kind);
                if (c == pdu) {
                    pdu.close();
                    pdu = null;
                }
                if (!closeAllowed) {
                    throw new Defect("the target closed the connection");
                }
                return false;
            }
            int op = p[0][0] & 0x3f;
            if (c.answerPing(p)) {
                continue;
            }
            ByteBuffer h = ByteBuffer.wrap(p[0]);
            if (op == 0x20 && h.getInt(16) == itt) {
                c.cmdSN = h.getInt(28); // the ExpCmdSN: mutated PDUs may or may not have taken a CmdSN
                if (!java.util.Arrays.equals(p[1], payload)) {
                    throw new Defect("NOP-In echoed other data than the NOP-Out's");
                }
                return true;
            }
            if (op == 0x3f) {
                Stats.inc(stats.rejects, hex(p[0][2] & 0xff));
            } else if (op == 0x21) {
                Stats.inc(stats.statuses, hex(p[0][3] & 0xff));
                if ((p[0][3] & 0xff) == 2 && p[0][2] == 0) {
                    Stats.inc(stats.senses, sense(p[1]));
                }
            } else if (op == 0x31) {
                int length = h.getInt(44);
                if (length > 0 && length <= (1 << 24)) {
                    sendData(c, h.getInt(16), h.getInt(20), new byte[h.getInt(40) + length], h.getInt(40), length);
                }
            } else if (op == 0x24 && (p[0][1] & 0x40) != 0) {
                // a text answer in pieces: ask for the next one
                ByteBuffer t = ByteBuffer.allocate(48);
                t.put((byte) 0x44).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
                t.putInt(h.getInt(16)).putInt(h.getInt(20)).putInt(c.cmdSN).putInt(c.expStatSN);
                c.send(t.array(), null);
                c.flush();
            }
        }
    }

    static final String[] KEYS = {
        "HeaderDigest", "DataDigest", "MaxConnections", "SendTargets", "TargetName", "InitiatorName", "TargetAlias",
        "InitiatorAlias", "TargetAddress", "TargetPortalGroupTag", "InitialR2T", "ImmediateData",
        "MaxRecvDataSegmentLength", "MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait", "DefaultTime2Retain",
        "MaxOutstandingR2T", "DataPDUInOrder", "DataSequenceInOrder", "ErrorRecoveryLevel", "SessionType",
        "AuthMethod", "CHAP_A", "CHAP_N", "CHAP_R", "CHAP_I", "CHAP_C", "OFMarker", "IFMarker", "OFMarkInt",
        "IFMarkInt", "TaskReporting", "iSCSIProtocolLevel", "X-com.example.key", "X#vendor", "Unknown", "",
        "=", "a b", "MaxRecvDataSegmentLength",
    };

    String hostileValue(SplittableRandom r) {
        return switch (r.nextInt(16)) {
            case 0 -> "";
            case 1 -> "x".repeat(256 + r.nextInt(8000));
            case 2 -> "-1";
            case 3 -> "99999999999999999999";
            case 4 -> "0x" + Long.toHexString(r.nextLong());
            case 5 -> "1e5";
            case 6 -> "16777215";
            case 7 -> Integer.toString(r.nextInt());
            case 8 -> "Yes,No,Yes";
            case 9 -> "None,CRC32C,Bogus";
            case 10 -> "All";
            case 11 -> "0b" + Long.toBinaryString(r.nextLong());
            case 12 -> "iqn.2026-11.io.orion:" + "z".repeat(r.nextInt(300));
            case 13 -> "\u00ff\u0001";
            case 14 -> "Reject";
            default -> Integer.toString(r.nextInt(70000));
        };
    }

    /** Text keys as a hostile initiator writes them: NUL-less at times, duplicated, overlong. */
    byte[] hostileKeys(SplittableRandom r, int maxLen) {
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        int n = 1 + r.nextInt(6);
        for (int i = 0; i < n; i++) {
            String key = KEYS[r.nextInt(KEYS.length)];
            String kv = r.nextInt(12) == 0 ? key : key + "=" + hostileValue(r);
            s.writeBytes(kv.getBytes(StandardCharsets.UTF_8));
            if (r.nextInt(10) != 0) {
                s.write(0);
            }
            if (r.nextInt(8) == 0) {
                s.writeBytes((kv + "\0").getBytes(StandardCharsets.UTF_8)); // duplicate
            }
        }
        if (r.nextInt(15) == 0) {
            byte[] junk = new byte[r.nextInt(200)];
            r.nextBytes(junk);
            s.writeBytes(junk);
        }
        byte[] b = s.toByteArray();
        return b.length > maxLen ? java.util.Arrays.copyOf(b, maxLen) : b;
    }

    void text(long k, SplittableRandom r) throws IOException {
        Conn c = pduSession();
        int parts = r.nextInt(6) == 0 ? 1 + r.nextInt(3) : 1;
        int itt = (int) k;
        for (int i = 0; i < parts; i++) {
            boolean last = i == parts - 1;
            ByteBuffer b = ByteBuffer.allocate(48);
            b.put((byte) 0x44).put((byte) (last ? 0x80 : 0x40)).putShort((short) 0).putInt(0).putLong(0);
            b.putInt(itt).putInt(i == 0 || r.nextInt(4) == 0 ? NO_TAG : r.nextInt()).putInt(c.cmdSN)
                    .putInt(c.expStatSN);
            byte[] keys = hostileKeys(r, c.targetMaxRecv);
            c.send(b.array(), keys);
            if (!last) {
                c.flush();
                // the target acknowledges a continued request with an empty response and a TTT
                byte[][] p = c.read();
                if (p == null) {
                    closed(Kind.TEXT);
                    pdu.close();
                    pdu = null;
                    return;
                }
                if ((p[0][0] & 0x3f) == 0x24) {
                    continue;
                }
                if ((p[0][0] & 0x3f) == 0x3f) {
                    Stats.inc(stats.rejects, hex(p[0][2] & 0xff));
                }
            }
        }
        barrier(c, k, Kind.TEXT, false);
    }

    // ------------------------------------------------------------------ login

    void login(long k, SplittableRandom r) throws IOException {
        try (Conn c = new Conn(Kind.LOGIN, nextSource())) {
            c.socket.setSoTimeout(5000);
            long isid = 0x23d000000000L | r.nextInt(1 << 16);
            int tsih = r.nextInt(6) == 0 ? r.nextInt(1 << 16) : 0;
            int cid = r.nextInt(6) == 0 ? r.nextInt(1 << 16) : 0;
            String initiator = r.nextInt(10) == 0 ? hostileValue(r) : "iqn.2026-11.fuzz:login-" + r.nextInt(8);
            String target = switch (r.nextInt(6)) {
                case 0 -> hostileValue(r);
                case 1 -> cdbTarget;
                default -> pduTarget;
            };
            int steps = 1 + r.nextInt(3);
            int csg = r.nextInt(4) == 0 ? 1 : 0;
            for (int step = 0; step < steps + 1; step++) {
                boolean inFullFeature = step == steps;
                int nsg = r.nextInt(6) == 0 ? r.nextInt(4) : Math.min(3, csg + 1 + (csg == 0 ? r.nextInt(2) : 0));
                boolean transit = r.nextInt(5) != 0;
                int flags = (transit ? 0x80 : 0) | (r.nextInt(15) == 0 ? 0x40 : 0) | (csg << 2) | nsg;
                StringBuilder t = new StringBuilder();
                if (step == 0) {
                    if (r.nextInt(12) != 0) {
                        t.append("InitiatorName=").append(initiator).append('\0');
                    }
                    switch (r.nextInt(5)) {
                        case 0 -> t.append("SessionType=Discovery\0");
                        case 1 -> t.append("SessionType=").append(hostileValue(r)).append('\0');
                        case 2 -> { }
                        default -> t.append("TargetName=").append(target).append("\0SessionType=Normal\0");
                    }
                }
                if (csg == 0) {
                    t.append("AuthMethod=").append(r.nextInt(3) == 0 ? hostileValue(r) : "None").append('\0');
                }
                byte[] keys = hostileKeys(r, 4096);
                byte[] head = t.toString().getBytes(StandardCharsets.UTF_8);
                byte[] data = new byte[head.length + (r.nextInt(3) == 0 ? 0 : keys.length)];
                System.arraycopy(head, 0, data, 0, head.length);
                System.arraycopy(keys, 0, data, head.length, data.length - head.length);
                ByteBuffer b = ByteBuffer.allocate(48);
                b.put((byte) 0x43).put((byte) flags).put((byte) (r.nextInt(10) == 0 ? r.nextInt(256) : 0))
                        .put((byte) (r.nextInt(10) == 0 ? r.nextInt(256) : 0)).putInt(0);
                b.putShort((short) (isid >>> 32)).putInt((int) isid).putShort((short) tsih);
                b.putInt(r.nextInt(10) == 0 ? r.nextInt() : 1).putShort((short) cid).putShort((short) 0)
                        .putInt(c.cmdSN).putInt(c.expStatSN);
                byte[] bhs = b.array();
                if (r.nextInt(10) == 0) {
                    bhs[32 + r.nextInt(16)] = (byte) r.nextInt(256); // reserved bytes
                }
                c.send(bhs, data.length > 8192 ? java.util.Arrays.copyOf(data, 8192) : data);
                c.flush();
                byte[][] p;
                try {
                    p = c.read();
                } catch (SocketTimeoutException e) {
                    if ((flags & 0x40) != 0 && !transit) {
                        return; // C=1: the target waits for the rest of the text
                    }
                    throw new Defect("no answer to a login PDU within 5 s");
                } catch (IOException e) {
                    p = null;
                }
                if (p == null) {
                    closed(Kind.LOGIN);
                    return;
                }
                int op = p[0][0] & 0x3f;
                if (op == 0x3f) {
                    Stats.inc(stats.rejects, hex(p[0][2] & 0xff));
                    return;
                }
                if (op != 0x23) {
                    if (inFullFeature) {
                        return; // a NOP-In or the like after login
                    }
                    throw new Defect("answer " + hex(op) + " to a login PDU");
                }
                int status = ((p[0][36] & 0xff) << 8) | (p[0][37] & 0xff);
                Stats.inc(stats.loginStatuses, String.format("%04x", status));
                if (status != 0) {
                    // the target closes after a failed login (RFC 7143 §11.13.5)
                    if (readsToEof(c)) {
                        closed(Kind.LOGIN);
                        return;
                    }
                    throw new Defect("the target kept the connection after login status " + String.format("%04x",
                            status));
                }
                c.cmdSN = ByteBuffer.wrap(p[0]).getInt(28);
                if ((p[0][1] & 0x80) != 0) {
                    int newCsg = p[0][1] & 0x03;
                    if (newCsg == 3) {
                        steps = step + 1;
                        csg = 1;
                        continue; // next round: a login PDU in the full-feature phase
                    }
                    csg = newCsg;
                }
                tsih = ByteBuffer.wrap(p[0]).getShort(14) & 0xffff;
                if (inFullFeature) {
                    return;
                }
            }
        }
    }

    static boolean readsToEof(Conn c) {
        try {
            c.socket.setSoTimeout(5000);
            while (c.in.read() >= 0) {
                // drain whatever came before the close
            }
            return true;
        } catch (IOException e) {
            return !(e instanceof SocketTimeoutException);
        }
    }

    // ------------------------------------------------------------------ digests

    void digest(long k, SplittableRandom r) throws IOException {
        if (digest == null) {
            Conn c = new Conn(Kind.DIGEST, null);
            int status = c.login("iqn.2026-11.fuzz:digest-" + lane, cdbTarget, 0x23d000fc0004L + (lane << 8),
                    "HeaderDigest=CRC32C\0DataDigest=CRC32C\0");
            if (status != 0 || !c.loginAnswer.contains("HeaderDigest=CRC32C")
                    || !c.loginAnswer.contains("DataDigest=CRC32C")) {
                c.close();
                throw new Defect("digests were not negotiated: " + c.loginAnswer.replace('\0', ' '));
            }
            c.headerDigest = true;
            c.dataDigest = true;
            digest = c;
        }
        Conn c = digest;
        int what = r.nextInt(10);
        boolean badHeader = what == 0;
        boolean badData = what >= 1 && what <= 6;
        int itt = (int) k;
        if (r.nextBoolean()) {
            // WRITE(10) with immediate data
            int blocks = 1 + r.nextInt(8);
            byte[] data = payload(r, blocks * 512);
            ByteBuffer b = ByteBuffer.allocate(48);
            b.put((byte) 0x01).put((byte) (0x80 | 0x20 | 1)).putShort((short) 0).putInt(0).putLong((long) lane << 48);
            b.putInt(itt).putInt(data.length).putInt(c.cmdSN++).putInt(c.expStatSN);
            b.put((byte) 0x2a).put((byte) 0).putInt((int) r.nextLong(lunBlocks - blocks)).put((byte) 0)
                    .putShort((short) blocks).put(new byte[6]);
            byte[] bhs = b.array();
            bhs[5] = (byte) (data.length >>> 16);
            bhs[6] = (byte) (data.length >>> 8);
            bhs[7] = (byte) data.length;
            c.write(bhs, null, data, badHeader, badData);
        } else {
            byte[] data = new byte[1 + r.nextInt(2000)];
            r.nextBytes(data);
            byte[] bhs = c.nopOut(itt, data);
            bhs[5] = (byte) (data.length >>> 16);
            bhs[6] = (byte) (data.length >>> 8);
            bhs[7] = (byte) data.length;
            c.write(bhs, null, data, badHeader, badData);
        }
        boolean up;
        try {
            up = barrier(c, k, Kind.DIGEST, badHeader);
        } catch (IOException e) {
            if (!badHeader) {
                throw e;
            }
            closed(Kind.DIGEST);
            up = false; // closed for the bad header digest while the NOP-Out was written
        }
        if (!up) {
            digest.close();
            digest = null;
        }
    }

    // ------------------------------------------------------------------ framing

    /**
     * The garbage framing input: a random header (lengths zero; its first 48 bytes are sent). After
     * login, a TARGET COLD RESET is kept out as in {@link #hostileHeader}: it would end the other lanes'
     * sessions of the target (seed 9147539331933794059, input 61124: another lane's Text Request saw its
     * connection closed). In login any opcode stays: the target must refuse it there.
     */
    static byte[] garbage(SplittableRandom r, boolean afterLogin) {
        byte[] junk = new byte[48 + r.nextInt(400)];
        r.nextBytes(junk);
        junk[4] = 0;
        junk[5] = 0;
        junk[6] = 0;
        junk[7] = 0;
        if (afterLogin && (junk[0] & 0x3f) == 0x02 && (junk[1] & 0x7f) == 7) {
            junk[1] = (byte) ((junk[1] & 0x80) | 0x06); // a warm reset instead
        }
        return junk;
    }

    void framing(long k, SplittableRandom r) throws IOException {
        boolean afterLogin = r.nextBoolean();
        Conn c;
        if (afterLogin) {
            c = normalSession(Kind.FRAMING, pduTarget, "iqn.2026-11.fuzz:framing-" + (k % 4), 0x23d000fd0000L
                    | (k & 0xffff), "");
        } else {
            c = new Conn(Kind.FRAMING, nextSource());
        }
        try (c) {
            c.socket.setSoTimeout(5000);
            int what = r.nextInt(5);
            byte[] bhs = new byte[48];
            bhs[0] = (byte) (afterLogin ? 0x40 : 0x43);
            bhs[1] = (byte) 0x80;
            switch (what) {
                case 0 -> { // truncated header, then EOF
                    c.out.write(bhs, 0, 1 + r.nextInt(47));
                    c.flush();
                    c.socket.shutdownOutput();
                }
                case 1 -> { // a data segment longer than allowed (up to 16 MiB - 1), only the header sent
                    // over 262144, the server's MaxRecvDataSegmentLength, which also bounds login PDUs
                    int len = 262145 + r.nextInt(16777215 - 262145);
                    bhs[5] = (byte) (len >>> 16);
                    bhs[6] = (byte) (len >>> 8);
                    bhs[7] = (byte) len;
                    c.out.write(bhs);
                    c.flush();
                }
                case 2 -> { // the longest AHS, sent whole, then EOF
                    bhs[4] = (byte) 255;
                    c.out.write(bhs);
                    byte[] ahs = new byte[1020];
                    r.nextBytes(ahs);
                    c.out.write(ahs);
                    c.flush();
                    c.socket.shutdownOutput();
                }
                case 4 -> { // a PDU longer than the 8192 bytes allowed in login (RFC 7143 §13.12), sent whole
                    byte[] big = new byte[8193 + r.nextInt(65536)];
                    byte[] kv = "InitiatorName=iqn.2026-11.fuzz:big\0SessionType=Discovery\0".getBytes(
                            StandardCharsets.US_ASCII);
                    System.arraycopy(kv, 0, big, 0, kv.length);
                    if (afterLogin) {
                        bhs = c.nopOut(0x3f3f, null); // a ping with more data than our MaxRecvDataSegmentLength
                    } else {
                        bhs[1] = (byte) 0x87;
                    }
                    c.send(bhs, big);
                    c.flush();
                }
                default -> { // garbage
                    byte[] junk = garbage(r, afterLogin);
                    c.out.write(junk, 0, 48);
                    c.flush();
                    c.socket.shutdownOutput();
                }
            }
            // the target must close (EOF, a framing error, a login-phase violation) or answer well-formed
            while (true) {
                byte[][] p;
                try {
                    p = c.read();
                } catch (SocketTimeoutException e) {
                    throw new Defect("the target neither answered nor closed within 5 s (framing case " + what
                            + (afterLogin ? ", after login)" : ", in login)"));
                } catch (IOException e) {
                    p = null;
                }
                if (p == null) {
                    closed(Kind.FRAMING);
                    return;
                }
                if ((p[0][0] & 0x3f) == 0x3f) {
                    Stats.inc(stats.rejects, hex(p[0][2] & 0xff));
                }
                if ((p[0][0] & 0x3f) == 0x23) {
                    int status = ((p[0][36] & 0xff) << 8) | (p[0][37] & 0xff);
                    Stats.inc(stats.loginStatuses, String.format("%04x", status));
                    if (status == 0) {
                        throw new Defect("a login PDU with a data segment over 8192 bytes was accepted");
                    }
                }
                if (what == 4 && afterLogin && (p[0][0] & 0x3f) != 0x23) {
                    return; // the answer to a long NOP-Out (within the 262144 bytes allowed after login)
                }
            }
        }
    }
}
