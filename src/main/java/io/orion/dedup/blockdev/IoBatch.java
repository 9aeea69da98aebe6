package io.orion.dedup.blockdev;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands the writes that arrive in one burst to an I/O thread as one task, and lets a device commit
 * their metadata together at the end of it.
 *
 * <p>Why: on a small VM, waking a thread costs more than a 4 KiB write. A transport opens a batch on
 * its event-loop thread while it decodes one socket read ({@link #open}); the command layer submits
 * work through {@link #submit}, which collects it instead of waking an I/O thread per command; at
 * the end of the read ({@link #close}) each executor gets the collected work as one task. That task
 * runs the work in a <em>deferral scope</em>: a device may {@link #defer} an action (the group
 * commit) to the end of the scope instead of running it per write, so the burst costs one thread
 * hand-off and one metadata commit.
 *
 * <p>Light bursts run where they arrived. Work submitted as <em>light</em> (a small write that
 * never waits for the medium: it copies into the page cache and leaves its metadata to a group
 * commit that does not sync) costs less than the two thread hand-offs around it (to the I/O thread,
 * and back to the event loop for the response). A batch of light work only, up to {@link
 * #INLINE_MAX_BYTES} in all, therefore runs on the transport thread at {@link #close}; a burst with
 * any other work goes to the executors as above, in its arrival order.
 *
 * <p>Blocking inside a scope: work that is about to wait for something a deferred action may be
 * needed for (a block lock held by an earlier write of the same burst) calls {@link #runDeferred}
 * first, so a scope never waits for itself.
 *
 * <p>Threads: all state is per thread; a batch and a scope belong to the thread that opened them.
 */
public final class IoBatch {
    private static final Logger LOG = LoggerFactory.getLogger(IoBatch.class);

    /** Total data of a burst of light work that still runs on the transport thread. */
    public static final int INLINE_MAX_BYTES = 256 * 1024;

    /** The open batch of a transport thread: work per executor, in submission order. */
    private static final ThreadLocal<Batch> OPEN = new ThreadLocal<>();
    /** The deferred actions of an I/O thread running a batch, one per key; null outside a scope. */
    private static final ThreadLocal<Map<Object, Runnable>> SCOPE = new ThreadLocal<>();

    private IoBatch() {
    }

    /** The work collected on one transport thread during one socket read. */
    private static final class Batch {
        final Map<Executor, List<Runnable>> work = new IdentityHashMap<>();
        /** Data bytes of the light work; -1 once any work is not light. */
        long lightBytes;
    }

    /** Opens a batch on this thread, if none is open. */
    public static void open() {
        if (OPEN.get() == null) {
            OPEN.set(new Batch());
        }
    }

    /** Runs {@code work} on {@code executor}: collected into this thread's open batch, else at once. */
    public static void submit(Executor executor, Runnable work) {
        submit(executor, work, -1);
    }

    /**
     * As {@link #submit(Executor, Runnable)}; {@code lightBytes} &ge; 0 marks the work light (see
     * the class comment) and gives the data bytes it handles, -1 marks it ordinary.
     */
    public static void submit(Executor executor, Runnable work, long lightBytes) {
        Batch batch = OPEN.get();
        if (batch == null) {
            executor.execute(work);
            return;
        }
        batch.work.computeIfAbsent(executor, e -> new ArrayList<>()).add(work);
        batch.lightBytes = lightBytes < 0 || batch.lightBytes < 0 ? -1 : batch.lightBytes + lightBytes;
    }

    /**
     * Closes this thread's batch. A batch of light work only, of at most {@link #INLINE_MAX_BYTES},
     * runs here and now in a deferral scope. Otherwise each executor gets its collected work as one
     * task (a single piece of work goes as it is); if an executor refuses, the work runs here, so
     * none is lost.
     */
    public static void close() {
        Batch batch = OPEN.get();
        if (batch == null) {
            return;
        }
        OPEN.remove();
        if (batch.lightBytes >= 0 && batch.lightBytes <= INLINE_MAX_BYTES) {
            for (List<Runnable> work : batch.work.values()) {
                runScoped(work);
            }
            return;
        }
        for (Map.Entry<Executor, List<Runnable>> e : batch.work.entrySet()) {
            List<Runnable> work = e.getValue();
            Runnable task = work.size() == 1 ? work.get(0) : () -> runScoped(work);
            try {
                e.getKey().execute(task);
            } catch (RejectedExecutionException ex) {
                task.run();
            }
        }
    }

    /** Runs {@code work} in order in a deferral scope, then the deferred actions. */
    static void runScoped(List<Runnable> work) {
        Map<Object, Runnable> outer = SCOPE.get();
        if (outer == null) {
            SCOPE.set(new LinkedHashMap<>());
        }
        try {
            for (Runnable r : work) {
                try {
                    r.run();
                } catch (RuntimeException | Error t) {
                    LOG.error("batched I/O work failed", t);
                }
            }
        } finally {
            if (outer == null) {
                runDeferred();
                SCOPE.remove();
            }
        }
    }

    /**
     * Defers {@code action} to the end of this thread's deferral scope (once per {@code key}: a
     * second request with the same key is already covered). Returns false, deferring nothing, when
     * the thread is not in a scope; the caller then runs the action itself.
     */
    public static boolean defer(Object key, Runnable action) {
        Map<Object, Runnable> scope = SCOPE.get();
        if (scope == null) {
            return false;
        }
        scope.putIfAbsent(key, action);
        return true;
    }

    /** Runs (and forgets) the actions deferred so far in this thread's scope; for work about to block. */
    public static void runDeferred() {
        Map<Object, Runnable> scope = SCOPE.get();
        while (scope != null && !scope.isEmpty()) {
            List<Runnable> actions = new ArrayList<>(scope.values());
            scope.clear();
            for (Runnable a : actions) {
                try {
                    a.run();
                } catch (RuntimeException | Error t) {
                    LOG.error("deferred I/O action failed", t);
                }
            }
        }
    }
}
