package io.orion.dedup.iscsi.session;

import io.orion.dedup.iscsi.pdu.TaskMgmtRequest;
import io.orion.dedup.iscsi.pdu.TaskMgmtResponse;
import io.orion.dedup.scsi.ScsiTarget;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Task management functions (RFC 7143 §11.5, SAM-5 §7): ABORT TASK, ABORT/CLEAR TASK SET, LOGICAL
 * UNIT RESET, TARGET WARM/COLD RESET. The affected tasks are aborted (on whichever connection and
 * session they run), the SCSI core is told (unit attentions, reservations), and the response leaves
 * once every affected task has ended (RFC 7143 §4.2.3.3: no response of an aborted task follows).
 *
 * <p>Threads: the connection's event loop; the final step hops back to it.
 */
final class TaskManagement {

    /** Logs as the connection did before this part was split off. */
    private static final Logger LOG = LoggerFactory.getLogger(IscsiConnection.class);

    private final IscsiConnection conn;

    TaskManagement(IscsiConnection conn) {
        this.conn = conn;
    }

    void onRequest(TaskMgmtRequest m) {
        IscsiSession session = conn.session();
        ScsiTarget scsi = session.target().scsi();
        long lun = m.lun();
        List<ScsiTask> affected = new ArrayList<>();
        int response = TaskMgmtResponse.FUNCTION_COMPLETE;
        Runnable after = () -> { };
        switch (m.function()) {
            case TaskMgmtRequest.ABORT_TASK -> {
                ScsiTask t = session.tasks().get(m.referencedTaskTag());
                if (t != null && !t.isFinished() && t.lun == lun) {
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
        LOG.info("{}: task management function {} LUN {} -> response {} ({} tasks aborted)", conn.remoteAddress(),
                m.function(), lun, response, affected.size());
        int finalResponse = response;
        Runnable hook = after;
        CompletableFuture<?>[] done = affected.stream().map(ScsiTask::abort).toArray(CompletableFuture[]::new);
        CompletableFuture.allOf(done).whenComplete((v, ex) -> conn.onLoop(() -> {
            if (finalResponse == TaskMgmtResponse.FUNCTION_COMPLETE) {
                hook.run();
            }
            if (conn.isClosing()) {
                return;
            }
            SequenceNumbers.Stamp s = conn.seq().take();
            conn.send(new TaskMgmtResponse(finalResponse, m.itt(), s.statSN(), s.expCmdSN(), s.maxCmdSN()));
            conn.flush();
            if (m.function() == TaskMgmtRequest.TARGET_COLD_RESET && finalResponse == 0) {
                for (IscsiSession other : sameTarget()) {
                    other.drop("target cold reset");
                }
            }
        }));
    }

    private List<IscsiSession> sameTarget() {
        String name = conn.session().target().name();
        return conn.server().registry().sessions().stream()
                .filter(s -> !s.discovery() && s.target().name().equalsIgnoreCase(name)).toList();
    }
}
