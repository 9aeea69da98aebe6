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
 * The writes that arrive in one burst, handed to an I/O thread as one task, whose devices commit
 * their metadata together at the end of it: an explicit object the transport creates and passes
 * down, as the Linux block layer's {@code blk_plug}.
 *
 * <p>Why: on a small VM, waking a thread costs more than a 4 KiB write. A transport creates a batch
 * while it decodes one socket read and hands it to the command layer with each command ({@code
 * ScsiTarget.execute(command, batch)}); the command layer {@link #submit}s its work into it instead
 * of waking an I/O thread per command; at the end of the read the transport {@link #dispatch}es it,
 * and each executor gets the collected work as one task. That task runs the work in one {@link
 * Scope}, which each piece of work is given and passes down to the device: a device may {@link
 * Scope#defer} an action (the group commit) to the end of the scope instead of running it per
 * write, so the burst costs one thread hand-off and one metadata commit.
 *
 * <p>Light bursts run where they arrived. Work submitted as <em>light</em> (a write that cannot wait:
 * see {@link BlockDevice#quickWrite}) costs less than the two thread hand-offs around it (to the I/O
 * thread, and back to the event loop for the response). A batch of light work only, up to {@link
 * #INLINE_MAX_BYTES} in all, therefore runs on the transport thread at {@link #dispatch}, in a scope
 * that is {@link Scope#inline()}: work that finds it would have to wait after all (a block lock held
 * by a write on another thread) {@link Scope#handOff}s itself to the I/O executor instead. A burst
 * with any other work goes to the executors as above, in its arrival order.
 *
 * <p>Blocking inside a scope: work that is about to wait for something a deferred action may be
 * needed for (a block lock held by an earlier write of the same burst) calls {@link
 * Scope#runDeferred} first, so a scope never waits for itself.
 *
 * <p>Threads: a batch belongs to the thread that created it until it is dispatched; work submitted
 * from another thread, or after the dispatch, goes to its executor at once. A scope belongs to the
 * thread that runs its work.
 */
public final class IoBatch {
    private static final Logger LOG = LoggerFactory.getLogger(IoBatch.class);

    /** Total data of a burst of light work that still runs on the transport thread. */
    public static final int INLINE_MAX_BYTES = 256 * 1024;

    /** A piece of work run in a scope (which it passes down to the device). */
    @FunctionalInterface
    public interface Work {
        void run(Scope scope);
    }

    private final Thread owner = Thread.currentThread();
    /** Work per executor, in submission order; null once dispatched. */
    private Map<Executor, List<Work>> work = new IdentityHashMap<>(2);
    /** Data bytes of the light work; -1 once any work is not light. */
    private long lightBytes;

    /** Runs {@code w} on {@code executor}: collected into this batch, or at once after its dispatch. */
    public void submit(Executor executor, Work w) {
        submit(executor, w, -1);
    }

    /**
     * As {@link #submit(Executor, Work)}; {@code lightBytes} &ge; 0 marks the work light (see the
     * class comment) and gives the data bytes it handles, -1 marks it ordinary.
     */
    public void submit(Executor executor, Work w, long lightBytes) {
        if (Thread.currentThread() != owner || work == null) {
            execute(executor, w);
            return;
        }
        work.computeIfAbsent(executor, e -> new ArrayList<>()).add(w);
        this.lightBytes = lightBytes < 0 || this.lightBytes < 0 ? -1 : this.lightBytes + lightBytes;
    }

    /** Runs {@code w} on {@code executor} in a scope of its own, outside any batch (null batch: the same). */
    public static void submit(IoBatch batch, Executor executor, Work w, long lightBytes) {
        if (batch != null) {
            batch.submit(executor, w, lightBytes);
        } else {
            execute(executor, w);
        }
    }

    private static void execute(Executor executor, Work w) {
        executor.execute(() -> new Scope(executor, false).run(List.of(w)));
    }

    /**
     * Ends the batch (once; later calls do nothing). A batch of light work only, of at most {@link
     * #INLINE_MAX_BYTES}, runs here and now in an inline scope. Otherwise each executor gets its
     * collected work as one task; if an executor refuses, the work runs here, so none is lost.
     */
    public void dispatch() {
        Map<Executor, List<Work>> batch = work;
        if (batch == null) {
            return;
        }
        work = null;
        if (lightBytes >= 0 && lightBytes <= INLINE_MAX_BYTES) {
            for (Map.Entry<Executor, List<Work>> e : batch.entrySet()) {
                new Scope(e.getKey(), true).run(e.getValue());
            }
            return;
        }
        for (Map.Entry<Executor, List<Work>> e : batch.entrySet()) {
            Executor ex = e.getKey();
            List<Work> list = e.getValue();
            Runnable task = () -> new Scope(ex, false).run(list);
            try {
                ex.execute(task);
            } catch (RejectedExecutionException rejected) {
                task.run();
            }
        }
    }

    /**
     * Where a batch's work runs: the deferred actions of one thread's run of it. Work is handed its
     * scope and passes it down to the device ({@code BlockDevice.writeAsync(lba, src, fua, scope)}).
     */
    public static final class Scope {
        private final Executor executor;
        private final boolean inline;
        private final Map<Object, Runnable> deferred = new LinkedHashMap<>();
        /** Work handed off to the executor, with the work that followed it (null: none). */
        private List<Work> handed;

        /** A scope for work of {@code executor}; {@code inline}: it runs on a transport thread. */
        public Scope(Executor executor, boolean inline) {
            this.executor = executor;
            this.inline = inline;
        }

        /**
         * True when this scope runs on a transport thread, which serves other connections: its work
         * must not wait for anything (a lock, the medium) and {@link #handOff}s itself instead.
         */
        public boolean inline() {
            return inline;
        }

        /**
         * Hands {@code w} to the I/O executor (for inline work that found it would have to wait):
         * at this scope's end, after its deferred actions ({@code w} may wait for them), it runs
         * there in a scope of its own, followed by the work of this scope that came after it, so
         * the burst keeps its order.
         */
        public void handOff(Work w) {
            if (handed == null) {
                handed = new ArrayList<>();
            }
            handed.add(w);
        }

        /** Runs {@code work} in order, then the deferred actions, then hands on what was handed off. */
        void run(List<Work> work) {
            try {
                for (Work w : work) {
                    if (handed != null) {
                        handed.add(w);
                        continue;
                    }
                    try {
                        w.run(this);
                    } catch (RuntimeException | Error t) {
                        LOG.error("batched I/O work failed", t);
                    }
                }
            } finally {
                runDeferred();
                List<Work> later = handed;
                handed = null;
                if (later != null) {
                    Runnable task = () -> new Scope(executor, false).run(later);
                    try {
                        executor.execute(task);
                    } catch (RejectedExecutionException rejected) {
                        task.run();
                    }
                }
            }
        }

        /**
         * Defers {@code action} to the end of this scope (once per {@code key}: a second request
         * with the same key is already covered).
         */
        public void defer(Object key, Runnable action) {
            deferred.putIfAbsent(key, action);
        }

        /** Runs (and forgets) the actions deferred so far; for work about to block. */
        public void runDeferred() {
            while (!deferred.isEmpty()) {
                List<Runnable> actions = new ArrayList<>(deferred.values());
                deferred.clear();
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
}
