package io.orion.dedup.iscsi.pdu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;

/**
 * Coverage-guided fuzzing of the PDU decoder (Jazzer): any byte stream, cut into reads at any
 * places, with or without digests, may only become inbound PDUs or one framing error
 * ({@link PduFormatException}) after which nothing more is decoded; no other exception, and every
 * data segment handed on is released without a leak. A plain test run replays the seed corpus in
 * {@code src/test/resources/io/orion/dedup/iscsi/pdu/PduDecoderFuzzTestInputs}; {@code JAZZER_FUZZ=1}
 * fuzzes (scripts/fuzz --jazzer).
 */
class PduDecoderFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void decode(FuzzedDataProvider in) {
        boolean headerDigest = in.consumeBoolean();
        boolean dataDigest = in.consumeBoolean();
        int limit = in.consumeBoolean() ? Framing.LOGIN_SEGMENT_LIMIT : 512 + in.consumeInt(0, 1 << 18);
        Framing framing = new Framing(limit);
        framing.digests(headerDigest, dataDigest);
        EmbeddedChannel ch = new EmbeddedChannel(new PduDecoder(framing));
        boolean failed = false;
        try {
            while (in.remainingBytes() > 0) {
                int n = in.consumeInt(1, 300);
                byte[] chunk = in.consumeBytes(n);
                if (chunk.length == 0) {
                    break;
                }
                boolean failedNow = false;
                try {
                    ch.writeInbound(Unpooled.wrappedBuffer(chunk));
                } catch (DecoderException e) {
                    assertTrue(e.getCause() instanceof PduFormatException || e instanceof PduFormatException,
                            "only a framing error may end decoding: " + e);
                    assertTrue(!failed, "a second framing error after the first: " + e);
                    failedNow = true;
                }
                Object msg;
                while ((msg = ch.readInbound()) != null) {
                    // PDUs complete before the error in the same read are handed on; none after it
                    assertTrue(msg instanceof InboundPdu, "decoded " + msg.getClass());
                    assertTrue(!failed, "a PDU decoded after a framing error");
                    ReferenceCountUtil.release(msg);
                }
                failed |= failedNow;
            }
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
