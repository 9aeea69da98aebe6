package io.orion.dedup.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.orion.dedup.iscsi.login.KeyNegotiator;
import io.orion.dedup.iscsi.login.LoginKey;
import io.orion.dedup.iscsi.pdu.Pdu;
import io.orion.dedup.iscsi.pdu.Reject;
import io.orion.dedup.iscsi.pdu.TextParams;
import io.orion.dedup.iscsi.pdu.TextRequest;
import io.orion.dedup.iscsi.pdu.TextResponse;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A connection's text negotiation in the full-feature phase (RFC 7143 §11.10, §11.11): requests
 * that continue over several PDUs (C bit), answers longer than one PDU sent in pieces with a target
 * transfer tag, SendTargets (answered by {@link SendTargets}), a renegotiated
 * MaxRecvDataSegmentLength, and every other key rejected or not understood.
 *
 * <p>Threads: the connection's event loop only.
 */
final class TextExchange {

    /** At most this many bytes of one request's text are collected. */
    private static final int MAX_REQUEST = 65536;

    private final IscsiConnection conn;
    private final ByteArrayOutputStream textIn = new ByteArrayOutputStream();
    private byte[] textOut;
    private int textOutPos;
    private int textItt = Pdu.NO_TAG;
    private int textTtt = Pdu.NO_TAG;

    TextExchange(IscsiConnection conn) {
        this.conn = conn;
    }

    /** The connection closed: an answer in progress is dropped. */
    void clear() {
        textOut = null;
    }

    void onText(TextRequest t, byte[] text) {
        if (t.ttt() != Pdu.NO_TAG) {
            if (t.ttt() != textTtt || t.itt() != textItt) {
                conn.reject(Reject.INVALID_PDU_FIELD, conn.lastHeader());
                conn.flush();
                return;
            }
            if (textOut != null) {
                sendChunk(t);
                conn.flush();
                return;
            }
        } else {
            textOut = null;
            textIn.reset();
            textItt = t.itt();
        }
        textTtt = Pdu.NO_TAG;
        textIn.writeBytes(text);
        if (textIn.size() > MAX_REQUEST) {
            textIn.reset();
            conn.reject(Reject.PROTOCOL_ERROR, conn.lastHeader());
            return;
        }
        if (t.cont()) {
            // RFC 7143 §11.10.2: acknowledge with an empty response and a TTT; the initiator continues.
            textTtt = conn.nextTtt();
            SequenceNumbers.Stamp s = conn.seq().take();
            conn.send(new TextResponse(false, false, t.lunField(), t.itt(), textTtt, s.statSN(), s.expCmdSN(),
                    s.maxCmdSN(), Unpooled.EMPTY_BUFFER));
            conn.flush();
            return;
        }
        List<Map.Entry<String, String>> pairs = TextParams.parse(textIn.toByteArray());
        textIn.reset();
        textOut = TextParams.encode(answer(pairs));
        textOutPos = 0;
        sendChunk(t);
        conn.flush();
    }

    private List<Map.Entry<String, String>> answer(List<Map.Entry<String, String>> pairs) {
        IscsiSession session = conn.session();
        List<Map.Entry<String, String>> answer = new ArrayList<>();
        for (Map.Entry<String, String> e : pairs) {
            String key = e.getKey();
            if ("SendTargets".equals(key)) {
                List<Map.Entry<String, String>> targets = SendTargets.answer(e.getValue(), conn.server().catalog(),
                        session.initiatorName(), session.target(), (InetSocketAddress) conn.channel().localAddress());
                if (targets == null) {
                    answer.add(Map.entry(key, KeyNegotiator.REJECT));
                } else {
                    answer.addAll(targets);
                }
            } else if ("MaxRecvDataSegmentLength".equals(key)) {
                Long v = e.getValue() == null ? null : KeyNegotiator.number(e.getValue());
                if (v == null || v < 512 || v > 16777215) {
                    answer.add(Map.entry(key, KeyNegotiator.REJECT));
                } else {
                    conn.params(conn.params().with(key, Long.toString(v)));
                }
            } else if (LoginKey.find(key) != null || LoginKey.CHAP_KEYS.contains(key)) {
                answer.add(Map.entry(key, KeyNegotiator.REJECT));
            } else {
                answer.add(Map.entry(key, KeyNegotiator.NOT_UNDERSTOOD));
            }
        }
        return answer;
    }

    private void sendChunk(TextRequest t) {
        int limit = Math.max(512, conn.params().initiatorMaxRecvDataSegmentLength());
        int len = Math.min(limit, textOut.length - textOutPos);
        boolean last = textOutPos + len == textOut.length;
        ByteBuf chunk = Unpooled.wrappedBuffer(textOut, textOutPos, len);
        textOutPos += len;
        textTtt = last ? Pdu.NO_TAG : conn.nextTtt();
        SequenceNumbers.Stamp s = conn.seq().take();
        conn.send(new TextResponse(last, !last, t.lunField(), t.itt(), textTtt, s.statSN(), s.expCmdSN(), s.maxCmdSN(),
                chunk));
        if (last) {
            textOut = null;
        }
    }
}
