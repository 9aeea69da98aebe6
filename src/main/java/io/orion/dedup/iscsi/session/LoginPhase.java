package io.orion.dedup.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.orion.dedup.iscsi.IscsiMetrics;
import io.orion.dedup.iscsi.LogText;
import io.orion.dedup.iscsi.login.LoginNegotiator;
import io.orion.dedup.iscsi.login.LoginStatus;
import io.orion.dedup.iscsi.login.SessionParams;
import io.orion.dedup.iscsi.pdu.LoginRequest;
import io.orion.dedup.iscsi.pdu.LoginResponse;
import io.orion.dedup.iscsi.pdu.TextParams;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection's login phase (RFC 7143 §6): each Login Request goes to the {@link LoginNegotiator}
 * (security and operational negotiation, CHAP, the target's ACLs); its answer goes back as a Login
 * Response; a failure is logged once (rate-limited per source) and closes the connection; on success
 * the session is bound (a new one, or a connection added to an existing one) and the connection
 * enters the full-feature phase with the negotiated parameters.
 *
 * <p>Threads: the connection's event loop only.
 */
final class LoginPhase {

    /** Logs as the connection did before this part was split off. */
    private static final Logger LOG = LoggerFactory.getLogger(IscsiConnection.class);

    private final IscsiConnection conn;
    private final IscsiMetrics metrics;
    private LoginNegotiator login;

    LoginPhase(IscsiConnection conn, IscsiMetrics metrics) {
        this.conn = conn;
        this.metrics = metrics;
    }

    void onLogin(LoginRequest req) {
        ServerContext server = conn.server();
        if (login == null) {
            conn.cid(req.cid());
            login = new LoginNegotiator(server.catalog(), server.options(), server.chapLimiter(), server.random(),
                    server.registry()::admit, (InetSocketAddress) conn.channel().localAddress(),
                    conn.channel().remoteAddress() instanceof InetSocketAddress a ? a : null);
        }
        LoginNegotiator.Step step = login.step(req, TextParams.bytes(req.data()));
        if (step.status() != 0) {
            fail(req, step.status());
            return;
        }
        if (!step.complete()) {
            respond(req, step, req.tsih(), conn.seq().take(req.cmdSN(),
                    req.cmdSN() + server.registry().queueDepth(login) - 1));
            conn.flush();
            return;
        }
        IscsiSession s = server.registry().bind(login, req.cmdSN(), this.conn);
        if (s == null) {
            fail(req, LoginStatus.SESSION_DOES_NOT_EXIST);
            return;
        }
        SessionParams params = login.params();
        conn.seq().session(s);
        respond(req, step, s.tsih(), conn.seq().take());
        conn.flush();
        conn.enterFullFeature(s, params);
        login = null;
        metrics.loginSucceeded(s.initiatorName(), s.discovery() ? null : s.target().name(), s.discovery());
        String line = "login: {} ISID {} TSIH {} CID {} {} from {}{}{}";
        Object[] args = {s.initiatorName(), String.format("%012x", s.isid()), s.tsih(), conn.cid(),
            s.discovery() ? "discovery" : "target " + s.target().name(), conn.remoteAddress(),
            params.headerDigest() ? " HeaderDigest=CRC32C" : "", params.dataDigest() ? " DataDigest=CRC32C" : ""};
        if (s.discovery()) {
            // discovery may need no authentication: its lines share the per-source rate limit
            server.loginLog().info(conn.source(), line, args);
        } else {
            LOG.info(line, args);
        }
    }

    private void respond(LoginRequest req, LoginNegotiator.Step step, int tsih, SequenceNumbers.Stamp s) {
        ByteBuf text = TextParams.toBuffer(step.answer());
        conn.send(new LoginResponse(step.transit(), false, step.csg(), step.nsg(), 0, 0, req.isid(), tsih, req.itt(),
                s.statSN(), s.expCmdSN(), s.maxCmdSN(), 0, 0, text));
    }

    private void fail(LoginRequest req, int status) {
        String initiator = login == null ? null : login.initiatorName();
        String target = login == null || login.target() == null ? null : login.target().name();
        metrics.loginFailed(initiator, target, status);
        // One line per failed login, rate-limited per source address; the name is escaped and the
        // reason holds no CHAP name or secret.
        conn.server().loginLog().info(conn.source(), "login from {} (InitiatorName {}) failed with status 0x{}: {}",
                conn.remoteAddress(), LogText.of(initiator),
                String.format("%04x", status), login == null || login.failure() == null ? "-" : login.failure());
        conn.markClosing();
        SequenceNumbers.Stamp s = conn.seq().take(req.cmdSN(), req.cmdSN());
        conn.ctx().writeAndFlush(new LoginResponse(false, false, req.csg(), 0, 0, 0, req.isid(), req.tsih(), req.itt(),
                s.statSN(), s.expCmdSN(), s.maxCmdSN(), status >> 8, status & 0xff, Unpooled.EMPTY_BUFFER))
                .addListener(ChannelFutureListener.CLOSE);
    }
}
