package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** A PDU the target sends (opcodes 0x20-0x3f, RFC 7143 §11.1.1.1). */
public sealed interface OutboundPdu extends Pdu permits NopIn, ScsiResponsePdu, TaskMgmtResponse,
        LoginResponse, TextResponse, DataIn, LogoutResponse, R2t, AsyncMessage, Reject {

    /** Writes the 48-byte BHS, with DataSegmentLength taken from {@link #data()}. */
    void writeBhs(ByteBuf out);
}
