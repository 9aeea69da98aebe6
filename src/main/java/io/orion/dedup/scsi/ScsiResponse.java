package io.orion.dedup.scsi;

import java.nio.ByteBuffer;

/**
 * The command layer's answer to one {@link ScsiCommand}.
 *
 * @param status SAM status byte (0x00 GOOD, 0x02 CHECK CONDITION, 0x08 BUSY, 0x18 RESERVATION
 *     CONFLICT, 0x28 TASK SET FULL)
 * @param sense sense data (fixed or descriptor format) when status is CHECK CONDITION, else null
 * @param dataIn data for the initiator, position..limit, at its full length as the CDB defines
 *     it (e.g. the allocation length); the transport sends at most EDTL of it and reports the
 *     residual. Null when the command returns no data.
 * @param dataOutLength the number of bytes the CDB asked the initiator to send (e.g. blocks ×
 *     block size for WRITE); the transport reports a residual when EDTL differs. 0 for commands
 *     that transfer no data out.
 * @param release returns {@code dataIn}'s memory to its pool; the transport runs it exactly once,
 *     when the data has been sent (or will never be), and must not touch {@code dataIn} after.
 *     Null when {@code dataIn} is ordinary heap memory that needs no release.
 */
public record ScsiResponse(int status, byte[] sense, ByteBuffer dataIn, int dataOutLength, Runnable release) {

    /** A response whose data (if any) is ordinary heap memory. */
    public ScsiResponse(int status, byte[] sense, ByteBuffer dataIn, int dataOutLength) {
        this(status, sense, dataIn, dataOutLength, null);
    }

    /**
     * This response with its data copied to the heap and the pooled memory released at once; for
     * consumers that keep the data (tests, tools) rather than send it.
     */
    public ScsiResponse detached() {
        if (release == null) {
            return this;
        }
        ByteBuffer copy = ByteBuffer.allocate(dataIn.remaining());
        copy.put(dataIn.duplicate()).flip();
        release.run();
        return new ScsiResponse(status, sense, copy, dataOutLength);
    }

    /** Runs {@link #release()} if there is one; for a consumer that is done with {@code dataIn}. */
    public void releaseData() {
        if (release != null) {
            release.run();
        }
    }

    public static final int GOOD = 0x00;
    public static final int CHECK_CONDITION = 0x02;
    public static final int CONDITION_MET = 0x04;
    public static final int BUSY = 0x08;
    public static final int RESERVATION_CONFLICT = 0x18;
    public static final int TASK_SET_FULL = 0x28;
    public static final int TASK_ABORTED = 0x40;
}
