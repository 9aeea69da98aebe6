package io.orion.dedup.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.concurrent.ScheduledFuture;
import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.pdu.NopIn;
import io.orion.dedup.iscsi.pdu.NopOut;
import io.orion.dedup.iscsi.pdu.Pdu;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection's NOP exchange (RFC 7143 §11.18, §11.19): NOP-Outs answered with an echo, and the
 * target's own keep-alive — a NOP-In ping after {@code nopInInterval} of silence, the connection
 * dropped when no answer comes within {@code nopInTimeout}.
 *
 * <p>Threads: the connection's event loop only.
 */
final class KeepAlive {

    /** Logs as the connection did before this part was split off. */
    private static final Logger LOG = LoggerFactory.getLogger(IscsiConnection.class);

    private final IscsiConnection conn;
    private final IscsiServerOptions options;
    private long lastReadNanos = System.nanoTime();
    private int pingTtt = Pdu.NO_TAG;
    private long pingSentNanos;
    private ScheduledFuture<?> ticker;

    KeepAlive(IscsiConnection conn, IscsiServerOptions options) {
        this.conn = conn;
        this.options = options;
    }

    /** Something arrived from the initiator. */
    void heard() {
        lastReadNanos = System.nanoTime();
    }

    void onNopOut(NopOut n) {
        if (n.ttt() != Pdu.NO_TAG) {
            if (n.ttt() == pingTtt) {
                pingTtt = Pdu.NO_TAG;
            }
            return;
        }
        if (n.itt() == Pdu.NO_TAG) {
            return;
        }
        int limit = Math.max(512, conn.params().initiatorMaxRecvDataSegmentLength());
        ByteBuf echo = n.data().retainedSlice(n.data().readerIndex(), Math.min(limit, n.data().readableBytes()));
        conn.gate(n.immediate(), n.cmdSN(), false, () -> {
            SequenceNumbers.Stamp s = conn.seq().take();
            conn.send(new NopIn(n.lunField(), n.itt(), Pdu.NO_TAG, s.statSN(), s.expCmdSN(), s.maxCmdSN(), echo));
            conn.flush();
        }, echo::release);
    }

    /** Starts the pings (full-feature phase), unless disabled. */
    void start() {
        long interval = options.nopInInterval().toMillis();
        if (interval <= 0) {
            return;
        }
        long timeout = options.nopInTimeout().toMillis();
        long period = Math.max(50, Math.min(interval, timeout) / 2);
        ticker = conn.loop().scheduleAtFixedRate(this::tick, period, period, TimeUnit.MILLISECONDS);
    }

    void stop() {
        if (ticker != null) {
            ticker.cancel(false);
        }
    }

    private void tick() {
        if (!conn.inFullFeature()) {
            return;
        }
        long now = System.nanoTime();
        if (pingTtt != Pdu.NO_TAG) {
            if (now - pingSentNanos > options.nopInTimeout().toNanos()) {
                LOG.warn("{}: no answer to NOP-In within {} ms; dropping the connection", conn.remoteAddress(),
                        options.nopInTimeout().toMillis());
                conn.closeFromLoop();
            }
            return;
        }
        if (now - lastReadNanos >= options.nopInInterval().toNanos()) {
            pingTtt = conn.nextTtt();
            pingSentNanos = now;
            SequenceNumbers.Stamp s = conn.seq().peek();
            conn.send(new NopIn(0, Pdu.NO_TAG, pingTtt, s.statSN(), s.expCmdSN(), s.maxCmdSN(), Unpooled.EMPTY_BUFFER));
            conn.flush();
        }
    }
}
