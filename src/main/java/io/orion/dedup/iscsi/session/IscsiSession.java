package io.orion.dedup.iscsi.session;

import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.iscsi.SessionInfo;
import io.orion.dedup.iscsi.login.SessionParams;
import io.orion.dedup.scsi.Nexus;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One iSCSI session (RFC 7143 §4.4): identity (InitiatorName, ISID, TSIH), the negotiated
 * session-wide parameters, the CmdSN window, its connections and the tasks in progress keyed by
 * Initiator Task Tag. Shared by the connections' event loops; all collections are concurrent.
 */
public final class IscsiSession {

    private final String initiatorName;
    private final long isid;
    private final int tsih;
    private final IscsiTargetInfo target;
    private final SessionParams params;
    private final Nexus nexus;
    private final CmdSnWindow window;
    private final TaskOrder order = new TaskOrder();
    private final List<IscsiConnection> connections = new CopyOnWriteArrayList<>();
    private final Map<Integer, ScsiTask> tasks = new ConcurrentHashMap<>();
    private final Set<Long> luns = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean ended = new AtomicBoolean();

    IscsiSession(String initiatorName, long isid, int tsih, IscsiTargetInfo target, SessionParams params,
                 int initialCmdSN, int queueDepth) {
        this.initiatorName = initiatorName;
        this.isid = isid;
        this.tsih = tsih;
        this.target = target;
        this.params = params;
        this.nexus = target == null ? null
                : Nexus.iscsi(initiatorName, isid, target.name(), target.portalGroupTag());
        this.window = new CmdSnWindow(initialCmdSN, queueDepth);
    }

    public String initiatorName() {
        return initiatorName;
    }

    public long isid() {
        return isid;
    }

    public int tsih() {
        return tsih;
    }

    /** Null for a discovery session. */
    public IscsiTargetInfo target() {
        return target;
    }

    public boolean discovery() {
        return target == null;
    }

    public SessionParams params() {
        return params;
    }

    public Nexus nexus() {
        return nexus;
    }

    public CmdSnWindow window() {
        return window;
    }

    TaskOrder order() {
        return order;
    }

    List<IscsiConnection> connections() {
        return connections;
    }

    Map<Integer, ScsiTask> tasks() {
        return tasks;
    }

    void touchLun(long lun) {
        luns.add(lun);
    }

    public boolean usesLun(long lun) {
        return luns.contains(lun);
    }

    boolean markEnded() {
        return ended.compareAndSet(false, true);
    }

    public boolean ended() {
        return ended.get();
    }

    /** Drops every connection; the registry ends the session when the last one is gone. */
    public void drop(String why) {
        for (IscsiConnection c : connections) {
            c.closeNow(why);
        }
    }

    /** Asks the initiator to log out within {@code seconds} (Async Message event 1). */
    public void requestLogout(int seconds) {
        for (IscsiConnection c : connections) {
            c.requestLogout(seconds);
        }
    }

    public SessionInfo info() {
        return new SessionInfo(initiatorName, isid, tsih, target == null ? null : target.name(), target == null,
                connections.stream().map(IscsiConnection::remoteAddress).toList(), Set.copyOf(luns));
    }
}
