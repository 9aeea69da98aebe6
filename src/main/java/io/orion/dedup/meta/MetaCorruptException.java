package io.orion.dedup.meta;

import java.io.IOException;

/**
 * The metadata cannot be trusted: a value failed its CRC32C, a structure is inconsistent, or the
 * LMDB file itself is damaged. The pool turns read-only and reports this message as the reason.
 */
public class MetaCorruptException extends IOException {
    private static final long serialVersionUID = 1L;

    public MetaCorruptException(String message) {
        super(message);
    }

    public MetaCorruptException(String message, Throwable cause) {
        super(message, cause);
    }
}
