package io.orion.dedup.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * One iSCSI PDU (RFC 7143 §11.1): a 48-byte Basic Header Segment, optional AHS, and an optional
 * data segment. Implementations are immutable except for the reference count of their data
 * segment, which the receiver releases with {@link #release()}.
 */
public sealed interface Pdu permits InboundPdu, OutboundPdu {

    /** Reserved tag value meaning "no task tag" (RFC 7143 §11.1.1.4 ... §11.18.3). */
    int NO_TAG = 0xffffffff;

    /** BHS length in bytes. */
    int BHS_LENGTH = 48;

    Opcode opcode();

    /** The data segment, or an empty buffer; never null. */
    ByteBuf data();

    /** Releases the data segment. */
    default void release() {
        ByteBuf d = data();
        if (d != null && d.refCnt() > 0) {
            d.release();
        }
    }
}
