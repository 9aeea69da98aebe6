package io.orion.dedup.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.orion.dedup.iscsi.IscsiMetrics;
import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.login.KeyNegotiator;
import io.orion.dedup.iscsi.login.LoginKey;
import io.orion.dedup.iscsi.login.LoginNegotiator;
import io.orion.dedup.iscsi.login.LoginStatus;
import io.orion.dedup.iscsi.login.SessionParams;
import io.orion.dedup.iscsi.pdu.AsyncMessage;
import io.orion.dedup.iscsi.pdu.DataIn;
import io.orion.dedup.iscsi.pdu.DataOut;
import io.orion.dedup.iscsi.pdu.DigestErrorPdu;
import io.orion.dedup.iscsi.pdu.Framing;
import io.orion.dedup.iscsi.pdu.InboundPdu;
import io.orion.dedup.iscsi.pdu.LoginRequest;
import io.orion.dedup.iscsi.pdu.LoginResponse;
import io.orion.dedup.iscsi.pdu.LogoutRequest;
import io.orion.dedup.iscsi.pdu.LogoutResponse;
import io.orion.dedup.iscsi.pdu.NopIn;
import io.orion.dedup.iscsi.pdu.NopOut;
import io.orion.dedup.iscsi.pdu.Opcode;
import io.orion.dedup.iscsi.pdu.OutboundPdu;
import io.orion.dedup.iscsi.pdu.Pdu;
import io.orion.dedup.iscsi.pdu.PduDecoder;
import io.orion.dedup.iscsi.pdu.PduFormatException;
import io.orion.dedup.iscsi.pdu.R2t;
import io.orion.dedup.iscsi.pdu.Reject;
import io.orion.dedup.iscsi.pdu.ScsiCommandPdu;
import io.orion.dedup.iscsi.pdu.ScsiResponsePdu;
import io.orion.dedup.iscsi.pdu.SnackRequest;
import io.orion.dedup.iscsi.pdu.TaskMgmtRequest;
import io.orion.dedup.iscsi.pdu.TaskMgmtResponse;
import io.orion.dedup.iscsi.pdu.TextParams;
import io.orion.dedup.iscsi.pdu.TextRequest;
import io.orion.dedup.iscsi.pdu.TextResponse;
import io.orion.dedup.iscsi.pdu.UnknownPdu;
import io.orion.dedup.scsi.ScsiCommand;
import io.orion.dedup.scsi.ScsiResponse;
import io.orion.dedup.scsi.ScsiTarget;
import io.orion.dedup.scsi.SenseData;
import io.orion.dedup.scsi.SenseReason;
import io.orion.dedup.scsi.TaskAttribute;
import io.orion.dedup.storage.IoBatch;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One iSCSI connection (RFC 7143 §4.2, §5): the login phase, then the full-feature phase. It owns
 * StatSN (responses leave in StatSN order because everything is sent from this connection's
 * event loop), the tasks that arrived on it (connection allegiance), R2T and Data-In sequencing,
 * NOP-In keep-alive, task management, text requests and logout.
 *
 * <p>Threads: all state is confined to the channel's event loop. SCSI commands run on the command
 * layer's executor ({@link ScsiTarget#execute} never blocks); their completion hops back here.
 * The session's CmdSN window and task table are shared with the session's other connections and
 * are thread-safe.
 */
