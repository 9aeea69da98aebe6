package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Copy offload through the real server (issue 12, acceptance 2): a 256 MiB dedup LUN filled with
 * qemu-img is cloned to a second LUN with EXTENDED COPY (as ESXi's VAAI XCOPY sends it) and to a
 * third with POPULATE TOKEN + RECEIVE ROD TOKEN INFORMATION + WRITE USING TOKEN (as Windows ODX
 * does), over a plain iSCSI session of this test's own. {@code qemu-img compare} must find both
 * clones identical to the source, and the pool must neither store nor even hash new data: both
 * copies are reference copies.
 */
class CopyOffloadIT {

    private static final String IQN = "iqn.2026-11.io.orion:copy";
    private static final int BS = 512;
    private static final long SIZE = 256L << 20;
    private static final int BLOCKS = (int) (SIZE / BS);

    private static void targets(Path dir) throws IOException {
        StringBuilder t = new StringBuilder();
        t.append("iqn = \"").append(IQN).append("\"\n\n[attributes]\nauthentication = false\ndemo_mode = true\n\n")
                .append("[[portal_group]]\ntag = 1\nportals = []\n");
        for (int lun = 0; lun < 3; lun++) {
            t.append("\n[[lun]]\nid = ").append(lun).append("\nvolume = \"copy-").append(lun)
                    .append("\"\nsize = \"256MiB\"\nblock_size = 512\nthin = true\nbacking = \"dedup\"\n");
        }
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("copy.toml"), t.toString());
        // A target whose ACL lets the test's initiator see LUN 0 write-protected, and nobody else in.
        Files.writeString(dir.resolve("guarded.toml"), "iqn = \"" + GUARDED + "\"\n\n[attributes]\n"
                + "authentication = false\ndemo_mode = false\n\n[[portal_group]]\ntag = 1\nportals = []\n\n"
                + "[[lun]]\nid = 0\nvolume = \"guarded-0\"\nsize = \"16MiB\"\nblock_size = 512\nthin = true\n"
                + "backing = \"dedup\"\n\n[[acl]]\ninitiator = \"" + INITIATOR + "\"\nmapped_luns = [0]\n"
                + "write_protect = true\n");
    }

    private static final String GUARDED = "iqn.2026-11.io.orion:guarded";
    private static final String INITIATOR = "iqn.2026-11.test:copy-offload";

    @Test
    void extendedCopyAndOdxCloneA256MiBLunWithoutStoringData(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("source.img");
        byte[] content = new byte[(int) SIZE];
        Random rnd = new Random(12);
        for (int b = 0; b < BLOCKS / 8; b++) {
            if (b % 16 == 5) {
                continue;                                       // some zero 4 KiB blocks
            }
            byte[] blk = new byte[4096];
            rnd.nextBytes(blk);
            System.arraycopy(blk, 0, content, b * 4096, 4096);
        }
        Files.write(image, content);
        content = null;
        Path targets = dir.resolve("targets");
        targets(targets);
        Path data = dir.resolve("data");
        int port = ServerProcess.freePort();
        try (ServerProcess server = ServerProcess.start(data, targets, port)) {
            ExternalTool.run(Duration.ofMinutes(5), "qemu-img", "convert", "-n", "-W", "-m", "16", "-f", "raw",
                    "-O", "raw", image.toString(), server.url(IQN, 0)).assertOk();
            JsonNode before = StatsJson.pool(StatsJson.fetch(data));

            try (Initiator i = new Initiator(port)) {
                assertEquals(0, i.login(INITIATOR, IQN));
                i.clearUnitAttentions(3);
                byte[] src = i.naa(0);
                byte[] dst = i.naa(1);

                // EXTENDED COPY(LID1) to LUN 1: two identification CSCDs, 16 block-to-block segments
                int segments = 16;
                int per = BLOCKS / segments;
                ByteBuffer list = ByteBuffer.allocate(16 + 64 + 28 * segments);
                list.put((byte) 1).put((byte) 0).putShort((short) 64).putInt(0).putInt(28 * segments).putInt(0);
                list.put(cscd(src)).put(cscd(dst));
                for (int s = 0; s < segments; s++) {
                    list.put((byte) 0x02).put((byte) 0).putShort((short) 0x18).putShort((short) 0).putShort((short) 1)
                            .putShort((short) 0).putShort((short) per).putLong((long) s * per).putLong((long) s * per);
                }
                byte[] xcopy = new byte[16];
                xcopy[0] = (byte) 0x83;
                ByteBuffer.wrap(xcopy).putInt(10, list.capacity());
                long t0 = System.nanoTime();
                Result x = i.scsi(1, xcopy, list.array(), 0);
                System.out.printf("copy offload: EXTENDED COPY of 256 MiB took %d ms%n",
                        (System.nanoTime() - t0) / 1_000_000);
                assertEquals(0, x.status, "EXTENDED COPY: " + x);
                byte[] rcs = new byte[16];
                rcs[0] = (byte) 0x84;
                rcs[2] = 1;
                ByteBuffer.wrap(rcs).putInt(10, 64);
                Result status = i.scsi(1, rcs, null, 64);
                assertEquals(0, status.status, "RECEIVE COPY RESULTS: " + status);
                assertEquals(0x01, status.data[4] & 0x7f, "copy completed");
                assertEquals(segments, ByteBuffer.wrap(status.data).getShort(5) & 0xffff);

                // POPULATE TOKEN on LUN 0, the token from RECEIVE ROD TOKEN INFORMATION, WRITE USING TOKEN on LUN 2
                ByteBuffer pt = ByteBuffer.allocate(32);
                pt.putShort((short) 30).put((byte) 0).put((byte) 0).putInt(0).putInt(0).putShort((short) 0)
                        .putShort((short) 16).putLong(0).putInt(BLOCKS).putInt(0);
                Result populated = i.scsi(0, tokenCdb(0x10, 0x51, pt.capacity()), pt.array(), 0);
                assertEquals(0, populated.status, "POPULATE TOKEN: " + populated);
                Result info = i.scsi(0, rrti(0x51), null, 1024);
                assertEquals(0, info.status, "RECEIVE ROD TOKEN INFORMATION: " + info);
                assertEquals(0x01, info.data[5] & 0x7f, "token created");
                int sense = info.data[13] & 0xff;
                assertEquals(514, ByteBuffer.wrap(info.data).getInt(32 + sense));
                byte[] token = Arrays.copyOfRange(info.data, 32 + sense + 6, 32 + sense + 6 + 512);
                ByteBuffer wut = ByteBuffer.allocate(536 + 16);
                wut.putShort((short) (534 + 16)).put((byte) 0).put((byte) 0).putInt(0).putLong(0).put(token)
                        .put(new byte[6]).putShort((short) 16).putLong(0).putInt(BLOCKS).putInt(0);
                long t1 = System.nanoTime();
                Result written = i.scsi(2, tokenCdb(0x11, 0x52, wut.capacity()), wut.array(), 0);
                System.out.printf("copy offload: WRITE USING TOKEN of 256 MiB took %d ms%n",
                        (System.nanoTime() - t1) / 1_000_000);
                assertEquals(0, written.status, "WRITE USING TOKEN: " + written);
                Result done = i.scsi(2, rrti(0x52), null, 1024);
                assertEquals(0, done.status);
                assertEquals(0x01, done.data[5] & 0x7f, "write using token completed");
                assertEquals(BLOCKS, ByteBuffer.wrap(done.data).getLong(16), "blocks written");
            }

            JsonNode after = StatsJson.pool(StatsJson.fetch(data));
            long grewStored = after.get("stored_bytes").asLong() - before.get("stored_bytes").asLong();
            long hashed = after.get("hashed_bytes").asLong() - before.get("hashed_bytes").asLong();
            System.out.printf("copy offload: stored_bytes %d -> %d (+%d), hashed_bytes +%d, logical_bytes %d -> %d%n",
                    before.get("stored_bytes").asLong(), after.get("stored_bytes").asLong(), grewStored, hashed,
                    before.get("logical_bytes").asLong(), after.get("logical_bytes").asLong());
            assertTrue(grewStored < (1 << 20), "stored bytes grew by " + grewStored);
            assertTrue(hashed < (1 << 20), "the copies went through the write path: " + hashed + " bytes hashed");
            assertEquals(3 * before.get("logical_bytes").asLong(), after.get("logical_bytes").asLong(),
                    "both clones map every block of the source");

            for (int lun = 1; lun <= 2; lun++) {
                ExternalTool.Result cmp = ExternalTool.run(Duration.ofMinutes(3), "qemu-img", "compare", "-f", "raw",
                        "-F", "raw", server.url(IQN, 0), server.url(IQN, lun));
                assertTrue(cmp.output().contains("Images are identical"), "LUN " + lun + ": " + cmp.output());
            }
            ExternalTool.Result cmpFile = ExternalTool.run(Duration.ofMinutes(3), "qemu-img", "compare", "-f", "raw",
                    "-F", "raw", image.toString(), server.url(IQN, 2));
            assertTrue(cmpFile.output().contains("Images are identical"), cmpFile.output());

            // The ACLs of the other target decide: its write-protected LUN is a source, never a
            // destination, and an initiator without an ACL there cannot name it at all.
            byte[] guarded;
            try (Initiator g = new Initiator(port)) {
                assertEquals(0, g.login(INITIATOR, GUARDED));
                g.clearUnitAttentions(1);
                guarded = g.naa(0);
            }
            try (Initiator i = new Initiator(port); Initiator stranger = new Initiator(port)) {
                assertEquals(0, i.login(INITIATOR, IQN));
                i.clearUnitAttentions(3);
                byte[] lun1 = i.naa(1);
                Result intoGuarded = i.scsi(1, xcopyCdb(108), oneSegment(lun1, guarded), 0);
                assertEquals(2, intoGuarded.status, intoGuarded.toString());
                assertEquals("7/27/00", senseKey(intoGuarded.sense), "write-protected by the ACL");
                Result fromGuarded = i.scsi(1, xcopyCdb(108), oneSegment(guarded, lun1), 0);
                assertEquals(0, fromGuarded.status, fromGuarded.toString());
                assertEquals(0, stranger.login("iqn.2026-11.test:stranger", IQN));
                stranger.clearUnitAttentions(3);
                Result denied = stranger.scsi(1, xcopyCdb(108), oneSegment(guarded, lun1), 0);
                assertEquals(2, denied.status, denied.toString());
                assertEquals("a/0d/02", senseKey(denied.sense), "no ACL: not reachable");
            }
        }
    }

    private static byte[] xcopyCdb(int length) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x83;
        ByteBuffer.wrap(c).putInt(10, length);
        return c;
    }

    /** EXTENDED COPY parameters: 8 blocks from LBA 0 of {@code from} to LBA 0 of {@code to}. */
    private static byte[] oneSegment(byte[] from, byte[] to) {
        ByteBuffer list = ByteBuffer.allocate(16 + 64 + 28);
        list.put((byte) 9).put((byte) 0).putShort((short) 64).putInt(0).putInt(28).putInt(0);
        list.put(cscd(from)).put(cscd(to));
        list.put((byte) 0x02).put((byte) 0).putShort((short) 0x18).putShort((short) 0).putShort((short) 1)
                .putShort((short) 0).putShort((short) 8).putLong(0).putLong(0);
        return list.array();
    }

    /** "key/asc/ascq" of fixed or descriptor sense. */
    private static String senseKey(byte[] s) {
        boolean desc = (s[0] & 0x7f) == 0x72;
        return String.format("%x/%02x/%02x", desc ? s[1] & 0xf : s[2] & 0xf, s[desc ? 2 : 12] & 0xff,
                s[desc ? 3 : 13] & 0xff);
    }

    private static byte[] cscd(byte[] naa) {
        byte[] c = new byte[32];
        c[0] = (byte) 0xe4;
        c[4] = 0x01;
        c[5] = 0x03;
        c[7] = (byte) naa.length;
        System.arraycopy(naa, 0, c, 8, naa.length);
        c[30] = (byte) (BS >> 8);
        c[31] = (byte) BS;
        return c;
    }

    private static byte[] tokenCdb(int sa, int listId, int length) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x83;
        c[1] = (byte) sa;
        ByteBuffer.wrap(c).putInt(6, listId).putInt(10, length);
        return c;
    }

    private static byte[] rrti(int listId) {
        byte[] c = new byte[16];
        c[0] = (byte) 0x84;
        c[1] = 0x07;
        ByteBuffer.wrap(c).putInt(2, listId).putInt(10, 1024);
        return c;
    }

    /** A SCSI command's outcome: status, Data-In, sense. */
    record Result(int status, byte[] data, byte[] sense) {
        @Override
        public String toString() {
            StringBuilder s = new StringBuilder("status " + status + " sense");
            for (byte b : sense) {
                s.append(String.format(" %02x", b));
            }
            return s.toString();
        }
    }

    /**
     * Just enough of an iSCSI initiator to send CDBs with a parameter list as immediate data and
     * read Data-In back (RFC 7143 §11.3, §11.4, §11.7), answering the target's NOP-In pings.
     */
    static final class Initiator implements AutoCloseable {
        private final Socket socket;
        private final DataInputStream in;
        private final OutputStream out;
        private int cmdSN = 1;
        private int expStatSN;
        private int itt = 1;

        Initiator(int port) throws IOException {
            socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            socket.setSoTimeout(300_000);
            in = new DataInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        int login(String initiator, String target) throws IOException {
            String keys = "InitiatorName=" + initiator + "\0TargetName=" + target + "\0SessionType=Normal\0"
                    + "HeaderDigest=None\0DataDigest=None\0ImmediateData=Yes\0InitialR2T=Yes\0"
                    + "MaxRecvDataSegmentLength=262144\0FirstBurstLength=65536\0MaxBurstLength=262144\0";
            ByteBuffer b = ByteBuffer.allocate(48);
            b.put((byte) 0x43).put((byte) 0x87).put((byte) 0).put((byte) 0).putInt(0);
            b.putShort((short) 0x23d0).putInt(0x0000c0f1).putShort((short) 0);
            b.putInt(itt++).putShort((short) 0).putShort((short) 0).putInt(cmdSN).putInt(0);
            send(b.array(), keys.getBytes(StandardCharsets.UTF_8));
            byte[][] r = read();
            cmdSN = ByteBuffer.wrap(r[0]).getInt(28);
            expStatSN = ByteBuffer.wrap(r[0]).getInt(24) + 1;
            return ((r[0][36] & 0xff) << 8) | (r[0][37] & 0xff);
        }

        /** TEST UNIT READY until GOOD on each LUN: consumes the power-on unit attention. */
        void clearUnitAttentions(int luns) throws IOException {
            for (int lun = 0; lun < luns; lun++) {
                for (int k = 0; k < 4 && scsi(lun, new byte[6], null, 0).status != 0; k++) {
                    // retried until the pending unit attentions are reported
                }
            }
        }

        /** The LU's NAA designator, the first one of INQUIRY page 83h. */
        byte[] naa(int lun) throws IOException {
            Result r = scsi(lun, new byte[] {0x12, 1, (byte) 0x83, 0, (byte) 255, 0}, null, 255);
            assertEquals(0, r.status);
            assertEquals(0x03, r.data[5] & 0x0f);
            return Arrays.copyOfRange(r.data, 8, 8 + (r.data[7] & 0xff));
        }

        Result scsi(int lun, byte[] cdb, byte[] dataOut, int expectIn) throws IOException {
            int tag = itt++;
            int edtl = dataOut != null ? dataOut.length : expectIn;
            int flags = 0x80 | 0x01 | (dataOut != null ? 0x20 : 0) | (expectIn > 0 ? 0x40 : 0);
            ByteBuffer b = ByteBuffer.allocate(48);
            b.put((byte) 0x01).put((byte) flags).putShort((short) 0).putInt(0);
            b.put((byte) 0).put((byte) lun).putShort((short) 0).putInt(0);
            b.putInt(tag).putInt(edtl).putInt(cmdSN++).putInt(expStatSN);
            b.put(Arrays.copyOf(cdb, 16));
            send(b.array(), dataOut);
            ByteArrayOutputStream dataIn = new ByteArrayOutputStream();
            while (true) {
                byte[][] r = read();
                ByteBuffer h = ByteBuffer.wrap(r[0]);
                int op = r[0][0] & 0x3f;
                if (op == 0x20) {                                   // NOP-In: answer a ping
                    if (h.getInt(20) != -1) {
                        ByteBuffer nop = ByteBuffer.allocate(48);
                        nop.put((byte) 0x40).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(h.getLong(8));
                        nop.putInt(-1).putInt(h.getInt(20)).putInt(cmdSN).putInt(expStatSN);
                        send(nop.array(), null);
                    }
                    continue;
                }
                if (op == 0x31) {                                   // R2T: send what it asks for
                    int offset = h.getInt(40);
                    int length = h.getInt(44);
                    ByteBuffer d = ByteBuffer.allocate(48);
                    d.put((byte) 0x05).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
                    d.putInt(tag).putInt(h.getInt(20)).putInt(0).putInt(expStatSN).putInt(0).putInt(0)
                            .putInt(offset).putInt(0);
                    send(d.array(), Arrays.copyOfRange(dataOut, offset, offset + length));
                    continue;
                }
                if (op == 0x25) {                                   // Data-In
                    dataIn.write(r[1]);
                    if ((r[0][1] & 0x01) != 0) {
                        expStatSN = h.getInt(24) + 1;
                        return new Result(r[0][3] & 0xff, dataIn.toByteArray(), new byte[0]);
                    }
                    continue;
                }
                if (op == 0x21) {                                   // SCSI Response
                    expStatSN = h.getInt(24) + 1;
                    byte[] sense = r[1].length >= 2 ? Arrays.copyOfRange(r[1], 2,
                            2 + (((r[1][0] & 0xff) << 8) | (r[1][1] & 0xff))) : new byte[0];
                    return new Result(r[0][3] & 0xff, dataIn.toByteArray(), sense);
                }
                throw new IOException(String.format("unexpected PDU opcode 0x%02x", op));
            }
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

        private byte[][] read() throws IOException {
            byte[] bhs = new byte[48];
            in.readFully(bhs);
            int ahs = (bhs[4] & 0xff) * 4;
            in.skipBytes(ahs);
            int len = ((bhs[5] & 0xff) << 16) | ((bhs[6] & 0xff) << 8) | (bhs[7] & 0xff);
            byte[] data = new byte[len];
            in.readFully(data);
            in.skipBytes((4 - (len & 3)) & 3);
            return new byte[][] {bhs, data};
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
