package io.orion.dedup.blockdev;

import java.io.IOException;

/**
 * Thrown by a {@link BlockDevice} that refuses a write because it has gone read-only (for example
 * when its metadata can no longer be trusted). The SCSI layer answers DATA PROTECT, WRITE PROTECTED
 * (SPC-4 §4.5.6, sense key 7h, ASC/ASCQ 27h/00h) instead of MEDIUM ERROR.
 */
public class ReadOnlyVolumeException extends IOException {
    private static final long serialVersionUID = 1L;

    public ReadOnlyVolumeException(String reason) {
        super(reason);
    }
}
