package io.orion.dedup.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.orion.dedup.iscsi.pdu.DataOut;
import io.orion.dedup.iscsi.pdu.ScsiCommandPdu;
import io.orion.dedup.blockdev.BufferPool;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One SCSI task from arrival of its command to its response (RFC 7143 §4.2.2, §11.3, §11.7, §11.8):
 * the Data-Out collection (immediate data, the unsolicited sequence, R2T-solicited sequences)
 * into one buffer, and its lifecycle ({@link State}), which only its own methods move.
 *
 * <p>Threading: everything except {@link #abort()} runs on the owning connection's event loop.
 * {@code abort()} may come from any thread (task management on another connection or session);
 * it only sets a flag and hands the rest to the owner.
 */
final class ScsiTask {

    /**
     * Where a task is in its life (RFC 7143 §3.2.2.1, §4.2.2; SAM-5 §8.6). Steps only go forward,
     * as {@link #canMoveTo} allows; whether all of its Data-Out arrived is counted in bytes
     * ({@link #dataComplete}), not a state, because data and CmdSN admission arrive in either order.
     */
    enum State {
        /** Arrived; its data may still be coming; waits for its CmdSN to be admitted. */
        RECEIVING,
        /** Admitted in CmdSN order; runs once all of its data arrived and older tasks let it. */
        ADMITTED,
        /** Handed to the SCSI core; ends when the core answers. */
        EXECUTING,
        /** Answered, failed by the transport or aborted; forgotten by connection and session. */
        FINISHED;

        boolean canMoveTo(State next) {
            return switch (this) {
                case RECEIVING -> next == ADMITTED || next == FINISHED;
                case ADMITTED -> next == EXECUTING || next == FINISHED;
                case EXECUTING -> next == FINISHED;
                case FINISHED -> false;
            };
        }
    }

    /** Outcome of accepting one Data-Out PDU. */
    enum DataVerdict { OK, SEQUENCE_DONE, BAD_DATASN, BAD_OFFSET, OVERRUN }

    /** One outstanding R2T (RFC 7143 §11.8). */
    static final class R2tState {
        final int ttt;
        final int r2tSN;
        final int offset;
        final int length;
        int received;
        int nextDataSN;

        R2tState(int ttt, int r2tSN, int offset, int length) {
            this.ttt = ttt;
            this.r2tSN = r2tSN;
            this.offset = offset;
            this.length = length;
        }
    }

    final IscsiConnection owner;
    final int itt;
    final long lunField;
    final long lun;
    final byte[] cdb;
    final int attr;
    final int edtl;
    final boolean read;
    final boolean write;
    final int cmdSN;
    final long startNanos = System.nanoTime();

    ByteBuffer buffer;
    /**
     * Arrays for write data, recycled (qemu-img convert writes 2 MiB per command; a fresh array that
     * large is a humongous G1 allocation that the JVM zeroes and the kernel faults in, a quarter of
     * the server's CPU in a sequential write). No zeroing is needed: a command runs only after all
     * of its data arrived, in order (DataPDUInOrder and DataSequenceInOrder are always Yes), and it
     * sees exactly the bytes received.
     */
    private static final BufferPool<byte[]> DATA_OUT = new BufferPool<>(64L << 20, byte[]::new, a -> a.length);
    int expectedOut;
    int received;
    int unsolicitedEnd;
    int unsolicitedOffset;
    int unsolicitedDataSN;
    boolean unsolicitedOpen;
    int nextR2tOffset;
    /** End of the range R2Ts still have to cover, starting at {@link #nextR2tOffset}. */
    int solicitEnd;
    /** A range the initiator left out of its unsolicited burst (F set early), solicited first. */
    int gapOffset;
    int gapEnd;
    int nextR2tSN;
    final Map<Integer, R2tState> r2ts = new HashMap<>();

    /** In the session's {@link TaskOrder} queue; guarded by that queue's monitor. */
    boolean ordered;
    /** Waiting for an older task to be handed over; guarded by the {@link TaskOrder} monitor. */
    boolean blocked;
    /** Written on the owner's loop only; volatile for task management on other connections. */
    private volatile State state = State.RECEIVING;
    /** Holds a slot of the session's CmdSN window (a non-immediate command, once admitted). */
    private boolean holdsSlot;
    /** An abort was asked for (any thread); the owner ends the task once it no longer executes. */
    private volatile boolean aborted;
    final CompletableFuture<Void> terminated = new CompletableFuture<>();

    ScsiTask(IscsiConnection owner, ScsiCommandPdu c) {
        this.owner = owner;
        this.itt = c.itt();
        this.lunField = c.lunField();
        this.lun = c.lun();
        this.cdb = c.cdb();
        this.attr = c.attr();
        this.edtl = c.expectedDataTransferLength();
        this.read = c.read();
        this.write = c.write();
        this.cmdSN = c.cmdSN();
    }

    boolean aborted() {
        return aborted;
    }

    State state() {
        return state;
    }

    boolean isFinished() {
        return state == State.FINISHED;
    }

    private void moveTo(State next) {
        if (!state.canMoveTo(next)) {
            throw new IllegalStateException("task ITT 0x" + Integer.toHexString(itt) + ": " + state + " -> " + next);
        }
        state = next;
    }

    /** Its CmdSN was admitted; {@code countsInWindow}: it holds a window slot until it ends. */
    void admit(boolean countsInWindow) {
        moveTo(State.ADMITTED);
        holdsSlot = countsInWindow;
    }

    /** Handed to the SCSI core. */
    void startExecuting() {
        moveTo(State.EXECUTING);
    }

    /** Ends the task; false when it had already ended. */
    boolean finish() {
        if (state == State.FINISHED) {
            return false;
        }
        moveTo(State.FINISHED);
        return true;
    }

    /** Gives up the task's window slot: true exactly once for a task that held one. */
    boolean releaseSlot() {
        boolean had = holdsSlot;
        holdsSlot = false;
        return had;
    }

    boolean dataComplete() {
        return received >= expectedOut;
    }

    /**
     * Starts the data phase: takes the immediate data and works out the unsolicited sequence.
     * Returns false when the immediate data does not fit.
     */
    boolean begin(ByteBuf immediateData, boolean fin, boolean initialR2T, int firstBurstLength) {
        expectedOut = write ? edtl : 0;
        solicitEnd = expectedOut;
        if (expectedOut == 0) {
            return true;
        }
        buffer = ByteBuffer.wrap(DATA_OUT.take(expectedOut), 0, expectedOut);
        int imm = immediateData.readableBytes();
        if (imm > expectedOut) {
            return false;
        }
        if (imm > 0) {
            immediateData.getBytes(immediateData.readerIndex(), buffer.array(), 0, imm);
            received = imm;
        }
        int firstBurst = Math.min(firstBurstLength, expectedOut);
        if (fin || initialR2T) {
            unsolicitedEnd = imm;
        } else {
            unsolicitedEnd = Math.max(imm, firstBurst);
        }
        unsolicitedOffset = imm;
        unsolicitedOpen = unsolicitedEnd > imm;
        nextR2tOffset = unsolicitedEnd;
        solicitEnd = expectedOut;
        return true;
    }

    /** The next range [offset, offset + length) to send an R2T for, at most {@code maxBurst}; null when none. */
    int[] nextSolicitation(int maxBurst) {
        if (gapOffset < gapEnd) {
            int len = Math.min(maxBurst, gapEnd - gapOffset);
            int[] r = {gapOffset, len};
            gapOffset += len;
            return r;
        }
        if (nextR2tOffset < solicitEnd) {
            int len = Math.min(maxBurst, solicitEnd - nextR2tOffset);
            int[] r = {nextR2tOffset, len};
            nextR2tOffset += len;
            return r;
        }
        return null;
    }

    /** Accepts one Data-Out PDU (already matched to this task). */
    DataVerdict accept(DataOut d, R2tState r2t) {
        int len = d.data().readableBytes();
        int offset = d.bufferOffset();
        if (r2t == null) {
            if (!unsolicitedOpen) {
                return DataVerdict.OVERRUN;
            }
            if (d.dataSN() != unsolicitedDataSN) {
                return DataVerdict.BAD_DATASN;
            }
            if (offset != unsolicitedOffset) {
                return DataVerdict.BAD_OFFSET;
            }
            if ((long) offset + len > unsolicitedEnd) {
                return DataVerdict.OVERRUN;
            }
            copy(d.data(), offset, len);
            unsolicitedDataSN++;
            unsolicitedOffset += len;
            if (d.fin() || unsolicitedOffset == unsolicitedEnd) {
                unsolicitedOpen = false;
                if (unsolicitedOffset < unsolicitedEnd) {
                    // The initiator ended the unsolicited burst early: solicit what it left out.
                    gapOffset = unsolicitedOffset;
                    gapEnd = unsolicitedEnd;
                }
                return DataVerdict.SEQUENCE_DONE;
            }
            return DataVerdict.OK;
        }
        if (d.dataSN() != r2t.nextDataSN) {
            return DataVerdict.BAD_DATASN;
        }
        if (offset != r2t.offset + r2t.received) {
            return DataVerdict.BAD_OFFSET;
        }
        if ((long) r2t.received + len > r2t.length) {
            return DataVerdict.OVERRUN;
        }
        copy(d.data(), offset, len);
        r2t.nextDataSN++;
        r2t.received += len;
        if (r2t.received == r2t.length) {
            return DataVerdict.SEQUENCE_DONE;
        }
        return d.fin() ? DataVerdict.BAD_OFFSET : DataVerdict.OK;
    }

    private void copy(ByteBuf data, int offset, int len) {
        data.getBytes(data.readerIndex(), buffer.array(), offset, len);
        received += len;
    }

    /**
     * The collected data for the command layer, or null when the command sends none. A heap buffer
     * (hasArray) that the command layer may use as it likes until its command completes; then the
     * transport recycles it for another command's data.
     */
    ByteBuffer dataOut() {
        if (buffer == null) {
            return null;
        }
        return ByteBuffer.wrap(buffer.array(), 0, received);
    }

    /**
     * Recycles the data buffer; only once the command layer is done with it (its command
     * completed). Later {@link #dataOut()} calls return null.
     */
    void recycleData() {
        if (buffer != null) {
            DATA_OUT.give(buffer.array());
            buffer = null;
        }
    }

    /** Aborts the task (any thread); completes when it no longer executes. No response is sent. */
    CompletableFuture<Void> abort() {
        aborted = true;
        owner.abortOnLoop(this);
        return terminated;
    }

    /** The CDB trimmed to the length its group code defines (SPC-4 §4.2.5). */
    byte[] trimmedCdb() {
        int len = cdbLength(cdb);
        if (len >= cdb.length) {
            return cdb;
        }
        byte[] t = new byte[len];
        System.arraycopy(cdb, 0, t, 0, len);
        return t;
    }

    static int cdbLength(byte[] cdb) {
        if (cdb.length > 16) {
            return cdb.length;
        }
        int op = cdb[0] & 0xff;
        if (op == 0x7f) {
            return Math.min(cdb.length, 8 + (cdb[7] & 0xff));
        }
        return switch (op >>> 5) {
            case 0 -> 6;
            case 1, 2 -> 10;
            case 4 -> 16;
            case 5 -> 12;
            default -> 16;
        };
    }
}
