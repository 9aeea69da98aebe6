package io.orion.dedup.storage;

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
 * <p>Blocking inside a scope: work that is about to wait for something a deferred action may be
 * needed for (a block lock held by an earlier write of the same burst) calls {@link #runDeferred}
 * first, so a scope never waits for itself.
 *
 * <p>Threads: all state is per thread; a batch and a scope belong to the thread that opened them.
 */
public final class IoBatch {
    private static final Logger LOG = LoggerFactory.getLogger(IoBatch.class);

    /** The open batch of a transport thread: work per executor, in submission order. */
    private static final ThreadLocal<Map<Executor, List<Runnable>>> OPEN = new ThreadLocal<>();
    /** The deferred actions of an I/O thread running a batch, one per key; null outside a scope. */
    private static final ThreadLocal<Map<Object, Runnable>> SCOPE = new ThreadLocal<>();

    private IoBatch() {
    }

    /** Opens a batch on this thread, if none is open. */
    public static void open() {
        if (OPEN.get() == null) {
            OPEN.set(new IdentityHashMap<>());
        }
    }

    /** Runs {@code work} on {@code executor}: collected into this thread's open batch, else at once. */
    public static void submit(Executor executor, Runnable work) {
        Map<Executor, List<Runnable>> batch = OPEN.get();
        if (batch == null) {
            executor.execute(work);
            return;
        }
        batch.computeIfAbsent(executor, e -> new ArrayList<>()).add(work);
    }

    /**
     * Closes this thread's batch: each executor gets its collected work as one task (a single piece
     * of work goes as it is). If an executor refuses, the work runs here, so none is lost.
     */
    public static void close() {
        Map<Executor, List<Runnable>> batch = OPEN.get();
        if (batch == null) {
            return;
        }
        OPEN.remove();
        for (Map.Entry<Executor, List<Runnable>> e : batch.entrySet()) {
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
