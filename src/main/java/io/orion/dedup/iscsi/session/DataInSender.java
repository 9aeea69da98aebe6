package io.orion.dedup.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.orion.dedup.iscsi.IscsiMetrics;
import io.orion.dedup.iscsi.login.SessionParams;
import io.orion.dedup.iscsi.pdu.DataIn;
import io.orion.dedup.iscsi.pdu.ScsiResponsePdu;
import io.orion.dedup.scsi.ScsiResponse;
import io.orion.dedup.scsi.SenseData;
import io.orion.dedup.scsi.SenseReason;
import java.nio.ByteBuffer;

/**
 * Sends a task's outcome (RFC 7143 §11.4, §11.7): the data as Data-In PDUs no longer than the
 * initiator's MaxRecvDataSegmentLength, F at each MaxBurstLength boundary, the status in the last
 * Data-In when there is no sense, otherwise a SCSI Response with the sense data; residuals against
 * the expected data transfer length. Also the CHECK CONDITION of a task the transport itself failed,
 * its sense taken from the SCSI core's one table.
 *
 * <p>Threads: the connection's event loop only.
 */
final class DataInSender {

    private final IscsiConnection conn;
    private final IscsiMetrics metrics;

    DataInSender(IscsiConnection conn, IscsiMetrics metrics) {
        this.conn = conn;
        this.metrics = metrics;
    }

    void sendResult(ScsiTask t, ScsiResponse r) {
        ByteBuffer in = r.dataIn();
        int available = in == null ? 0 : in.remaining();
        // The Expected Data Transfer Length is an unsigned 32-bit field (RFC 7143 §11.3.4).
        long edtl = Integer.toUnsignedLong(t.edtl);
        long residual;
        if (available > 0) {
            residual = edtl - available;
        } else if (r.dataOutLength() > 0) {
            residual = edtl - r.dataOutLength();
        } else {
            residual = edtl;
        }
        SessionParams params = conn.params();
        int toSend = t.read ? (int) Math.min(available, edtl) : 0;
        boolean statusInData = toSend > 0 && r.sense() == null;
        int segment = Math.max(512, params.initiatorMaxRecvDataSegmentLength());
        int burst = Math.max(512, params.maxBurstLength());
        int dataSN = 0;
        int offset = 0;
        int burstStart = 0;
        ByteBuffer src = toSend > 0 ? in.duplicate() : null;
        int base = src == null ? 0 : src.position();
        String target = conn.session().target().name();
        while (offset < toSend) {
            int len = Math.min(segment, Math.min(toSend - offset, burstStart + burst - offset));
            boolean last = offset + len == toSend;
            boolean endOfBurst = last || offset + len == burstStart + burst;
            ByteBuffer slice = src.duplicate();
            slice.limit(base + offset + len).position(base + offset);
            boolean status = last && statusInData;
            SequenceNumbers.Stamp s = status ? conn.seq().take() : conn.seq().peek();
            DataIn pdu = new DataIn(endOfBurst, status, r.status(), t.lunField, t.itt, s.statSN(), s.expCmdSN(),
                    s.maxCmdSN(), dataSN++, offset, residual, Unpooled.wrappedBuffer(slice));
            if (last && r.release() != null) {
                // Writes leave in order: once the last Data-In is written (or failed), no PDU
                // refers to the response's memory any more.
                conn.sendThen(pdu, r.release());
            } else {
                conn.send(pdu);
            }
            offset += len;
            if (endOfBurst) {
                burstStart = offset;
            }
        }
        if (toSend > 0) {
            metrics.bytesOut(target, t.lun, toSend);
        } else {
            r.releaseData();
        }
        if (!statusInData) {
            ByteBuf sense = Unpooled.EMPTY_BUFFER;
            if (r.sense() != null && r.sense().length > 0) {
                sense = Unpooled.buffer(2 + r.sense().length).writeShort(r.sense().length).writeBytes(r.sense());
            }
            // ExpDataSN counts the Data-In and R2T PDUs sent for the command (RFC 7143 §11.4.6).
            SequenceNumbers.Stamp s = conn.seq().take();
            conn.send(new ScsiResponsePdu(0, r.status(), t.itt, s.statSN(), s.expCmdSN(), s.maxCmdSN(),
                    dataSN + t.nextR2tSN, residual, sense));
        }
        metrics.commandCompleted(target, t.lun, t.cdb[0] & 0xff, r.status(), System.nanoTime() - t.startNanos);
    }

    /**
     * CHECK CONDITION for a task the transport failed (fixed-format sense: the LU's D_SENSE is not
     * the transport's to know); the whole expected length is the residual.
     */
    void sendCheckCondition(ScsiTask t, SenseReason reason) {
        byte[] s = SenseData.build(reason, false);
        ByteBuf sense = Unpooled.buffer(2 + s.length).writeShort(s.length).writeBytes(s);
        SequenceNumbers.Stamp st = conn.seq().take();
        conn.send(new ScsiResponsePdu(0, ScsiResponse.CHECK_CONDITION, t.itt, st.statSN(), st.expCmdSN(),
                st.maxCmdSN(), t.nextR2tSN, Integer.toUnsignedLong(t.edtl), sense));
    }
}
