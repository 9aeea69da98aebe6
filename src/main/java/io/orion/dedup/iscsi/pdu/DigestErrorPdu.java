package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * A PDU whose data digest did not match (RFC 7143 §7.8): the header is trustworthy, the payload
 * is discarded, and the target answers with Reject reason "Data (payload) digest error".
 */
public record DigestErrorPdu(Opcode received, int itt, byte[] header) implements InboundPdu {

    @Override
    public Opcode opcode() {
        return received;
    }

    @Override
    public ByteBuf data() {
        return Unpooled.EMPTY_BUFFER;
    }
}
