package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * A well-framed PDU whose opcode this target does not accept (unknown, vendor specific, or a
 * target opcode sent by an initiator). The target answers with a Reject (RFC 7143 §11.17.1)
 * carrying {@link #header()}; its data segment has already been skipped.
 */
public record UnknownPdu(int code, int itt, byte[] header) implements InboundPdu {

    @Override
    public Opcode opcode() {
        return null;
    }

    @Override
    public ByteBuf data() {
        return Unpooled.EMPTY_BUFFER;
    }
}
