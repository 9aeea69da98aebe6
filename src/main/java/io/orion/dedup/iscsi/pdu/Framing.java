package io.orion.dedup.iscsi.pdu;

/**
 * The per-connection framing parameters the codec needs (RFC 7143 §13.1, §13.12): digests and the
 * largest data segment we accept. Mutated only on the connection's event loop, when login ends
 * (digests start with the first PDU after the final Login Response) or a Text exchange changes
 * MaxRecvDataSegmentLength.
 */
public final class Framing {

    /** Data segments during login are limited to the default 8192 bytes (RFC 7143 §13.12). */
    public static final int LOGIN_SEGMENT_LIMIT = 8192;

    private boolean headerDigest;
    private boolean dataDigest;
    private int maxInboundSegment;

    public Framing(int maxInboundSegment) {
        this.maxInboundSegment = maxInboundSegment;
    }

    public boolean headerDigest() {
        return headerDigest;
    }

    public boolean dataDigest() {
        return dataDigest;
    }

    public int maxInboundSegment() {
        return maxInboundSegment;
    }

    public void digests(boolean header, boolean data) {
        this.headerDigest = header;
        this.dataDigest = data;
    }

    public void maxInboundSegment(int bytes) {
        this.maxInboundSegment = bytes;
    }
}
