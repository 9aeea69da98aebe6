package io.orion.dedup.iscsi.pdu;

import static io.orion.dedup.iscsi.pdu.Fixtures.bhs;
import static io.orion.dedup.iscsi.pdu.Fixtures.pdu;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PduDecoderTest {

    private Framing framing;
    private EmbeddedChannel ch;

    @BeforeEach
    void setUp() {
        framing = new Framing(8192);
        ch = new EmbeddedChannel(new PduDecoder(framing));
    }

    @AfterEach
    void tearDown() {
        // Every test leaves nothing behind; finish() also runs decodeLast on leftovers.
        assertFalse(ch.finish());
    }

    private <T extends InboundPdu> T readOne(Class<T> type) {
        Object o = ch.readInbound();
        return assertInstanceOf(type, o);
    }

    @Test
    void nopOutWithPaddedData() {
        ch.writeInbound(pdu(bhs(Fixtures.NOP_OUT), "hello".getBytes(StandardCharsets.US_ASCII)));
        NopOut n = readOne(NopOut.class);
        assertTrue(n.immediate());
        assertEquals(0x11223344, n.itt());
        assertEquals(Pdu.NO_TAG, n.ttt());
        assertEquals(7, n.cmdSN());
        assertEquals(9, n.expStatSN());
        assertEquals("hello", n.data().toString(StandardCharsets.US_ASCII));
        n.release();
    }

    @Test
    void scsiReadCommand() {
        ch.writeInbound(pdu(bhs(Fixtures.SCSI_READ10), null));
        ScsiCommandPdu c = readOne(ScsiCommandPdu.class);
        assertFalse(c.immediate());
        assertTrue(c.fin());
        assertTrue(c.read());
        assertFalse(c.write());
        assertEquals(1, c.attr());
        assertEquals(1, c.lun());
        assertEquals(0x0a, c.itt());
        assertEquals(4096, c.expectedDataTransferLength());
        assertEquals(0x20, c.cmdSN());
        assertEquals(0x28, c.cdb()[0]);
        assertEquals(0x34, c.cdb()[5]);
        assertEquals(8, c.cdb()[8]);
        assertFalse(c.data().isReadable());
        c.release();
    }

    @Test
    void scsiWriteCommandWithImmediateDataIsASliceNotACopy() {
        byte[] data = new byte[512];
        data[0] = 0x5a;
        data[511] = (byte) 0xa5;
        ByteBuf in = pdu(bhs(Fixtures.SCSI_WRITE10), data);
        ch.writeInbound(in);
        ScsiCommandPdu c = readOne(ScsiCommandPdu.class);
        assertTrue(c.write());
        assertEquals(2, c.attr());
        assertEquals(1024, c.expectedDataTransferLength());
        assertEquals(512, c.data().readableBytes());
        assertEquals(0x5a, c.data().getByte(c.data().readerIndex()));
        assertEquals((byte) 0xa5, c.data().getByte(c.data().readerIndex() + 511));
        assertTrue(c.data().refCnt() > 0);
        c.release();
    }

    @Test
    void extendedCdbAhsIsAppendedToTheCdb() {
        byte[] h = bhs(Fixtures.SCSI_READ10);
        h[4] = 5; // TotalAHSLength 5 words = 20 bytes
        h[32] = 0x7f;
        byte[] ahs = new byte[20];
        ahs[0] = 0;
        ahs[1] = 17; // AHSLength = 16 CDB bytes + 1 reserved
        ahs[2] = 1; // Extended CDB
        for (int i = 0; i < 16; i++) {
            ahs[4 + i] = (byte) (0x80 + i);
        }
        ch.writeInbound(Unpooled.wrappedBuffer(h, ahs));
        ScsiCommandPdu c = readOne(ScsiCommandPdu.class);
        assertEquals(32, c.cdb().length);
        assertEquals(0x7f, c.cdb()[0]);
        assertEquals((byte) 0x80, c.cdb()[16]);
        assertEquals((byte) 0x8f, c.cdb()[31]);
        c.release();
    }

    @Test
    void taskManagementRequest() {
        ch.writeInbound(pdu(bhs(Fixtures.TMF_ABORT), null));
        TaskMgmtRequest m = readOne(TaskMgmtRequest.class);
        assertTrue(m.immediate());
        assertEquals(TaskMgmtRequest.ABORT_TASK, m.function());
        assertEquals(0x0c, m.itt());
        assertEquals(0x0a, m.referencedTaskTag());
        assertEquals(0x22, m.cmdSN());
        assertEquals(0x20, m.refCmdSN());
    }

    @Test
    void loginRequestWithText() {
        byte[] text = TextParams.encode(java.util.List.of(Map.entry("InitiatorName", "iqn.2026-11.test:i"),
                Map.entry("SessionType", "Discovery")));
        String dsl = String.format("%06x", text.length);
        ch.writeInbound(pdu(bhs(Fixtures.LOGIN_HEAD + dsl + Fixtures.LOGIN_TAIL), text));
        LoginRequest l = readOne(LoginRequest.class);
        assertTrue(l.transit());
        assertFalse(l.cont());
        assertEquals(1, l.csg());
        assertEquals(3, l.nsg());
        assertEquals(0x80123456789aL, l.isid());
        assertEquals(0, l.tsih());
        assertEquals(2, l.cid());
        assertEquals(5, l.cmdSN());
        assertEquals(java.util.List.of(Map.entry("InitiatorName", "iqn.2026-11.test:i"),
                Map.entry("SessionType", "Discovery")), TextParams.parse(TextParams.bytes(l.data())));
        l.release();
    }

    @Test
    void textRequest() {
        byte[] text = "SendTargets=All\0".getBytes(StandardCharsets.US_ASCII);
        ch.writeInbound(pdu(bhs(Fixtures.TEXT_HEAD + String.format("%06x", text.length) + Fixtures.TEXT_TAIL), text));
        TextRequest t = readOne(TextRequest.class);
        assertTrue(t.fin());
        assertEquals(0x0d, t.itt());
        assertEquals(Pdu.NO_TAG, t.ttt());
        assertEquals("SendTargets", TextParams.parse(TextParams.bytes(t.data())).get(0).getKey());
        t.release();
    }

    @Test
    void dataOut() {
        ch.writeInbound(pdu(bhs(Fixtures.DATA_OUT), new byte[512]));
        DataOut d = readOne(DataOut.class);
        assertTrue(d.fin());
        assertEquals(0x0b, d.itt());
        assertEquals(0x99, d.ttt());
        assertEquals(1, d.dataSN());
        assertEquals(512, d.bufferOffset());
        assertEquals(512, d.data().readableBytes());
        d.release();
    }

    @Test
    void logoutAndSnack() {
        ch.writeInbound(Unpooled.wrappedBuffer(bhs(Fixtures.LOGOUT), bhs(Fixtures.SNACK)));
        LogoutRequest l = readOne(LogoutRequest.class);
        assertEquals(LogoutRequest.CLOSE_SESSION, l.reason());
        assertEquals(0x24, l.cmdSN());
        SnackRequest s = readOne(SnackRequest.class);
        assertEquals(0x0b, s.itt());
        assertEquals(2, s.begRun());
        assertEquals(48, s.header().length);
    }

    @Test
    void unknownOpcodeSkipsItsDataAndTheStreamStaysUsable() {
        ch.writeInbound(Unpooled.wrappedBuffer(pdu(bhs(Fixtures.VENDOR_1C), new byte[] {1, 2, 3}),
                pdu(bhs(Fixtures.SCSI_READ10), null)));
        UnknownPdu u = readOne(UnknownPdu.class);
        assertEquals(0x1c, u.code());
        assertEquals(0x0f, u.itt());
        assertArrayEquals(bhs(Fixtures.VENDOR_1C), u.header());
        assertNull(u.opcode());
        ScsiCommandPdu c = readOne(ScsiCommandPdu.class);
        assertEquals(0x0a, c.itt());
    }

    @Test
    void targetOpcodeFromAnInitiatorIsUnknown() {
        byte[] h = bhs(Fixtures.SCSI_READ10);
        h[0] = 0x21; // SCSI Response
        ch.writeInbound(pdu(h, null));
        assertEquals(0x21, readOne(UnknownPdu.class).code());
    }

    @Test
    void splitIntoSingleBytes() {
        ByteBuf whole = pdu(bhs(Fixtures.SCSI_WRITE10), new byte[512]);
        while (whole.isReadable()) {
            ch.writeInbound(whole.readRetainedSlice(1));
            if (whole.isReadable()) {
                assertNull(ch.readInbound());
            }
        }
        whole.release();
        ScsiCommandPdu c = readOne(ScsiCommandPdu.class);
        assertEquals(512, c.data().readableBytes());
        c.release();
    }

    @Test
    void coalescedBatchOfThreePdus() {
        ByteBuf batch = Unpooled.wrappedBuffer(pdu(bhs(Fixtures.NOP_OUT), "abcde".getBytes(StandardCharsets.US_ASCII)),
                pdu(bhs(Fixtures.DATA_OUT), new byte[512]), pdu(bhs(Fixtures.TMF_ABORT), null));
        ch.writeInbound(batch);
        readOne(NopOut.class).release();
        readOne(DataOut.class).release();
        readOne(TaskMgmtRequest.class);
        assertNull(ch.readInbound());
    }

    @Test
    void oversizeDataSegmentClosesTheStream() {
        framing.maxInboundSegment(4096);
        byte[] h = bhs(Fixtures.DATA_OUT);
        h[5] = 0;
        h[6] = 0x20;
        h[7] = 0x01; // DSL 8193 > 4096
        DecoderException e = assertThrows(DecoderException.class, () -> ch.writeInbound(pdu(h, null)));
        assertInstanceOf(PduFormatException.class, e);
        // Anything after a framing error is discarded.
        ch.writeInbound(pdu(bhs(Fixtures.TMF_ABORT), null));
        assertNull(ch.readInbound());
    }

    @Test
    void headerDigestVerified() {
        framing.digests(true, false);
        byte[] h = bhs(Fixtures.TMF_ABORT);
        ByteBuf good = Unpooled.buffer().writeBytes(h).writeIntLE(Digests.crc32c(h, null));
        ch.writeInbound(good);
        readOne(TaskMgmtRequest.class);
        ByteBuf bad = Unpooled.buffer().writeBytes(h).writeIntLE(Digests.crc32c(h, null) ^ 1);
        assertThrows(DecoderException.class, () -> ch.writeInbound(bad));
        assertNull(ch.readInbound());
    }

    @Test
    void badDataDigestBecomesDigestErrorAndTheNextPduStillDecodes() {
        framing.digests(false, true);
        byte[] data = new byte[512];
        data[3] = 9;
        ByteBuf bad = pdu(bhs(Fixtures.DATA_OUT), data).writeIntLE(0xdeadbeef);
        byte[] nop = "hello".getBytes(StandardCharsets.US_ASCII);
        ByteBuf padded = Unpooled.wrappedBuffer(nop, new byte[3]);
        int crc = Digests.crc32c(padded);
        padded.release();
        ByteBuf good = pdu(bhs(Fixtures.NOP_OUT), nop).writeIntLE(crc);
        ch.writeInbound(Unpooled.wrappedBuffer(bad, good));
        DigestErrorPdu d = readOne(DigestErrorPdu.class);
        assertEquals(Opcode.SCSI_DATA_OUT, d.received());
        assertEquals(0x0b, d.itt());
        NopOut n = readOne(NopOut.class);
        assertEquals("hello", n.data().toString(StandardCharsets.US_ASCII));
        n.release();
    }

    @Test
    void truncatedBhsProducesNothing() {
        ch.writeInbound(Unpooled.wrappedBuffer(bhs(Fixtures.SCSI_READ10), 0, 20));
        assertNull(ch.readInbound());
    }

    @Test
    void truncatedDataSegmentWaits() {
        ByteBuf whole = pdu(bhs(Fixtures.SCSI_WRITE10), new byte[512]);
        ch.writeInbound(whole.readRetainedSlice(48 + 100));
        assertNull(ch.readInbound());
        whole.release();
    }
}
