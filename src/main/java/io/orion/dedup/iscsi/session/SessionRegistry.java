package io.orion.dedup.iscsi.session;

import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.login.LoginNegotiator;
import io.orion.dedup.iscsi.login.LoginStatus;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * All sessions of one server, by TSIH (RFC 7143 §4.4, §6.3.5): admission checks, TSIH allocation,
 * session reinstatement (same InitiatorName, ISID and target portal group with TSIH 0 replaces the
 * old session), adding connections to a session, and ending sessions (which tells the command layer
 * the nexus is gone).
 */
public final class SessionRegistry {

    private static final Logger LOG = LoggerFactory.getLogger(SessionRegistry.class);

    private final IscsiServerOptions options;
    private final Map<Integer, IscsiSession> sessions = new ConcurrentHashMap<>();
    private int nextTsih = 1;

    SessionRegistry(IscsiServerOptions options) {
        this.options = options;
    }

    public Collection<IscsiSession> sessions() {
        return List.copyOf(sessions.values());
    }

    /** Checks at the first Login Request (after the identity keys). Returns 0 or a login status. */
    synchronized int admit(LoginNegotiator login) {
        if (login.tsih() == 0) {
            boolean reinstating = findSame(login) != null;
            if (!reinstating && sessions.size() >= options.maxSessions()) {
                // the connection logs the refusal (rate-limited per source address)
                LOG.debug("login from {} refused: {} sessions already", login.initiatorName(), sessions.size());
                return LoginStatus.OUT_OF_RESOURCES;
            }
            return 0;
        }
        IscsiSession s = sessions.get(login.tsih());
        if (s == null || s.ended() || s.isid() != login.isid() || !s.initiatorName().equals(login.initiatorName())
                || s.discovery() != login.discovery()
                || (!s.discovery() && !sameTargetPort(s, login))) {
            return LoginStatus.SESSION_DOES_NOT_EXIST;
        }
        boolean sameCid = s.connections().stream().anyMatch(c -> c.cid() == login.cid());
        if (!sameCid && s.connections().size() >= s.params().maxConnections()) {
            return LoginStatus.TOO_MANY_CONNECTIONS;
        }
        login.joiningSession(s.params());
        return 0;
    }

    private IscsiSession findSame(LoginNegotiator login) {
        for (IscsiSession s : sessions.values()) {
            if (!s.ended() && s.isid() == login.isid() && s.initiatorName().equals(login.initiatorName())
                    && s.discovery() == login.discovery()
                    && (s.discovery() || sameTargetPort(s, login))) {
                return s;
            }
        }
        return null;
    }

    /**
     * Same target and same portal group: a session is identified by ISID and target portal group
     * (RFC 7143 §4.4, SSID), so the same ISID through another portal group is another session (a
     * second path, another I_T nexus), and all connections of a session use one portal group.
     */
    private static boolean sameTargetPort(IscsiSession s, LoginNegotiator login) {
        return s.target().name().equalsIgnoreCase(login.target().name())
                && s.target().portalGroupTag() == login.target().portalGroupTag();
    }

    /**
     * Binds a connection whose login completed: a new session (reinstating an old one with the
     * same identity) or an additional connection of an existing one. Returns the session, or null
     * with the reason logged when the session vanished meanwhile.
     */
    IscsiSession bind(LoginNegotiator login, int initialCmdSN, IscsiConnection conn) {
        IscsiSession old = null;
        IscsiSession s;
        synchronized (this) {
            if (login.tsih() != 0) {
                s = sessions.get(login.tsih());
                if (s == null || s.ended()) {
                    return null;
                }
                for (IscsiConnection c : s.connections()) {
                    if (c.cid() == login.cid()) {
                        LOG.info("connection reinstatement: CID {} of session TSIH {}", login.cid(), s.tsih());
                        s.connections().remove(c);
                        c.closeNow("connection reinstated");
                    }
                }
                s.connections().add(conn);
                return s;
            }
            old = findSame(login);
            int tsih = allocateTsih();
            s = new IscsiSession(login.initiatorName(), login.isid(), tsih, login.target(), login.params(),
                    initialCmdSN, queueDepth(login));
            s.connections().add(conn);
            sessions.put(tsih, s);
        }
        if (old != null) {
            LOG.info("session reinstatement: {} ISID {} replaces TSIH {}", login.initiatorName(),
                    String.format("%012x", login.isid()), old.tsih());
            end(old);
            old.drop("session reinstated");
        }
        return s;
    }

    /**
     * The CmdSN window of a new session (RFC 7143 §3.2.2.1): the target's own queue depth if it
     * sets one, else the server's; discovery sessions use the server's.
     */
    int queueDepth(LoginNegotiator login) {
        return login.discovery() || login.target() == null ? options.queueDepth()
                : login.target().queueDepth(options.queueDepth());
    }

    private int allocateTsih() {
        for (int i = 0; i < 65536; i++) {
            int t = nextTsih;
            nextTsih = nextTsih == 0xffff ? 1 : nextTsih + 1;
            if (!sessions.containsKey(t)) {
                return t;
            }
        }
        throw new IllegalStateException("no free TSIH");
    }

    /** A connection went away; the session ends with its last connection (ErrorRecoveryLevel 0). */
    void detach(IscsiSession s, IscsiConnection conn) {
        s.connections().remove(conn);
        if (s.connections().isEmpty()) {
            end(s);
        }
    }

    /** Ends a session once: removes it and tells the command layer its nexus is lost. */
    void end(IscsiSession s) {
        if (!s.markEnded()) {
            return;
        }
        sessions.remove(s.tsih(), s);
        for (ScsiTask t : new ArrayList<>(s.tasks().values())) {
            t.abort();
        }
        if (!s.discovery()) {
            try {
                s.target().scsi().nexusLost(s.nexus());
            } catch (RuntimeException e) {
                LOG.error("nexusLost failed for {}", s.nexus(), e);
            }
        }
        if (s.discovery()) {
            // discovery may be unauthenticated: its login line is rate-limited, its end is not logged
            LOG.debug("session ended: {} ISID {} TSIH {} (discovery)", s.initiatorName(),
                    String.format("%012x", s.isid()), s.tsih());
        } else {
            LOG.info("session ended: {} ISID {} TSIH {} target {}", s.initiatorName(), String.format("%012x", s.isid()),
                    s.tsih(), s.target().name());
        }
    }
}
