package io.orion.dedup.scsi;

import java.nio.ByteBuffer;

/**
 * One command being parsed: the transport's command, its logical unit (null for an unknown LUN)
 * and helpers for the checks every parser shares (SBC-4 §4.5 LBA range, SPC-4 §4.2.5 lengths).
 */
final class Request {

    final ScsiCommand command;
    final byte[] cdb;
    final LogicalUnit lu;
    final ScsiTargetService target;

    Request(ScsiCommand command, LogicalUnit lu, ScsiTargetService target) {
        this.command = command;
        this.cdb = command.cdb();
        this.lu = lu;
        this.target = target;
    }

    Nexus nexus() {
        return command.nexus();
    }

    int blockSize() {
        return lu.device.blockSize();
    }

    long blockCount() {
        return lu.device.blockCount();
    }

    /** The LBA range check: {@code [lba, lba+blocks)} must lie within the capacity (unsigned LBA). */
    void checkRange(long lba, long blocks) {
        long cap = blockCount();
        if (Long.compareUnsigned(lba, cap) > 0 || Long.compareUnsigned(blocks, cap - lba) > 0) {
            throw SenseReason.LBA_OUT_OF_RANGE.ex();
        }
        if (writing) {
            changing(lba, blocks);
        }
    }

    /** Set by {@link #checkWritable}: the ranges this command's parser checks are about to change. */
    private boolean writing;

    /**
     * True when this command's nexus may not write the LU: the LU is read-only (or SWP is set), or
     * the access table lets this nexus only read it. MODE SENSE's WP bit and the write check.
     */
    boolean writeProtected() {
        return lu.writeProtected() || target.access().readOnly(nexus(), lu.lun);
    }

    void checkWritable() {
        if (writeProtected()) {
            throw SenseReason.WRITE_PROTECTED.ex();
        }
        writing = true;
    }

    /**
     * Blocks {@code [lba, lba + blocks)} ({@code blocks} 0: to the end) of this LU will change: the
     * ROD tokens representing any of them are revoked (SBC-3 §5.8; see {@link CopyManager#changing}).
     */
    void changing(long lba, long blocks) {
        target.copies().changing(lu, lba, blocks);
    }

    /** The initiator's data as a read-only view; empty when none was sent. */
    ByteBuffer dataOut() {
        ByteBuffer b = command.dataOut();
        return b == null ? ByteBuffer.allocate(0) : b.asReadOnlyBuffer();
    }

    int dataOutLength() {
        ByteBuffer b = command.dataOut();
        return b == null ? 0 : b.remaining();
    }

    /** Reads the parameter list into an array, failing if fewer than {@code need} bytes came. */
    byte[] parameters(int need) {
        if (dataOutLength() < need) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        byte[] p = new byte[need];
        dataOut().get(p);
        return p;
    }
}
