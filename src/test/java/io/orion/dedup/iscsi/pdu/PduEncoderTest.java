package io.orion.dedup.iscsi.pdu;

import static io.orion.dedup.iscsi.pdu.Fixtures.bhs;
import static io.orion.dedup.iscsi.pdu.Fixtures.concat;
import static io.orion.dedup.iscsi.pdu.Fixtures.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PduEncoderTest {

    private Framing framing;
    private EmbeddedChannel ch;

    @BeforeEach
    void setUp() {
        framing = new Framing(8192);
        ch = new EmbeddedChannel(new PduEncoder(framing));
    }

    @AfterEach
    void tearDown() {
        assertFalse(ch.finish());
    }

    /** Writes one PDU and returns every byte the encoder produced. */
    private byte[] encode(OutboundPdu pdu) {
        ch.writeOutbound(pdu);
        ByteBuf all = Unpooled.buffer();
        ByteBuf part;
        while ((part = ch.readOutbound()) != null) {
            all.writeBytes(part);
            part.release();
        }
        byte[] out = new byte[all.readableBytes()];
        all.readBytes(out);
        all.release();
        return out;
    }

    @Test
    void nopInEchoWithPadding() {
        byte[] out = encode(new NopIn(0, 0x11223344, Pdu.NO_TAG, 100, 7, 134, Unpooled.wrappedBuffer(
                "hello".getBytes(StandardCharsets.US_ASCII))));
        assertArrayEquals(concat(bhs("20 80 00 00 00 000005 0000000000000000 11223344 ffffffff 00000064 00000007"
                + " 00000086 00000000 00000000 00000000"), hex("68656c6c6f 000000")), out);
    }

    @Test
    void scsiResponseWithSenseAndUnderflow() {
        byte[] sense = new byte[18];
        sense[0] = 0x70;
        sense[2] = 0x05;
        sense[7] = 10;
        sense[12] = 0x24;
        ByteBuf data = Unpooled.buffer().writeShort(18).writeBytes(sense);
        byte[] out = encode(new ScsiResponsePdu(0, 0x02, 0x0a, 1, 2, 3, 0, 100, data));
        assertArrayEquals(concat(bhs("21 82 00 02 00 000014 0000000000000000 0000000a 00000000 00000001 00000002"
                + " 00000003 00000000 00000000 00000064"), hex("0012"), sense), out);
    }

    @Test
    void scsiResponseOverflow() {
        byte[] out = encode(new ScsiResponsePdu(0, 0, 0x0a, 1, 2, 3, 0, -512, Unpooled.EMPTY_BUFFER));
        assertArrayEquals(bhs("21 84 00 00 00 000000 0000000000000000 0000000a 00000000 00000001 00000002"
                + " 00000003 00000000 00000000 00000200"), out);
    }

    @Test
    void dataInWithStatusAndWithout() {
        byte[] out = encode(new DataIn(true, true, 0, 1L << 48, 0x0a, 9, 2, 3, 4, 8192, 0,
                Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4})));
        assertArrayEquals(concat(bhs("25 81 00 00 00 000004 0001000000000000 0000000a ffffffff 00000009 00000002"
                + " 00000003 00000004 00002000 00000000"), hex("01020304")), out);
        byte[] mid = encode(new DataIn(false, false, 0, 0, 0x0a, 9, 2, 3, 0, 0, 0,
                Unpooled.wrappedBuffer(new byte[] {7, 7})));
        assertArrayEquals(concat(bhs("25 00 00 00 00 000002 0000000000000000 0000000a ffffffff 00000000 00000002"
                + " 00000003 00000000 00000000 00000000"), hex("0707 0000")), mid);
    }

    @Test
    void r2tTaskManagementLogoutAsyncReject() {
        assertArrayEquals(bhs("31 80 00 00 00 000000 0000000000000000 0000000b 00000099 00000005 00000006"
                + " 00000007 00000001 00000200 00040000"), encode(new R2t(0, 0x0b, 0x99, 5, 6, 7, 1, 512, 262144)));
        assertArrayEquals(bhs("22 80 01 00 00 000000 0000000000000000 0000000c 00000000 00000005 00000006"
                + " 00000007 00000000 00000000 00000000"), encode(new TaskMgmtResponse(1, 0x0c, 5, 6, 7)));
        assertArrayEquals(bhs("26 80 00 00 00 000000 0000000000000000 0000000e 00000000 00000005 00000006"
                + " 00000007 00000000 0002 0014 00000000"), encode(new LogoutResponse(0, 0x0e, 5, 6, 7, 2, 20)));
        assertArrayEquals(bhs("32 80 00 00 00 000000 0000000000000000 ffffffff 00000000 00000005 00000006"
                + " 00000007 01 00 0000 0000 0005 00000000"),
                encode(new AsyncMessage(0, 5, 6, 7, 1, 0, 0, 0, 5, Unpooled.EMPTY_BUFFER)));
        byte[] rejected = bhs(Fixtures.VENDOR_1C);
        assertArrayEquals(concat(bhs("3f 80 05 00 00 000030 0000000000000000 ffffffff 00000000 00000005 00000006"
                + " 00000007 00000000 00000000 00000000"), rejected),
                encode(new Reject(Reject.COMMAND_NOT_SUPPORTED, 5, 6, 7, 0, Unpooled.wrappedBuffer(rejected))));
    }

    @Test
    void loginAndTextResponses() {
        byte[] text = "TargetPortalGroupTag=1\0".getBytes(StandardCharsets.US_ASCII);
        assertArrayEquals(concat(bhs("23 87 00 00 00 000017 80123456789a 0007 00000001 00000000 00000064"
                + " 00000005 00000084 0000 0000 00000000 00000000"), text, hex("00")),
                encode(new LoginResponse(true, false, 1, 3, 0, 0, 0x80123456789aL, 7, 1, 100, 5, 0x84, 0, 0,
                        Unpooled.wrappedBuffer(text))));
        assertArrayEquals(bhs("23 00 00 00 00 000000 80123456789a 0000 00000001 00000000 00000064"
                + " 00000005 00000005 0202 0000 00000000 00000000"),
                encode(new LoginResponse(false, false, 0, 0, 0, 0, 0x80123456789aL, 0, 1, 100, 5, 5, 2, 2,
                        Unpooled.EMPTY_BUFFER)));
        assertArrayEquals(concat(bhs("24 40 00 00 00 000004 0000000000000000 0000000d 00000042 00000001 00000002"
                + " 00000003 00000000 00000000 00000000"), hex("41424344")),
                encode(new TextResponse(false, true, 0, 0x0d, 0x42, 1, 2, 3,
                        Unpooled.wrappedBuffer("ABCD".getBytes(StandardCharsets.US_ASCII)))));
    }

    @Test
    void digestsAppended() {
        framing.digests(true, true);
        byte[] payload = "hello".getBytes(StandardCharsets.US_ASCII);
        byte[] out = encode(new NopIn(0, 1, Pdu.NO_TAG, 1, 2, 3, Unpooled.wrappedBuffer(payload)));
        assertEquals(48 + 4 + 8 + 4, out.length);
        ByteBuf b = Unpooled.wrappedBuffer(out);
        byte[] header = new byte[48];
        b.getBytes(0, header);
        assertEquals(Digests.crc32c(header, null), b.getIntLE(48));
        assertEquals(Digests.crc32c(concat(payload, new byte[3]), null), b.getIntLE(60));
    }

    @Test
    void crc32cMatchesRfc3720Vector() {
        // RFC 3720 Appendix B.4: 32 bytes of zeros give the digest bytes aa 36 91 8a.
        ByteBuf b = Unpooled.buffer().writeIntLE(Digests.crc32c(new byte[32], null));
        assertArrayEquals(hex("aa36918a"), io.netty.buffer.ByteBufUtil.getBytes(b));
        b.release();
    }
}
