package io.orion.dedup.iscsi.session;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import io.orion.dedup.iscsi.IscsiMetrics;
import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.login.SessionParams;
import io.orion.dedup.iscsi.pdu.AsyncMessage;
import io.orion.dedup.iscsi.pdu.DataOut;
import io.orion.dedup.iscsi.pdu.DigestErrorPdu;
import io.orion.dedup.iscsi.pdu.Framing;
import io.orion.dedup.iscsi.pdu.InboundPdu;
import io.orion.dedup.iscsi.pdu.LoginRequest;
import io.orion.dedup.iscsi.pdu.LogoutRequest;
import io.orion.dedup.iscsi.pdu.LogoutResponse;
import io.orion.dedup.iscsi.pdu.NopOut;
import io.orion.dedup.iscsi.pdu.Opcode;
import io.orion.dedup.iscsi.pdu.OutboundPdu;
import io.orion.dedup.iscsi.pdu.Pdu;
import io.orion.dedup.iscsi.pdu.PduDecoder;
import io.orion.dedup.iscsi.pdu.PduFormatException;
import io.orion.dedup.iscsi.pdu.R2t;
import io.orion.dedup.iscsi.pdu.Reject;
import io.orion.dedup.iscsi.pdu.ScsiCommandPdu;
import io.orion.dedup.iscsi.pdu.SnackRequest;
import io.orion.dedup.iscsi.pdu.TaskMgmtRequest;
import io.orion.dedup.iscsi.pdu.TextParams;
import io.orion.dedup.iscsi.pdu.TextRequest;
import io.orion.dedup.iscsi.pdu.UnknownPdu;
import io.orion.dedup.logging.RateLimitedLog;
import io.orion.dedup.scsi.ScsiCommand;
import io.orion.dedup.scsi.ScsiResponse;
import io.orion.dedup.scsi.ScsiTarget;
import io.orion.dedup.scsi.SenseData;
import io.orion.dedup.scsi.SenseReason;
import io.orion.dedup.scsi.TaskAttribute;
import io.orion.dedup.blockdev.IoBatch;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One iSCSI connection (RFC 7143 §4.2, §5): the login phase, then the full-feature phase. It
 * receives every PDU and hands each job to its part: login ({@link LoginPhase}), text and
 * SendTargets ({@link TextExchange}), task management ({@link TaskManagement}), Data-In and
 * responses ({@link DataInSender}), NOP keep-alive ({@link KeepAlive}). It keeps what they share:
 * the channel, the output (send/flush), CmdSN ordering of requests, the sequence numbers
 * ({@link SequenceNumbers}: StatSN is stamped there and only there; responses leave in StatSN order
 * because everything is sent from this connection's event loop), and the SCSI command flow: the
 * tasks that arrived on it (connection allegiance, each with its {@link ScsiTask.State}), R2T and
 * Data-Out, execution, and logout.
 *
 * <p>Threads: all state is confined to the channel's event loop. SCSI commands run on the command
 * layer's executor ({@link ScsiTarget#execute} never blocks); their completion hops back here.
 * The session's CmdSN window and task table are shared with the session's other connections and
 * are thread-safe.
 */
public final class IscsiConnection extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(IscsiConnection.class);
    /** Protocol error lines of one kind per connection and window before they are only counted. */
    static final int PROTOCOL_LOG_BURST = 5;
    static final long PROTOCOL_LOG_WINDOW_SECONDS = 10;

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
    private final SequenceNumbers seq;
    private final LoginPhase loginPhase;
    private final TextExchange text = new TextExchange(this);
    private final TaskManagement taskManagement = new TaskManagement(this);
    private final DataInSender dataIn;
    private final KeepAlive keepAlive;
    private IscsiSession session;
    private SessionParams params;
    private int cid;
    private int nextTtt = 1;
    private boolean flushPending;
    /** True while channelReadComplete runs the read's batch, which flushes once after it. */
    private boolean runningBatch;
    /** The commands decoded from the socket read in progress (event loop only; null between reads). */
    private IoBatch batch;
    private final Map<Integer, ScsiTask> tasks = new HashMap<>();
    /** Protocol error lines of this connection, rate-limited per kind (a hostile peer cannot flood the log). */
    private final RateLimitedLog protocolLog = new RateLimitedLog(LOG, PROTOCOL_LOG_BURST,
            TimeUnit.SECONDS.toNanos(PROTOCOL_LOG_WINDOW_SECONDS));
    private final Map<Integer, ScsiTask> byTtt = new HashMap<>();

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
        this.seq = new SequenceNumbers(server.random().nextInt() & 0x7fffffff);
        this.loginPhase = new LoginPhase(this, metrics);
        this.dataIn = new DataInSender(this, metrics);
        this.keepAlive = new KeepAlive(this, options);
    }

    int cid() {
        return cid;
    }

    // ---------------------------------------------------------------- what the parts share

    void cid(int c) {
        this.cid = c;
    }

    ServerContext server() {
        return server;
    }

    Channel channel() {
        return channel;
    }

    ChannelHandlerContext ctx() {
        return ctx;
    }

    EventLoop loop() {
        return loop;
    }

    InetAddress source() {
        return source;
    }

    IscsiSession session() {
        return session;
    }

    SessionParams params() {
        return params;
    }

    /** Parameters renegotiated in the full-feature phase (a text request's MaxRecvDataSegmentLength). */
    void params(SessionParams p) {
        this.params = p;
    }

    SequenceNumbers seq() {
        return seq;
    }

    byte[] lastHeader() {
        return decoder.lastHeader();
    }

    boolean inFullFeature() {
        return phase == Phase.FULL_FEATURE;
    }

    boolean isClosing() {
        return phase == Phase.CLOSING;
    }

    /** No more requests are served: the connection is closing (its close may be under way). */
    void markClosing() {
        phase = Phase.CLOSING;
    }

    /** Marks the connection closing and closes it (on its loop). */
    void closeFromLoop() {
        phase = Phase.CLOSING;
        channel.close();
    }

    /** The login succeeded: the connection serves {@code s} with the negotiated {@code p}. */
    void enterFullFeature(IscsiSession s, SessionParams p) {
        session = s;
        params = p;
        protocolLog.who(s.initiatorName() + " (" + remoteAddress() + ")");
        framing.digests(p.headerDigest(), p.dataDigest());
        framing.maxInboundSegment(p.targetMaxRecvDataSegmentLength());
        phase = Phase.FULL_FEATURE;
        loginTimer.cancel(false);
        leavePendingLogins();
        keepAlive.start();
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
        dispatchBatch();
        leavePendingLogins();
        phase = Phase.CLOSING;
        keepAlive.stop();
        if (loginTimer != null) {
            loginTimer.cancel(false);
        }
        for (ScsiTask t : new ArrayList<>(tasks.values())) {
            t.abort();
            abortOnLoop(t);
        }
        text.clear();
        protocolLog.flush();
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
        dispatchBatch();
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
            SequenceNumbers.Stamp s = seq.take();
            send(new AsyncMessage(0, s.statSN(), s.expCmdSN(), s.maxCmdSN(), AsyncMessage.LOGOUT_REQUESTED, 0, 0, 0,
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
        keepAlive.heard();
        // writes decoded from this socket read go to an I/O thread together (channelReadComplete)
        if (batch == null) {
            batch = new IoBatch();
        }
        try {
            switch (phase) {
                case LOGIN -> {
                    if (pdu instanceof LoginRequest req) {
                        loginPhase.onLogin(req);
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
            dispatchBatch();
        } finally {
            runningBatch = false;
        }
        flush();
        ctx.fireChannelReadComplete();
    }

    /** Sends the commands of the socket read just decoded on their way (IoBatch), if any. */
    private void dispatchBatch() {
        IoBatch b = batch;
        batch = null;
        if (b != null) {
            b.dispatch();
        }
    }

    private void dispatch(InboundPdu pdu) {
        if (pdu instanceof UnknownPdu u) {
            protocolLog("unknown opcode", "{} sent unknown opcode 0x{}; rejected", remoteAddress(), Integer.toHexString(u.code()));
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
            keepAlive.onNopOut(n);
        } else if (pdu instanceof TaskMgmtRequest m) {
            gate(m.immediate(), m.cmdSN(), false, () -> taskManagement.onRequest(m), () -> { });
        } else if (pdu instanceof TextRequest t) {
            byte[] bytes = TextParams.bytes(t.data());
            gate(t.immediate(), t.cmdSN(), false, () -> text.onText(t, bytes), () -> { });
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
     * be unauthenticated), per connection and {@code kind} otherwise (see {@link RateLimitedLog}).
     */
    private void protocolLog(String kind, String format, Object... args) {
        if (session != null && session.discovery()) {
            server.loginLog().info(source, format, args);
        } else {
            protocolLog.info(kind, format, args);
        }
    }

    private static String describe(InboundPdu pdu) {
        return pdu.opcode() == null ? "an unknown opcode" : pdu.opcode().name();
    }

    /**
     * Runs a request in CmdSN order (RFC 7143 §3.2.2.1): immediate requests at once; others when
     * their CmdSN is next; out-of-window ones are dropped silently.
     */
    void gate(boolean immediate, int cmdSN, boolean counts, Runnable action, Runnable onDrop) {
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

    void onLoop(Runnable r) {
        if (loop.inEventLoop()) {
            r.run();
        } else {
            loop.execute(r);
        }
    }

    // ---------------------------------------------------------------- output helpers

    void send(OutboundPdu pdu) {
        sendThen(pdu, null);
    }

    /** Sends a PDU and runs {@code after} (if not null) once it has been written or has failed. */
    void sendThen(OutboundPdu pdu, Runnable after) {
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

    void flush() {
        if (flushPending) {
            flushPending = false;
            ctx.flush();
        }
    }

    void reject(int reason, byte[] header) {
        SequenceNumbers.Stamp s = seq.take();
        send(new Reject(reason, s.statSN(), s.expCmdSN(), s.maxCmdSN(), 0, Unpooled.wrappedBuffer(header)));
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
        // EDTL is unsigned (RFC 7143 §11.3.4): 2^31 and more is longer than any write we take, not negative
        if (t.write && Integer.compareUnsigned(t.edtl, options.maxCommandDataLength()) > 0) {
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
        if (!t.isFinished()) {
            sendR2ts(t);
            if (t.dataComplete()) {
                maybeExecute(t);
            }
        }
    }

    private void onAdmitted(ScsiTask t, boolean counts) {
        if (t.isFinished()) {
            if (counts) {
                session.window().finished();
            }
            wake(session.order().leave(t));
            return;
        }
        t.admit(counts);
        maybeExecute(t);
    }

    private void sendR2ts(ScsiTask t) {
        if (!t.write) {
            return;
        }
        while (!t.isFinished() && t.r2ts.size() < params.maxOutstandingR2T()) {
            int[] range = t.nextSolicitation(params.maxBurstLength());
            if (range == null) {
                break;
            }
            int ttt = nextTtt();
            ScsiTask.R2tState s = new ScsiTask.R2tState(ttt, t.nextR2tSN++, range[0], range[1]);
            t.r2ts.put(ttt, s);
            byTtt.put(ttt, t);
            SequenceNumbers.Stamp st = seq.peek();
            send(new R2t(t.lunField, t.itt, ttt, st.statSN(), st.expCmdSN(), st.maxCmdSN(), s.r2tSN, s.offset,
                    s.length));
        }
    }

    int nextTtt() {
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
        if (t == null || t.isFinished() || t.itt != d.itt()) {
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
                protocolLog("Data-Out error", "{}: Data-Out DataSN {} out of order for ITT {}", remoteAddress(), d.dataSN(), t.itt);
                failTask(t, SenseReason.DATA_PHASE_ERROR);
                return;
            }
            case BAD_OFFSET -> {
                protocolLog("Data-Out error", "{}: Data-Out offset {} unexpected for ITT {}", remoteAddress(), d.bufferOffset(), t.itt);
                failTask(t, SenseReason.DATA_OFFSET_ERROR);
                return;
            }
            case OVERRUN -> {
                protocolLog("Data-Out error", "{}: Data-Out beyond the expected data for ITT {}", remoteAddress(), t.itt);
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
        protocolLog("digest error", "{}: data digest error on {} ITT {}", remoteAddress(), d.received(), d.itt());
        reject(Reject.DATA_DIGEST_ERROR, d.header());
        if (d.received() == Opcode.SCSI_DATA_OUT || d.received() == Opcode.SCSI_COMMAND) {
            ScsiTask t = tasks.get(d.itt());
            if (t != null && (t.state() == ScsiTask.State.RECEIVING || t.state() == ScsiTask.State.ADMITTED)) {
                failTask(t, SenseReason.PROTOCOL_SERVICE_CRC_ERROR);
            }
        }
    }

    private void maybeExecute(ScsiTask t) {
        if (t.state() != ScsiTask.State.ADMITTED || !t.dataComplete()) {
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
        t.startExecuting();
        ScsiTarget scsi = session.target().scsi();
        ScsiCommand cmd = new ScsiCommand(session.nexus(), t.lun, t.trimmedCdb(), TaskAttribute.fromIscsi(t.attr),
                t.edtl, t.read, t.write, t.dataOut(), t.itt & 0xffffffffL);
        CompletableFuture<ScsiResponse> f;
        try {
            f = scsi.execute(cmd, batch);
        } catch (RuntimeException e) {
            LOG.error("SCSI layer threw for opcode 0x{}", Integer.toHexString(cmd.opcode()), e);
            f = CompletableFuture.failedFuture(e);
        }
        // Younger tasks that waited for this one are handed over only after it.
        wake(unblocked);
        f.whenComplete((r, ex) -> onLoop(() -> completed(t, r, ex)));
    }

    private void completed(ScsiTask t, ScsiResponse r, Throwable ex) {
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
        if (t.releaseSlot()) {
            // The slot opens before the response leaves, so the response already carries the new MaxCmdSN.
            session.window().finished();
        }
        dataIn.sendResult(t, r);
        finish(t);
        if (!runningBatch) {
            flush();
        }
    }

    /**
     * Ends a task with CHECK CONDITION detected by the transport itself; the sense bytes come from
     * the SCSI core's one table (fixed format: the LU's D_SENSE is not the transport's to know).
     */
    private void failTask(ScsiTask t, SenseReason reason) {
        if (t.isFinished()) {
            return;
        }
        if (!t.aborted()) {
            dataIn.sendCheckCondition(t, reason);
        }
        finish(t);
    }

    private void finish(ScsiTask t) {
        if (!t.finish()) {
            return;
        }
        tasks.remove(t.itt, t);
        session.tasks().remove(t.itt, t);
        for (Integer ttt : t.r2ts.keySet()) {
            byTtt.remove(ttt);
        }
        t.r2ts.clear();
        t.buffer = null;
        wake(session.order().leave(t));
        if (t.releaseSlot()) {
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
            if (t.state() != ScsiTask.State.EXECUTING) {
                finish(t);
            }
        });
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
                    keepAlive.stop();
                    SequenceNumbers.Stamp s = seq.take();
                    ctx.writeAndFlush(new LogoutResponse(LogoutResponse.CLOSED, l.itt(), s.statSN(), s.expCmdSN(),
                            s.maxCmdSN(), 0, 0)).addListener(ChannelFutureListener.CLOSE);
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
        SequenceNumbers.Stamp s = seq.take();
        send(new LogoutResponse(response, l.itt(), s.statSN(), s.expCmdSN(), s.maxCmdSN(),
                params.defaultTime2Wait(), params.defaultTime2Retain()));
    }
}
