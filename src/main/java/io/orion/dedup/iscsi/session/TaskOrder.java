package io.orion.dedup.iscsi.session;

import io.orion.dedup.scsi.TaskAttribute;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Keeps the command layer's view of task order true to CmdSN order (RFC 7143 §3.2.2.1, SAM-5
 * §8.6): a command is handed to {@link io.orion.dedup.scsi.ScsiTarget#execute} only once its data
 * is complete, and a task may not overtake an older one the task attributes forbid it to pass.
 * SIMPLE tasks wait only for older ORDERED tasks to be handed over; ORDERED tasks wait for every
 * older task; HEAD OF QUEUE and immediate commands never wait. What happens after hand-over
 * (waiting for completion of older tasks) is the command layer's business.
 *
 * <p>Thread-safe: connections of a session may run on different event loops.
 */
final class TaskOrder {

    private final ArrayDeque<ScsiTask> waiting = new ArrayDeque<>();

    /** Called in CmdSN order (under the window's lock) when a non-immediate command is delivered. */
    synchronized void admitted(ScsiTask t) {
        waiting.addLast(t);
        t.ordered = true;
    }

    /**
     * Whether {@code t} may be handed to the command layer now; if so it leaves the queue. When it
     * may not, it is marked blocked and will be returned by a later {@link #leave}.
     */
    synchronized boolean tryDispatch(ScsiTask t) {
        if (!t.ordered || !waiting.contains(t)) {
            return true;
        }
        TaskAttribute a = io.orion.dedup.scsi.TaskAttribute.fromIscsi(t.attr);
        boolean ok;
        if (a == TaskAttribute.HEAD_OF_QUEUE) {
            ok = true;
        } else if (a == TaskAttribute.ORDERED) {
            ok = waiting.peekFirst() == t;
        } else {
            ok = true;
            for (ScsiTask older : waiting) {
                if (older == t) {
                    break;
                }
                if (TaskAttribute.fromIscsi(older.attr) == TaskAttribute.ORDERED) {
                    ok = false;
                    break;
                }
            }
        }
        if (!ok) {
            t.blocked = true;
        }
        return ok;
    }

    /** {@code t} was handed over or ended; returns the blocked tasks that should check again. */
    synchronized List<ScsiTask> leave(ScsiTask t) {
        if (!waiting.remove(t)) {
            return List.of();
        }
        List<ScsiTask> wake = new ArrayList<>();
        for (Iterator<ScsiTask> it = waiting.iterator(); it.hasNext();) {
            ScsiTask w = it.next();
            if (w.blocked) {
                w.blocked = false;
                wake.add(w);
            }
        }
        return wake;
    }
}
