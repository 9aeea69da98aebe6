package io.orion.dedup.scsi;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/**
 * One entry of the opcode table: how to parse a CDB (decode, validate, range-check) into an
 * {@link Executor} that does the work on the I/O executor.
 *
 * @param opcode operation code
 * @param serviceAction service action, or -1 for opcodes without one
 * @param name for logs and reports
 * @param usage the CDB usage data bitmap reported by REPORT SUPPORTED OPERATION CODES (SPC-4
 *     §6.35.3); its length is the CDB length
 * @param flags {@link #UA_EXEMPT}, {@link #CONFLICT_EXEMPT}, {@link #NO_LUN_OK}, {@link #WRITES},
 *     {@link #READS}, {@link #DATA_IN}, {@link #DATA_OUT}
 * @param parser the parser
 */
record CommandSpec(int opcode, int serviceAction, String name, byte[] usage, int flags, Parser parser) {

    /** Runs despite a pending unit attention (SAM-5 §5.14: INQUIRY, REPORT LUNS, REQUEST SENSE). */
    static final int UA_EXEMPT = 1;
    /** Allowed while another nexus holds a SCSI-2 reservation (SPC-2 §5.5.1). */
    static final int CONFLICT_EXEMPT = 2;
    /** Runs on an unknown LUN (INQUIRY, REPORT LUNS, REQUEST SENSE). */
    static final int NO_LUN_OK = 4;
    /** Modifies the medium: MEDIUM ERROR 03/0C/00 on I/O failure; a write under reservations. */
    static final int WRITES = 8;
    /** Reads the medium or LU state: a read under persistent reservations (SPC-4 Table 43). */
    static final int READS = 16;
    /** Any data this command transfers goes to the initiator (Data-In): needs the transport's R bit. */
    static final int DATA_IN = 32;
    /** Any data this command transfers comes from the initiator (Data-Out): needs the W bit. */
    static final int DATA_OUT = 64;

    boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /**
     * Changes the medium (a write of data, UNMAP, WRITE SAME, COMPARE AND WRITE...): refused on a LUN
     * the nexus may only read. MODE SELECT writes parameters, not the medium.
     */
    boolean changesMedium() {
        return has(WRITES) && has(DATA_OUT) && opcode != 0x15 && opcode != 0x55;
    }

    /** How persistent reservations restrict this command. */
    PersistentReservations.Access access() {
        if (has(WRITES)) {
            return PersistentReservations.Access.WRITE;
        }
        return has(READS) ? PersistentReservations.Access.READ : PersistentReservations.Access.ALWAYS;
    }

    /** Decode + validate + one LBA range check; throws {@link SenseException}. */
    @FunctionalInterface
    interface Parser {
        Executor parse(Request request);
    }

    /** The work; runs on the command layer's I/O executor. */
    @FunctionalInterface
    interface Executor {
        ScsiResponse run() throws IOException;
    }

    /**
     * Work that starts on the I/O executor and may finish on another thread (a write whose
     * metadata commit is left to the group committer). The future fails with what {@link
     * Executor#run} would have thrown.
     */
    @FunctionalInterface
    interface AsyncExecutor extends Executor {
        /**
         * Starts the work in {@code scope}, the {@link io.orion.dedup.blockdev.IoBatch} scope it
         * runs in (null: none), which it passes down to the device.
         */
        CompletableFuture<ScsiResponse> start(io.orion.dedup.blockdev.IoBatch.Scope scope) throws IOException;

        /**
         * The data bytes of light work, which the transport may run on its own thread (see {@link
         * io.orion.dedup.blockdev.IoBatch}): it cannot wait ({@link
         * io.orion.dedup.blockdev.BlockDevice#quickWrite}). -1: ordinary work.
         */
        default long lightBytes() {
            return -1;
        }

        /** Waits for {@link #start}; a failure arrives wrapped in a CompletionException. */
        @Override
        default ScsiResponse run() throws IOException {
            return start(null).join();
        }
    }
}
