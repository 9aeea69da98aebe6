package io.orion.dedup.blockdev;

import java.io.IOException;

/**
 * Thrown by a {@link BlockDevice} read when stored data failed its integrity check (CRC32C or
 * fingerprint) or could not be read back whole. The SCSI layer answers MEDIUM ERROR, UNRECOVERED
 * READ ERROR (SBC-4 §4.18, sense key 3h, ASC/ASCQ 11h/00h): the initiator never gets wrong data.
 */
public class ChecksumMismatchException extends IOException {
    private static final long serialVersionUID = 1L;

    public ChecksumMismatchException(String message) {
        super(message);
    }
}
