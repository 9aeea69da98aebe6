package io.orion.dedup.scsi;

import java.util.concurrent.CompletableFuture;

/**
 * The SCSI side of one target: its logical units, their task sets, reservations and unit
 * attentions. The transport (iSCSI) calls it; it never sees the transport.
 *
 * <p>Threading: {@link #execute} never blocks the caller: I/O runs on the command layer's own
 * executor, and the future completes there. All other methods are quick and thread-safe.
 */
public interface ScsiTarget {

    /** Executes one command. The future never completes exceptionally: errors become sense data. */
    default CompletableFuture<ScsiResponse> execute(ScsiCommand command) {
        return execute(command, null);
    }

    /**
     * {@link #execute(ScsiCommand)} as part of {@code batch} (null: none), the transport's batch of
     * the commands decoded from one socket read: the command's I/O is collected into it and leaves
     * with the rest of the burst when the transport dispatches it.
     */
    CompletableFuture<ScsiResponse> execute(ScsiCommand command, io.orion.dedup.blockdev.IoBatch batch);

    /** True if {@code lun} exists and is visible to {@code nexus} (for task management answers). */
    boolean hasLun(Nexus nexus, long lun);

    /**
     * LOGICAL UNIT RESET (SAM-5 §7.7) after the transport has aborted that LU's tasks: clears
     * SCSI-2 reservations and mode state as SAM requires, and establishes the reset unit attention.
     */
    void logicalUnitReset(Nexus issuer, long lun);

    /** TARGET WARM/COLD RESET: a logical unit reset of every LU. */
    void targetReset(Nexus issuer, boolean cold);

    /**
     * CLEAR TASK SET / ABORT TASK SET completed on {@code lun} by {@code issuer}; the command layer
     * may establish the "commands cleared by another initiator" unit attention for others.
     */
    void taskSetCleared(Nexus issuer, long lun, boolean allInitiators);

    /** The nexus is gone (logout, connection loss, session reinstatement). */
    void nexusLost(Nexus nexus);
}
