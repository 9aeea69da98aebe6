package io.orion.dedup.iscsi.pdu;

import io.netty.handler.codec.CorruptedFrameException;

/**
 * The byte stream cannot be framed any more (bad header digest, oversize or malformed segment):
 * RFC 7143 §7.1.2 / §7.8 leave no way to resynchronise at ErrorRecoveryLevel 0, so the
 * connection is closed.
 */
public final class PduFormatException extends CorruptedFrameException {

    private static final long serialVersionUID = 1L;

    public PduFormatException(String message) {
        super(message);
    }
}
