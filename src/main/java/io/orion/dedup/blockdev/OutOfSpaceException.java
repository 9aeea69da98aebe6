package io.orion.dedup.blockdev;

import java.io.IOException;

/**
 * Thrown by a {@link BlockDevice} (or the store under it) that cannot get the space a write needs:
 * the backing file system is full (ENOSPC, EDQUOT), every container slot is in use, or the metadata
 * store is down to the reserve it keeps for freeing space. The SCSI layer answers DATA PROTECT,
 * SPACE ALLOCATION FAILED WRITE PROTECT (SBC-4 §4.7.3.6, sense key 7h, ASC/ASCQ 27h/07h), the
 * answer a thin-provisioned LUN gives when its pool is out of space; the device stays up and
 * serves reads, UNMAP and overwrites that need no new space.
 */
public class OutOfSpaceException extends IOException {
    private static final long serialVersionUID = 1L;

    public OutOfSpaceException(String message) {
        super(message);
    }

    public OutOfSpaceException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * True when {@code e} (or a cause) is the JDK's report of a full file system or an exhausted
     * quota: {@code FileChannel} writes throw a plain {@link IOException} carrying the C library's
     * text for ENOSPC ("No space left on device") or EDQUOT ("Disk quota exceeded").
     */
    public static boolean isNoSpace(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof OutOfSpaceException) {
                return true;
            }
            String m = t.getMessage();
            if (t instanceof IOException && m != null
                    && (m.contains("No space left on device") || m.contains("Disk quota exceeded"))) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }
}