public final class IscsiConnection extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(IscsiConnection.class);

    private enum Phase { LOGIN, FULL_FEATURE, CLOSING }

    private final ServerContext server;
    private final IscsiServerOptions options;
    private final IscsiMetrics metrics;
    private final Framing framing;
    private final PduDecoder decoder;
    private ChannelHandlerContext ctx;
    private Channel channel;
    private EventLoop loop;
    private Phase phase = Phase.LOGIN;
    private LoginNegotiator login;
    private IscsiSession session;
    private SessionParams params;
    private int cid;
    private int statSN;
    private int nextTtt = 1;
    private boolean flushPending;
    /** True while channelReadComplete runs the read's batch, which flushes once after it. */
    private boolean runningBatch;
    private final Map<Integer, ScsiTask> tasks = new HashMap<>();
    private final Map<Integer, ScsiTask> byTtt = new HashMap<>();

    private final ByteArrayOutputStream textIn = new ByteArrayOutputStream();
    private byte[] textOut;
    private int textOutPos;
    private int textItt = Pdu.NO_TAG;
    private int textTtt = Pdu.NO_TAG;

    private long lastReadNanos = System.nanoTime();
    private int pingTtt = Pdu.NO_TAG;
    private long pingSentNanos;
    private ScheduledFuture<?> ticker;
    private ScheduledFuture<?> loginTimer;
    /** The remote address (null when not an IP socket); login limits and CHAP failures count per source. */
    private InetAddress source;
    /** True while this connection counts in {@link ServerContext#pendingLogins()}. */
    private boolean pendingLogin;

    public IscsiConnection(ServerContext server, Framing framing, PduDecoder decoder) {
        this.server = server;
        this.options = server.options();
        this.metrics = options.metrics();
        this.framing = framing;
        this.decoder = decoder;
        this.statSN = server.random().nextInt() & 0x7fffffff;
    }

    int cid() {
        return cid;
    }

    String remoteAddress() {
        Channel ch = channel;
        if (ch != null && ch.remoteAddress() instanceof InetSocketAddress a) {
            return SendTargets.format(a);
        }
        return "?";
    }

    // ---------------------------------------------------------------- lifecycle

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.channel = ctx.channel();
        this.loop = ctx.channel().eventLoop();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        source = channel.remoteAddress() instanceof InetSocketAddress a ? a.getAddress() : null;
        String refused = server.pendingLogins().tryAcquire(source);
        if (refused != null) {
            server.loginLog().info(source, "connection from {} closed before login: {}", remoteAddress(), refused);
            phase = Phase.CLOSING;
            ctx.fireChannelActive();
            channel.close();
            return;
        }
        pendingLogin = true;
        loginTimer = loop.schedule(() -> {
            if (phase == Phase.LOGIN) {
                server.loginLog().info(source, "login from {} timed out after {} s", remoteAddress(),
                        options.loginTimeout().toSeconds());
                phase = Phase.CLOSING;
                channel.close();
            }
        }, options.loginTimeout().toMillis(), TimeUnit.MILLISECONDS);
        ctx.fireChannelActive();
    }

    /** This connection no longer counts as one in login (it finished its login or closed). */
    private void leavePendingLogins() {
        if (pendingLogin) {
            pendingLogin = false;
            server.pendingLogins().release(source);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        IoBatch.close();
        leavePendingLogins();
        phase = Phase.CLOSING;
        if (ticker != null) {
            ticker.cancel(false);
        }
        if (loginTimer != null) {
            loginTimer.cancel(false);
        }
        for (ScsiTask t : new ArrayList<>(tasks.values())) {
            t.abort();
            abortOnLoop(t);
        }
        textOut = null;
        if (session != null) {
            server.registry().detach(session, this);
        }
        ctx.fireChannelInactive();
    }

    /**
     * Back-pressure: an initiator that stops reading its responses stops being read, so immediate
     * requests (which bypass the CmdSN window) cannot pile up unbounded output.
     */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        ctx.channel().config().setAutoRead(ctx.channel().isWritable());
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable root = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
                ? cause.getCause() : cause;
        if ((root instanceof PduFormatException || cause instanceof PduFormatException) && phase == Phase.LOGIN) {
            server.loginLog().info(source, "closing connection from {} in login: {}", remoteAddress(),
                    io.orion.dedup.iscsi.LogText.of(root.getMessage(), 200));
        } else if (root instanceof PduFormatException || cause instanceof PduFormatException) {
            LOG.warn("closing connection from {}: {}", remoteAddress(), root.getMessage());
        } else if (root instanceof java.io.IOException) {
            LOG.debug("connection from {} failed: {}", remoteAddress(), root.toString());
        } else {
            LOG.warn("closing connection from {} after an error", remoteAddress(), cause);
        }
        IoBatch.close();
        phase = Phase.CLOSING;
        ctx.close();
    }

    /** Closes this connection from any thread. */
    void closeNow(String why) {
        Channel ch = channel;
        if (ch != null) {
            LOG.debug("closing connection {}: {}", remoteAddress(), why);
            ch.close();
        }
    }

    /**
     * Closes this connection, from any thread, if it has not reached the full-feature phase (a
     * login still in progress through a portal that is being withdrawn). Logged-in connections
     * are left alone.
     */
    public void closeIfStillInLogin(String why) {
        onLoop(() -> {
            if (phase == Phase.LOGIN) {
                phase = Phase.CLOSING;
                closeNow(why);
            }
        });
    }

    /** Announces shutdown with an Async Message asking for logout (RFC 7143 §11.9.1, event 1). */
    void requestLogout(int seconds) {
        onLoop(() -> {
            if (phase != Phase.FULL_FEATURE) {
                return;
            }
            long w = session.window().snapshot();
            send(new AsyncMessage(0, statSN++, (int) (w >>> 32), (int) w, AsyncMessage.LOGOUT_REQUESTED, 0, 0, 0,
                    seconds, Unpooled.EMPTY_BUFFER));
            flush();
        });
    }

    // ---------------------------------------------------------------- dispatch

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof InboundPdu pdu)) {
            io.netty.util.ReferenceCountUtil.release(msg);
            return;
        }
        lastReadNanos = System.nanoTime();
        // writes decoded from this socket read go to an I/O thread together (channelReadComplete)
        IoBatch.open();
        try {
            switch (phase) {
                case LOGIN -> {
                    if (pdu instanceof LoginRequest req) {
                        onLogin(req);
                    } else {
                        server.loginLog().info(source, "{} sent {} during login; closing", remoteAddress(),
                                describe(pdu));
                        phase = Phase.CLOSING;
                        channel.close();
                    }
                }
                case FULL_FEATURE -> dispatch(pdu);
                case CLOSING -> {
                }
                default -> throw new IllegalStateException();
            }
        } finally {
            pdu.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // a burst of small writes may run right here (IoBatch): their responses leave in one flush
        runningBatch = true;
        try {
            IoBatch.close();
        } finally {
            runningBatch = false;
        }
        flush();
        ctx.fireChannelReadComplete();
    }

    private void dispatch(InboundPdu pdu) {
        if (pdu instanceof UnknownPdu u) {
            protocolLog("{} sent unknown opcode 0x{}; rejected", remoteAddress(), Integer.toHexString(u.code()));
            reject(Reject.COMMAND_NOT_SUPPORTED, u.header());
            return;
        }
        if (pdu instanceof DigestErrorPdu d) {
            onDigestError(d);
            return;
        }
        if (session.discovery() && !(pdu instanceof TextRequest || pdu instanceof LogoutRequest
                || pdu instanceof NopOut)) {
            reject(Reject.PROTOCOL_ERROR, decoder.lastHeader());
            return;
        }
        if (pdu instanceof ScsiCommandPdu c) {
            onScsiCommand(c);
        } else if (pdu instanceof DataOut d) {
            onDataOut(d);
        } else if (pdu instanceof NopOut n) {
            onNopOut(n);
        } else if (pdu instanceof TaskMgmtRequest m) {
            gate(m.immediate(), m.cmdSN(), false, () -> onTaskManagement(m), () -> { });
        } else if (pdu instanceof TextRequest t) {
            byte[] text = TextParams.bytes(t.data());
            gate(t.immediate(), t.cmdSN(), false, () -> onText(t, text), () -> { });
        } else if (pdu instanceof LogoutRequest l) {
            gate(l.immediate(), l.cmdSN(), false, () -> onLogout(l), () -> { });
        } else if (pdu instanceof SnackRequest s) {
            reject(Reject.SNACK_REJECT, s.header());
        } else if (pdu instanceof LoginRequest) {
            reject(Reject.PROTOCOL_ERROR, decoder.lastHeader());
        }
    }

    /**
     * Logs a protocol error of the peer: rate-limited per source in a discovery session (which may
     * be unauthenticated), at INFO otherwise.
     */
    private void protocolLog(String format, Object... args) {
        if (session != null && session.discovery()) {
            server.loginLog().info(source, format, args);
        } else {
            LOG.info(format, args);
        }
    }

    private static String describe(InboundPdu pdu) {
        return pdu.opcode() == null ? "an unknown opcode" : pdu.opcode().name();
    }

    /**
     * Runs a request in CmdSN order (RFC 7143 §3.2.2.1): immediate requests at once; others when
     * their CmdSN is next; out-of-window ones are dropped silently.
     */
    private void gate(boolean immediate, int cmdSN, boolean counts, Runnable action, Runnable onDrop) {
        gate(immediate, cmdSN, counts, null, action, onDrop);
    }

    private void gate(boolean immediate, int cmdSN, boolean counts, Runnable inOrder, Runnable action,
                      Runnable onDrop) {
        if (immediate) {
            action.run();
            return;
        }
        List<Runnable> run = new ArrayList<>(2);
        Runnable onOwnLoop = () -> onLoop(action);
        CmdSnWindow.Verdict v = session.window().offer(cmdSN, counts, inOrder, onOwnLoop, run);
        if (v == CmdSnWindow.Verdict.DROP) {
            LOG.debug("{}: CmdSN {} outside the window or duplicate; dropped", remoteAddress(), cmdSN);
            onDrop.run();
            return;
        }
        for (Runnable r : run) {
            r.run();
        }
    }

    private void onLoop(Runnable r) {
        if (loop.inEventLoop()) {
            r.run();
        } else {
            loop.execute(r);
        }
    }

    // ---------------------------------------------------------------- login

    private void onLogin(LoginRequest req) {
        if (login == null) {
            cid = req.cid();
            login = new LoginNegotiator(server.catalog(), options, server.chapLimiter(), server.random(),
                    server.registry()::admit, (InetSocketAddress) channel.localAddress(),
                    channel.remoteAddress() instanceof InetSocketAddress a ? a : null);
        }
        LoginNegotiator.Step step = login.step(req, TextParams.bytes(req.data()));
        if (step.status() != 0) {
            failLogin(req, step.status());
            return;
        }
        if (!step.complete()) {
            sendLoginResponse(req, step, req.tsih(), req.cmdSN(), req.cmdSN() + server.registry().queueDepth(login) - 1);
            flush();
            return;
        }
        IscsiSession s = server.registry().bind(login, req.cmdSN(), this);
        if (s == null) {
            failLogin(req, LoginStatus.SESSION_DOES_NOT_EXIST);
            return;
        }
        session = s;
        params = login.params();
        long w = s.window().snapshot();
        sendLoginResponse(req, step, s.tsih(), (int) (w >>> 32), (int) w);
        flush();
        framing.digests(params.headerDigest(), params.dataDigest());
        framing.maxInboundSegment(params.targetMaxRecvDataSegmentLength());
        phase = Phase.FULL_FEATURE;
        loginTimer.cancel(false);
        leavePendingLogins();
        login = null;
        metrics.loginSucceeded(s.initiatorName(), s.discovery() ? null : s.target().name(), s.discovery());
        String line = "login: {} ISID {} TSIH {} CID {} {} from {}{}{}";
        Object[] args = {s.initiatorName(), String.format("%012x", s.isid()), s.tsih(), cid,
            s.discovery() ? "discovery" : "target " + s.target().name(), remoteAddress(),
            params.headerDigest() ? " HeaderDigest=CRC32C" : "", params.dataDigest() ? " DataDigest=CRC32C" : ""};
        if (s.discovery()) {
            // discovery may need no authentication: its lines share the per-source rate limit
            server.loginLog().info(source, line, args);
        } else {
            LOG.info(line, args);
        }
        startTicker();
    }

    private void sendLoginResponse(LoginRequest req, LoginNegotiator.Step step, int tsih, int exp, int max) {
        ByteBuf text = TextParams.toBuffer(step.answer());
        send(new LoginResponse(step.transit(), false, step.csg(), step.nsg(), 0, 0, req.isid(), tsih, req.itt(),
                statSN++, exp, max, 0, 0, text));
    }

    private void failLogin(LoginRequest req, int status) {
        String initiator = login == null ? null : login.initiatorName();
        String target = login == null || login.target() == null ? null : login.target().name();
        metrics.loginFailed(initiator, target, status);
        // One line per failed login, rate-limited per source address; the name is escaped and the
        // reason holds no CHAP name or secret.
        server.loginLog().info(source, "login from {} (InitiatorName {}) failed with status 0x{}: {}",
                remoteAddress(), io.orion.dedup.iscsi.LogText.of(initiator),
                String.format("%04x", status), login == null || login.failure() == null ? "-" : login.failure());
        phase = Phase.CLOSING;
        ctx.writeAndFlush(new LoginResponse(false, false, req.csg(), 0, 0, 0, req.isid(), req.tsih(), req.itt(),
                statSN++, req.cmdSN(), req.cmdSN(), status >> 8, status & 0xff, Unpooled.EMPTY_BUFFER))
                .addListener(ChannelFutureListener.CLOSE);
    }

    // ---------------------------------------------------------------- output helpers

    private void send(OutboundPdu pdu) {
        sendThen(pdu, null);
    }

    /** Sends a PDU and runs {@code after} (if not null) once it has been written or has failed. */
    private void sendThen(OutboundPdu pdu, Runnable after) {
        if (!channel.isActive()) {
            pdu.release();
            if (after != null) {
                after.run();
            }
            return;
        }
        if (after == null) {
            ctx.write(pdu, ctx.voidPromise());
        } else {
            ctx.write(pdu).addListener(f -> after.run());
        }
        flushPending = true;
    }

    private void flush() {
        if (flushPending) {
            flushPending = false;
            ctx.flush();
        }
    }

    private int exp() {
        return session.window().expCmdSN();
    }

    private void reject(int reason, byte[] header) {
        long w = session == null ? 0 : session.window().snapshot();
        send(new Reject(reason, statSN++, (int) (w >>> 32), (int) w, 0, Unpooled.wrappedBuffer(header)));
    }

    // ---------------------------------------------------------------- SCSI commands

    private void onScsiCommand(ScsiCommandPdu c) {
        if (!c.immediate() && !session.window().inWindow(c.cmdSN())) {
            LOG.debug("{}: SCSI command CmdSN {} outside [{}, {}]; dropped", remoteAddress(), c.cmdSN(),
                    session.window().expCmdSN(), session.window().maxCmdSN());
            return;
        }
        if (session.tasks().containsKey(c.itt())) {
            reject(Reject.TASK_IN_PROGRESS, decoder.lastHeader());
            return;
        }
        ScsiTask t = new ScsiTask(this, c);
        session.touchLun(t.lun);
        tasks.put(t.itt, t);
        session.tasks().put(t.itt, t);
        boolean ok = true;
        boolean noDirection = !t.read && !t.write && t.edtl != 0;
        if (t.write && t.edtl > options.maxCommandDataLength()) {
            ok = false;
        } else {
            ok = t.begin(c.data(), c.fin(), params.initialR2T(), params.firstBurstLength());
        }
        if (c.data().isReadable() && t.write) {
            metrics.bytesIn(session.target().name(), t.lun, c.data().readableBytes());
        }
        // The CmdSN of a command failed here still counts, so it goes through the window and is
        // discarded on admission.
        if (noDirection && ok) {
            // RFC 7143 §11.3.1: R and W "MUST NOT both be 0" when the Expected Data Transfer Length
            // is not 0. Executing it would answer GOOD for a write that wrote nothing or a read that
            // returned nothing: ILLEGAL REQUEST, INVALID FIELD IN CDB, as for a direction the CDB
            // does not have (the command layer's check).
            LOG.debug("{}: SCSI command opcode 0x{} with EDTL {} but neither R nor W", remoteAddress(),
                    Integer.toHexString(t.cdb[0] & 0xff), t.edtl);
            failTask(t, SenseReason.INVALID_FIELD_IN_CDB);
        } else if (!ok) {
            failTask(t, SenseReason.INVALID_FIELD_IN_COMMAND_INFORMATION_UNIT);
        }
        boolean counts = !c.immediate();
        gate(c.immediate(), c.cmdSN(), true, () -> session.order().admitted(t), () -> onAdmitted(t, counts),
                () -> finish(t));
        if (!t.finished) {
            sendR2ts(t);
            if (t.dataComplete()) {
                maybeExecute(t);
            }
        }
    }

    private void onAdmitted(ScsiTask t, boolean counts) {
        if (t.finished) {
            if (counts) {
                session.window().finished();
            }
            wake(session.order().leave(t));
            return;
        }
        t.counted = counts;
        t.admitted = true;
        maybeExecute(t);
    }

    private void sendR2ts(ScsiTask t) {
        if (!t.write) {
            return;
        }
        while (!t.finished && t.r2ts.size() < params.maxOutstandingR2T()) {
            int[] range = t.nextSolicitation(params.maxBurstLength());
            if (range == null) {
                break;
            }
            int ttt = nextTtt();
            ScsiTask.R2tState s = new ScsiTask.R2tState(ttt, t.nextR2tSN++, range[0], range[1]);
            t.r2ts.put(ttt, s);
            byTtt.put(ttt, t);
            long w = session.window().snapshot();
            send(new R2t(t.lunField, t.itt, ttt, statSN, (int) (w >>> 32), (int) w, s.r2tSN, s.offset, s.length));
        }
    }

    private int nextTtt() {
        int t = nextTtt++;
        if (nextTtt == Pdu.NO_TAG || nextTtt == 0) {
            nextTtt = 1;
        }
        return t;
    }

    private void onDataOut(DataOut d) {
        ScsiTask t;
        ScsiTask.R2tState r2t = null;
        if (d.ttt() == Pdu.NO_TAG) {
            t = tasks.get(d.itt());
        } else {
            t = byTtt.get(d.ttt());
            if (t != null) {
                r2t = t.r2ts.get(d.ttt());
            }
        }
        if (t == null || t.finished || t.itt != d.itt()) {
            LOG.debug("{}: Data-Out for unknown task ITT {} TTT {}; discarded", remoteAddress(), d.itt(), d.ttt());
            return;
        }
        if (t.aborted()) {
            return;
        }
        int len = d.data().readableBytes();
        ScsiTask.DataVerdict v = t.accept(d, r2t);
        switch (v) {
            case OK -> {
            }
            case SEQUENCE_DONE -> {
                if (r2t != null) {
                    t.r2ts.remove(r2t.ttt);
                    byTtt.remove(r2t.ttt);
                }
                sendR2ts(t);
            }
            case BAD_DATASN -> {
                LOG.info("{}: Data-Out DataSN {} out of order for ITT {}", remoteAddress(), d.dataSN(), t.itt);
                failTask(t, SenseReason.DATA_PHASE_ERROR);
                return;
            }
            case BAD_OFFSET -> {
                LOG.info("{}: Data-Out offset {} unexpected for ITT {}", remoteAddress(), d.bufferOffset(), t.itt);
                failTask(t, SenseReason.DATA_OFFSET_ERROR);
                return;
            }
            case OVERRUN -> {
                LOG.info("{}: Data-Out beyond the expected data for ITT {}", remoteAddress(), t.itt);
                failTask(t, SenseReason.DATA_PHASE_ERROR);
                return;
            }
            default -> throw new IllegalStateException(v.name());
        }
        metrics.bytesIn(session.target().name(), t.lun, len);
        if (t.dataComplete()) {
            maybeExecute(t);
        }
    }

    private void onDigestError(DigestErrorPdu d) {
        protocolLog("{}: data digest error on {} ITT {}", remoteAddress(), d.received(), d.itt());
        reject(Reject.DATA_DIGEST_ERROR, d.header());
        if (d.received() == Opcode.SCSI_DATA_OUT || d.received() == Opcode.SCSI_COMMAND) {
            ScsiTask t = tasks.get(d.itt());
            if (t != null && !t.finished && !t.executing) {
                failTask(t, SenseReason.PROTOCOL_SERVICE_CRC_ERROR);
            }
        }
    }

    private void maybeExecute(ScsiTask t) {
        if (!t.admitted || !t.dataComplete() || t.executing || t.finished) {
            return;
        }
        if (t.aborted()) {
            finish(t);
            return;
        }
        if (!session.order().tryDispatch(t)) {
            return;
        }
        List<ScsiTask> unblocked = session.order().leave(t);
        t.executing = true;
        ScsiTarget scsi = session.target().scsi();
        ScsiCommand cmd = new ScsiCommand(session.nexus(), t.lun, t.trimmedCdb(), TaskAttribute.fromIscsi(t.attr),
                t.edtl, t.read, t.write, t.dataOut(), t.itt & 0xffffffffL);
        CompletableFuture<ScsiResponse> f;
        try {
            f = scsi.execute(cmd);
        } catch (RuntimeException e) {
            LOG.error("SCSI layer threw for opcode 0x{}", Integer.toHexString(cmd.opcode()), e);
            f = CompletableFuture.failedFuture(e);
        }
        // Younger tasks that waited for this one are handed over only after it.
        wake(unblocked);
        f.whenComplete((r, ex) -> onLoop(() -> completed(t, r, ex)));
    }

    private void completed(ScsiTask t, ScsiResponse r, Throwable ex) {
        t.executing = false;
        t.recycleData();
        if (t.aborted() || phase == Phase.CLOSING) {
            if (r != null) {
                r.releaseData();
            }
            finish(t);
            return;
        }
        if (ex != null || r == null) {
            LOG.error("SCSI command 0x{} failed without sense", Integer.toHexString(t.cdb[0] & 0xff), ex);
            r = new ScsiResponse(ScsiResponse.CHECK_CONDITION,
                    SenseData.build(SenseReason.INTERNAL_TARGET_FAILURE, false), null, 0);
        }
        if (t.counted) {
            // The slot opens before the response leaves, so the response already carries the new MaxCmdSN.
            t.counted = false;
            session.window().finished();
        }
        sendResult(t, r);
        finish(t);
        if (!runningBatch) {
            flush();
        }
    }

    /**
     * Sends the result (RFC 7143 §11.4, §11.7): Data-In PDUs no longer than the initiator's
     * MaxRecvDataSegmentLength, F at each MaxBurstLength boundary, the status in the last Data-In
     * when there is no sense, otherwise a SCSI Response with the sense data; residuals against EDTL.
     */
    private void sendResult(ScsiTask t, ScsiResponse r) {
        ByteBuffer in = r.dataIn();
        int available = in == null ? 0 : in.remaining();
        long residual;
        if (available > 0) {
            residual = (long) t.edtl - available;
        } else if (r.dataOutLength() > 0) {
            residual = (long) t.edtl - r.dataOutLength();
        } else {
            residual = t.edtl;
        }
        int toSend = t.read ? Math.min(available, t.edtl) : 0;
        boolean statusInData = toSend > 0 && r.sense() == null;
        int segment = Math.max(512, params.initiatorMaxRecvDataSegmentLength());
        int burst = Math.max(512, params.maxBurstLength());
        int dataSN = 0;
        int offset = 0;
        int burstStart = 0;
        ByteBuffer src = toSend > 0 ? in.duplicate() : null;
        int base = src == null ? 0 : src.position();
        long w = session.window().snapshot();
        while (offset < toSend) {
            int len = Math.min(segment, Math.min(toSend - offset, burstStart + burst - offset));
            boolean last = offset + len == toSend;
            boolean endOfBurst = last || offset + len == burstStart + burst;
            ByteBuffer slice = src.duplicate();
            slice.limit(base + offset + len).position(base + offset);
            boolean status = last && statusInData;
            DataIn pdu = new DataIn(endOfBurst, status, r.status(), t.lunField, t.itt, status ? statSN++ : statSN,
                    (int) (w >>> 32), (int) w, dataSN++, offset, residual, Unpooled.wrappedBuffer(slice));
            if (last && r.release() != null) {
                // Writes leave in order: once the last Data-In is written (or failed), no PDU
                // refers to the response's memory any more.
                sendThen(pdu, r.release());
            } else {
                send(pdu);
            }
            offset += len;
            if (endOfBurst) {
                burstStart = offset;
            }
        }
        if (toSend > 0) {
            metrics.bytesOut(session.target().name(), t.lun, toSend);
        } else {
            r.releaseData();
        }
        if (!statusInData) {
            ByteBuf sense = Unpooled.EMPTY_BUFFER;
            if (r.sense() != null && r.sense().length > 0) {
                sense = Unpooled.buffer(2 + r.sense().length).writeShort(r.sense().length).writeBytes(r.sense());
            }
            // ExpDataSN counts the Data-In and R2T PDUs sent for the command (RFC 7143 §11.4.6).
            send(new ScsiResponsePdu(0, r.status(), t.itt, statSN++, (int) (w >>> 32), (int) w,
                    dataSN + t.nextR2tSN, residual, sense));
        }
        metrics.commandCompleted(session.target().name(), t.lun, t.cdb[0] & 0xff, r.status(),
                System.nanoTime() - t.startNanos);
    }

    /**
     * Ends a task with CHECK CONDITION detected by the transport itself; the sense bytes come from
     * the SCSI core's one table (fixed format: the LU's D_SENSE is not the transport's to know).
     */
    private void failTask(ScsiTask t, SenseReason reason) {
        if (t.finished) {
            return;
        }
        if (!t.aborted()) {
            long w = session.window().snapshot();
            ByteBuf sense = Unpooled.buffer(20);
            byte[] s = SenseData.build(reason, false);
            sense.writeShort(s.length).writeBytes(s);
            send(new ScsiResponsePdu(0, ScsiResponse.CHECK_CONDITION, t.itt, statSN++, (int) (w >>> 32), (int) w,
                    t.nextR2tSN, t.edtl, sense));
        }
        finish(t);
    }

    private void finish(ScsiTask t) {
        if (t.finished) {
            return;
        }
        t.finished = true;
        tasks.remove(t.itt, t);
        session.tasks().remove(t.itt, t);
        for (Integer ttt : t.r2ts.keySet()) {
            byTtt.remove(ttt);
        }
        t.r2ts.clear();
        t.buffer = null;
        wake(session.order().leave(t));
        if (t.counted) {
            session.window().finished();
        }
        t.terminated.complete(null);
    }

    /** Lets tasks that waited for an older one try again, each on its own connection's loop. */
    private static void wake(List<ScsiTask> tasks) {
        for (ScsiTask w : tasks) {
            w.owner.onLoop(() -> w.owner.maybeExecute(w));
        }
    }

    /** Called (possibly from another thread) after {@link ScsiTask#abort()}. */
    void abortOnLoop(ScsiTask t) {
        onLoop(() -> {
            if (!t.executing) {
                finish(t);
            }
        });
    }

    // ---------------------------------------------------------------- NOP

    private void onNopOut(NopOut n) {
        if (n.ttt() != Pdu.NO_TAG) {
            if (n.ttt() == pingTtt) {
                pingTtt = Pdu.NO_TAG;
            }
            return;
        }
        if (n.itt() == Pdu.NO_TAG) {
            return;
        }
        int limit = Math.max(512, params.initiatorMaxRecvDataSegmentLength());
        ByteBuf echo = n.data().retainedSlice(n.data().readerIndex(), Math.min(limit, n.data().readableBytes()));
        gate(n.immediate(), n.cmdSN(), false, () -> {
            long w = session.window().snapshot();
            send(new NopIn(n.lunField(), n.itt(), Pdu.NO_TAG, statSN++, (int) (w >>> 32), (int) w, echo));
            flush();
        }, echo::release);
    }

    private void startTicker() {
        long interval = options.nopInInterval().toMillis();
        if (interval <= 0) {
            return;
        }
        long timeout = options.nopInTimeout().toMillis();
        long period = Math.max(50, Math.min(interval, timeout) / 2);
        ticker = loop.scheduleAtFixedRate(this::tick, period, period, TimeUnit.MILLISECONDS);
    }

    private void tick() {
        if (phase != Phase.FULL_FEATURE) {
            return;
        }
        long now = System.nanoTime();
        if (pingTtt != Pdu.NO_TAG) {
            if (now - pingSentNanos > options.nopInTimeout().toNanos()) {
                LOG.warn("{}: no answer to NOP-In within {} ms; dropping the connection", remoteAddress(),
                        options.nopInTimeout().toMillis());
                phase = Phase.CLOSING;
                channel.close();
            }
            return;
        }
        if (now - lastReadNanos >= options.nopInInterval().toNanos()) {
            pingTtt = nextTtt();
            pingSentNanos = now;
            long w = session.window().snapshot();
            send(new NopIn(0, Pdu.NO_TAG, pingTtt, statSN, (int) (w >>> 32), (int) w, Unpooled.EMPTY_BUFFER));
            flush();
        }
    }

    // ---------------------------------------------------------------- text

    private void onText(TextRequest t, byte[] text) {
        if (t.ttt() != Pdu.NO_TAG) {
            if (t.ttt() != textTtt || t.itt() != textItt) {
                reject(Reject.INVALID_PDU_FIELD, decoder.lastHeader());
                flush();
                return;
            }
            if (textOut != null) {
                sendTextChunk(t);
                flush();
                return;
            }
        } else {
            textOut = null;
            textIn.reset();
            textItt = t.itt();
        }
        textTtt = Pdu.NO_TAG;
        textIn.writeBytes(text);
        if (textIn.size() > 65536) {
            textIn.reset();
            reject(Reject.PROTOCOL_ERROR, decoder.lastHeader());
            return;
        }
        if (t.cont()) {
            // RFC 7143 §11.10.2: acknowledge with an empty response and a TTT; the initiator continues.
            textTtt = nextTtt();
            long w = session.window().snapshot();
            send(new TextResponse(false, false, t.lunField(), t.itt(), textTtt, statSN++, (int) (w >>> 32),
                    (int) w, Unpooled.EMPTY_BUFFER));
            flush();
            return;
        }
        List<Map.Entry<String, String>> pairs = TextParams.parse(textIn.toByteArray());
        textIn.reset();
        List<Map.Entry<String, String>> answer = new ArrayList<>();
        for (Map.Entry<String, String> e : pairs) {
            String key = e.getKey();
            if ("SendTargets".equals(key)) {
                List<Map.Entry<String, String>> targets = SendTargets.answer(e.getValue(), server.catalog(),
                        session.initiatorName(), session.target(), (InetSocketAddress) channel.localAddress());
                if (targets == null) {
                    answer.add(Map.entry(key, KeyNegotiator.REJECT));
                } else {
                    answer.addAll(targets);
                }
            } else if ("MaxRecvDataSegmentLength".equals(key)) {
                Long v = e.getValue() == null ? null : KeyNegotiator.number(e.getValue());
                if (v == null || v < 512 || v > 16777215) {
                    answer.add(Map.entry(key, KeyNegotiator.REJECT));
                } else {
                    params = params.with(key, Long.toString(v));
                }
            } else if (LoginKey.find(key) != null || LoginKey.CHAP_KEYS.contains(key)) {
                answer.add(Map.entry(key, KeyNegotiator.REJECT));
            } else {
                answer.add(Map.entry(key, KeyNegotiator.NOT_UNDERSTOOD));
            }
        }
        textOut = TextParams.encode(answer);
        textOutPos = 0;
        sendTextChunk(t);
        flush();
    }

    private void sendTextChunk(TextRequest t) {
        int limit = Math.max(512, params.initiatorMaxRecvDataSegmentLength());
        int len = Math.min(limit, textOut.length - textOutPos);
        boolean last = textOutPos + len == textOut.length;
        ByteBuf chunk = Unpooled.wrappedBuffer(textOut, textOutPos, len);
        textOutPos += len;
        textTtt = last ? Pdu.NO_TAG : nextTtt();
        long w = session.window().snapshot();
        send(new TextResponse(last, !last, t.lunField(), t.itt(), textTtt, statSN++, (int) (w >>> 32), (int) w,
                chunk));
        if (last) {
            textOut = null;
        }
    }

    // ---------------------------------------------------------------- task management

    private void onTaskManagement(TaskMgmtRequest m) {
        ScsiTarget scsi = session.target().scsi();
        long lun = m.lun();
        List<ScsiTask> affected = new ArrayList<>();
        int response = TaskMgmtResponse.FUNCTION_COMPLETE;
        Runnable after = () -> { };
        switch (m.function()) {
            case TaskMgmtRequest.ABORT_TASK -> {
                ScsiTask t = session.tasks().get(m.referencedTaskTag());
                if (t != null && !t.finished && t.lun == lun) {
                    affected.add(t);
                } else if (t == null && session.window().inWindow(m.refCmdSN())
                        && (m.immediate() || CmdSnWindow.after(m.cmdSN(), m.refCmdSN()))) {
                    List<Runnable> run = new ArrayList<>();
                    session.window().consume(m.refCmdSN(), run);
                    run.forEach(Runnable::run);
                } else {
                    response = TaskMgmtResponse.TASK_DOES_NOT_EXIST;
                }
            }
            case TaskMgmtRequest.ABORT_TASK_SET, TaskMgmtRequest.CLEAR_TASK_SET -> {
                if (!scsi.hasLun(session.nexus(), lun)) {
                    response = TaskMgmtResponse.LUN_DOES_NOT_EXIST;
                    break;
                }
                boolean all = m.function() == TaskMgmtRequest.CLEAR_TASK_SET;
                for (IscsiSession s : all ? sameTarget() : List.of(session)) {
                    s.tasks().values().stream().filter(x -> x.lun == lun).forEach(affected::add);
                }
                after = () -> scsi.taskSetCleared(session.nexus(), lun, all);
            }
            case TaskMgmtRequest.LOGICAL_UNIT_RESET -> {
                if (!scsi.hasLun(session.nexus(), lun)) {
                    response = TaskMgmtResponse.LUN_DOES_NOT_EXIST;
                    break;
                }
                for (IscsiSession s : sameTarget()) {
                    s.tasks().values().stream().filter(x -> x.lun == lun).forEach(affected::add);
                }
                after = () -> scsi.logicalUnitReset(session.nexus(), lun);
            }
            case TaskMgmtRequest.TARGET_WARM_RESET, TaskMgmtRequest.TARGET_COLD_RESET -> {
                boolean cold = m.function() == TaskMgmtRequest.TARGET_COLD_RESET;
                for (IscsiSession s : sameTarget()) {
                    affected.addAll(s.tasks().values());
                }
                after = () -> scsi.targetReset(session.nexus(), cold);
            }
            case TaskMgmtRequest.CLEAR_ACA -> response = TaskMgmtResponse.NOT_SUPPORTED;
            case TaskMgmtRequest.TASK_REASSIGN -> response = TaskMgmtResponse.REASSIGNMENT_NOT_SUPPORTED;
            default -> response = TaskMgmtResponse.REJECTED;
        }
        LOG.info("{}: task management function {} LUN {} -> response {} ({} tasks aborted)", remoteAddress(),
                m.function(), lun, response, affected.size());
        int finalResponse = response;
        Runnable hook = after;
        CompletableFuture<?>[] done = affected.stream().map(ScsiTask::abort).toArray(CompletableFuture[]::new);
        CompletableFuture.allOf(done).whenComplete((v, ex) -> onLoop(() -> {
            if (finalResponse == TaskMgmtResponse.FUNCTION_COMPLETE) {
                hook.run();
            }
            if (phase == Phase.CLOSING) {
                return;
            }
            long w = session.window().snapshot();
            send(new TaskMgmtResponse(finalResponse, m.itt(), statSN++, (int) (w >>> 32), (int) w));
            flush();
            if (m.function() == TaskMgmtRequest.TARGET_COLD_RESET && finalResponse == 0) {
                for (IscsiSession s : sameTarget()) {
                    s.drop("target cold reset");
                }
            }
        }));
    }

    private List<IscsiSession> sameTarget() {
        String name = session.target().name();
        return server.registry().sessions().stream()
                .filter(s -> !s.discovery() && s.target().name().equalsIgnoreCase(name)).toList();
    }

    // ---------------------------------------------------------------- logout

    private void onLogout(LogoutRequest l) {
        int reason = l.reason();
        if (reason == LogoutRequest.REMOVE_FOR_RECOVERY) {
            sendLogoutResponse(l, LogoutResponse.RECOVERY_NOT_SUPPORTED);
            flush();
            return;
        }
        if (reason == LogoutRequest.CLOSE_CONNECTION && l.cid() != cid) {
            IscsiConnection other = session.connections().stream().filter(c -> c.cid() == l.cid()).findFirst()
                    .orElse(null);
            if (other == null) {
                sendLogoutResponse(l, LogoutResponse.CID_NOT_FOUND);
            } else {
                other.closeNow("logged out by CID " + cid);
                sendLogoutResponse(l, LogoutResponse.CLOSED);
            }
            flush();
            return;
        }
        if (reason != LogoutRequest.CLOSE_SESSION && reason != LogoutRequest.CLOSE_CONNECTION) {
            reject(Reject.INVALID_PDU_FIELD, decoder.lastHeader());
            flush();
            return;
        }
        List<CompletableFuture<Void>> pending = new ArrayList<>();
        for (ScsiTask t : tasks.values()) {
            pending.add(t.terminated);
        }
        CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new))
                .orTimeout(10, TimeUnit.SECONDS)
                .whenComplete((v, ex) -> onLoop(() -> {
                    if (!channel.isActive()) {
                        return;
                    }
                    phase = Phase.CLOSING;
                    if (ticker != null) {
                        ticker.cancel(false);
                    }
                    long w = session.window().snapshot();
                    ctx.writeAndFlush(new LogoutResponse(LogoutResponse.CLOSED, l.itt(), statSN++, (int) (w >>> 32),
                            (int) w, 0, 0)).addListener(ChannelFutureListener.CLOSE);
                    String line = "logout: {} TSIH {} CID {} ({})";
                    Object[] args = {session.initiatorName(), session.tsih(), cid,
                        reason == LogoutRequest.CLOSE_SESSION ? "session" : "connection"};
                    if (session.discovery()) {
                        server.loginLog().info(source, line, args);
                    } else {
                        LOG.info(line, args);
                    }
                    if (reason == LogoutRequest.CLOSE_SESSION) {
                        for (IscsiConnection c : session.connections()) {
                            if (c != this) {
                                c.closeNow("session logged out");
                            }
                        }
                    }
                }));
    }

    private void sendLogoutResponse(LogoutRequest l, int response) {
        long w = session.window().snapshot();
        send(new LogoutResponse(response, l.itt(), statSN++, (int) (w >>> 32), (int) w,
                params.defaultTime2Wait(), params.defaultTime2Retain()));
    }
}
