package io.orion.dedup.dedup;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaCorruptException;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.meta.MetaWriteTxn;
import io.orion.dedup.meta.PoolCounters;
import io.orion.dedup.meta.VolumeRecord;
import io.orion.dedup.containers.RecordFormat;
import io.orion.dedup.containers.ChunkStore;
import io.orion.dedup.containers.Container;
import io.orion.dedup.containers.JournalFormat;
import io.orion.dedup.containers.Location;
import io.orion.dedup.blockdev.IoBatch;
import io.orion.dedup.blockdev.OutOfSpaceException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import org.lmdbjava.Env;
import org.lmdbjava.LmdbException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single LMDB writer of a pool (group commit).
 *
 * <p>Threads and states (leader/follower): an I/O thread enqueues its work (block-map changes,
 * metadata tasks, flushes); if no other thread is committing it becomes the leader, drains
 * everything queued, applies it in <em>one</em> write transaction, commits, publishes the
 * committed state to memory (container and volume counters, caches, in-flight claims) and
 * completes the work. A caller of {@link #commitOps}, {@link #run} or {@link #flush} that is not
 * the leader parks until its work is done; an asynchronous write ({@link #commitOpsAsync}) does not
 * wait at all: the leader runs its completion. Inside an {@link IoBatch} scope the leading is
 * deferred to the end of the burst, so a burst of writes shares one transaction. At queue depth 1
 * a write therefore commits on its own thread with no hand-off; under load the work piles up and
 * goes into the next leader's single transaction (group commit). Flushes in the drained set run
 * after that commit: every device is forced (data), then LMDB is synced (metadata) — data before
 * the metadata that references it. MDB_MAP_FULL aborts the transaction, grows the map and replays
 * the batch; an item that fails on its own is dropped and the rest replayed. Damaged metadata turns
 * the pool read-only.
 */
final class Committer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Committer.class);
    private static final int MAX_BATCH = 256;

    private final PoolOptions options;
    private final MetaStore meta;
    private final ChunkStore store;
    private final ChunkIo chunkIo;
    private final DedupIndex dedupIndex;
    private final PoolHealth health;
    /** The pool's volume catalogue: a volume's state by id (null once deleted). */
    private final IntFunction<VolumeState> volumes;
    /** Runs a lead on the pool's commit helper thread. */
    private final Executor assist;
    private final java.util.UUID poolUuid;
    private final LinkedBlockingQueue<Work> queue = new LinkedBlockingQueue<>();
    private final ReentrantLock leader = new ReentrantLock();
    /** Containers opened since the last commit: the next commit writes their ledger entries. */
    private final List<Container> unpersisted = new ArrayList<>();
    private final ContainerLedger ledger;
    private volatile boolean running = true;
    /**
     * Transactions a submitter of asynchronous work commits before it hands the rest to the commit
     * helper: a transport thread that runs a burst of writes itself (IoBatch) must get back to its
     * connections even while other connections keep the queue full.
     */
    private static final int SUBMITTER_ROUNDS = 4;
    private final Runnable leadQueued = () -> leadWhileQueued(null, SUBMITTER_ROUNDS);

    /** Pool counters as committed (committer thread writes; others read). */
    volatile long uniqueChunks;
    volatile long uniqueBytes;
    volatile long storedBytes;
    volatile int nextVolumeId;
    /** Bumped after every commit: figures computed under an older generation may be stale. */
    volatile long generation;
    /**
     * True while a leader resolves the items of a batch inside its write transaction: the committer
     * does no device I/O then ({@link OutsideIo}; tests watch the devices against it).
     */
    private volatile boolean resolving;

    boolean resolving() {
        return resolving;
    }

    Committer(PoolOptions options, MetaStore meta, ChunkStore store, ChunkIo chunkIo, DedupIndex dedupIndex,
              PoolHealth health, IntFunction<VolumeState> volumes, Executor assist, PoolCounters c) {
        this.options = options;
        this.meta = meta;
        this.store = store;
        this.chunkIo = chunkIo;
        this.dedupIndex = dedupIndex;
        this.health = health;
        this.volumes = volumes;
        this.assist = assist;
        this.poolUuid = c.poolUuid();
        this.ledger = new ContainerLedger(store);
        this.uniqueChunks = c.uniqueChunks();
        this.uniqueBytes = c.uniqueBytes();
        this.storedBytes = c.storedBytes();
        this.nextVolumeId = c.nextVolumeId();
    }

    /** A metadata change run inside a batch's transaction. */
    @FunctionalInterface
    interface Task<T> {
        T apply(Batch b) throws IOException;
    }

    private abstract static class Work {
        final CompletableFuture<Object> done = new CompletableFuture<>();
        final Thread owner = Thread.currentThread();

        void complete(Object result) {
            done.complete(result);
            then(null);
        }

        void fail(Throwable t) {
            done.completeExceptionally(t);
            then(t);
        }

        /** Tells the submitter the work is done: wakes the waiting owner by default. */
        void then(Throwable failure) {
            LockSupport.unpark(owner);
        }
    }

    private static class BlockWork extends Work {
        final List<BlockOp> ops;

        BlockWork(List<BlockOp> ops) {
            this.ops = ops;
        }
    }

    /** Block-map changes whose submitter does not wait: {@code onDone} runs on the committing thread. */
    private static final class AsyncBlockWork extends BlockWork {
        final Consumer<Throwable> onDone;

        AsyncBlockWork(List<BlockOp> ops, Consumer<Throwable> onDone) {
            super(ops);
            this.onDone = onDone;
        }

        @Override
        void then(Throwable failure) {
            // nobody waits: the owner is an I/O thread gone on to other work (or idle; an unpark
            // would only wake it for nothing)
            try {
                onDone.accept(failure);
            } catch (RuntimeException e) {
                LOG.error("completion of an asynchronous write failed", e);
            }
        }
    }

    private static final class TaskWork extends Work {
        final Task<?> task;
        Object result;

        TaskWork(Task<?> task) {
            this.task = task;
        }
    }

    private static final class FlushWork extends Work {
    }

    /** Longest time commits stay without a flush while commits go on (without durable commits). */
    final long flushEveryNanos = Long.getLong("orion.flushEveryMillis", 5000L) * 1_000_000L;
    /** True when something was committed since the last flush (leader only; read by the timer). */
    private volatile boolean dirty;
    private long lastDurable = System.nanoTime();
    /**
     * Block operations committed since the last flush. Each touches a few LMDB pages, which the
     * last flushed state keeps from reuse until the next flush: flushing after {@link
     * #flushEveryOps} of them bounds how far data.mdb grows between flushes (by the pages those
     * operations dirty, not by time: at a high write rate 5 s of them grew the file by gigabytes).
     */
    private long opsSinceFlush;
    /** A flush is queued on a helper thread for the bounds above. */
    private volatile boolean flushQueued;
    final long flushEveryOps = Long.getLong("orion.flushEveryOps", 8192L);

    /** True when something was committed since the last flush. */
    boolean dirty() {
        return dirty;
    }

    void commitOps(List<BlockOp> ops) throws IOException {
        await(enqueue(new BlockWork(ops)));
    }

    /**
     * Commits {@code ops} without waiting for it: {@code onDone} gets null once they are committed,
     * or the failure, on the thread that committed them (this one when no other thread is
     * committing). It must be short and must not wait for the committer.
     * In {@code scope} (null: none) the commit waits for the scope's end, one for the whole burst.
     */
    void commitOpsAsync(List<BlockOp> ops, Consumer<Throwable> onDone, IoBatch.Scope scope) {
        AsyncBlockWork w = new AsyncBlockWork(ops, onDone);
        if (!running) {
            abandonClaims(w);
            w.fail(new IOException("pool is closed"));
            return;
        }
        queue.add(w);
        if (scope != null) {
            scope.defer(this, leadQueued);
        } else {
            leadQueued.run();
        }
    }

    @SuppressWarnings("unchecked")
    <T> T run(Task<T> task) throws IOException {
        return (T) await(enqueue(new TaskWork(task)));
    }

    /**
     * Makes every commit so far durable. The committer only captures the newest commit ({@link
     * MetaStore#capture()}: a pin and a copy of its meta pages, no I/O wait); the fsyncs (devices,
     * then data.mdb) and saving the meta pages run here, on the caller's thread, while commits go
     * on: they used to hold up every writer of the pool for the length of the fsyncs.
     */
    void flush() throws IOException {
        Object r = await(enqueue(new FlushWork()));
        if (r instanceof io.orion.dedup.meta.MetaStore.FlushPoint p) {
            try {
                store.forceAll();
                meta.complete(p);
            } catch (IOException | RuntimeException e) {
                meta.release(p); // its pin must not outlive the failed flush
                health.untrust("flush to the backing devices failed: " + e.getMessage());
                throw e instanceof IOException io ? io : new IOException(e);
            } catch (Error e) {
                meta.release(p);
                throw e;
            }
        }
    }

    /** When {@link #spaceBack()} last had an empty commit look at the metadata reserve. */
    private volatile long lastSpaceLook = System.nanoTime() - 1_000_000_000L;

    /**
     * While the metadata store is low on space, writes of new data are refused before they reach
     * a commit ({@link ChunkIo#append}); the reserve is looked at again only after a commit
     * ({@link io.orion.dedup.meta.MetaStore#keepReserve()}), so once the file system had room again those writes stayed
     * refused until something else committed. An empty commit looks (at most every 200 ms, never
     * on the leader's own thread: no nested transaction); true when the store is no longer low.
     */
    boolean spaceBack() throws IOException {
        long now = System.nanoTime();
        if (!leader.isHeldByCurrentThread() && now - lastSpaceLook >= 200_000_000L) {
            lastSpaceLook = now;
            run(b -> null);
        }
        return !meta.lowSpace();
    }

    private Work enqueue(Work w) throws IOException {
        if (!running) {
            throw new IOException("pool is closed");
        }
        queue.add(w);
        while (!w.done.isDone()) {
            leadWhileQueued(w, Integer.MAX_VALUE);
            if (w.done.isDone()) {
                break;
            }
            // another thread is committing; it completes this work or, if this work arrived after
            // its last drain, sees it queued after stepping down (see leadWhileQueued)
            LockSupport.parkNanos(this, 1_000_000);
        }
        return w;
    }

    /**
     * Becomes the leader whenever no other thread is, and commits until the queue is empty (or, for
     * a waiting caller, until the batch that completed its own work; or after {@code maxRounds}
     * transactions). Checking the queue again after stepping down closes the gap between a leader's
     * last drain and its unlock: work queued in that gap is led by its submitter or by the leader's
     * re-check. A caller that steps down with work still queued hands the rest to a helper thread,
     * so asynchronous work never waits for a submitter that is not coming.
     */
    private void leadWhileQueued(Work mine, int maxRounds) {
        while (!queue.isEmpty() && leader.tryLock()) {
            boolean steppedDownEarly;
            try {
                steppedDownEarly = lead(mine, maxRounds);
            } finally {
                leader.unlock();
            }
            if (steppedDownEarly) {
                if (!queue.isEmpty()) {
                    assist.execute(() -> leadWhileQueued(null, Integer.MAX_VALUE));
                }
                return;
            }
        }
    }

    /**
     * Commits batches until the queue is empty, or (with {@code mine}) until the batch that
     * completed {@code mine}, or after {@code maxRounds} batches; returns true when it stopped
     * for one of the latter two reasons.
     */
    private boolean lead(Work mine, int maxRounds) {
        List<Work> drained = new ArrayList<>();
        for (int round = 1; ; round++) {
            drained.clear();
            queue.drainTo(drained, MAX_BATCH);
            if (drained.isEmpty()) {
                return false;
            }
            try {
                process(drained);
            } catch (Throwable t) {
                LOG.error("metadata commit failed", t);
                for (Work w : drained) {
                    if (!w.done.isDone()) {
                        w.fail(t);
                    }
                }
            }
            if ((mine != null && mine.done.isDone()) || round >= maxRounds) {
                return true;
            }
        }
    }

    private static Object await(Work w) throws IOException {
        try {
            return w.done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the metadata commit");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(c);
        }
    }

    private void process(List<Work> drained) {
        List<Work> items = new ArrayList<>();
        List<Work> flushes = new ArrayList<>();
        for (Work w : drained) {
            (w instanceof FlushWork ? flushes : items).add(w);
        }
        if (!items.isEmpty()) {
            commitItems(items);
        }
        // without durable commits, commits are made durable at least every flushEveryNanos under
        // load even when no initiator flushes, and after flushEveryOps block operations: that
        // bounds what a power loss takes and the pages the last flushed state keeps from reuse
        // (see MetaStore.sync), so how far the metadata file grows between flushes
        boolean due = flushes.isEmpty() && dirty && !options.durableCommits()
                && (System.nanoTime() - lastDurable >= flushEveryNanos || opsSinceFlush >= flushEveryOps)
                && health.readOnlyReason() == null;
        if (due && !flushQueued) {
            // on a helper thread, not here: this leader may be a connection's event loop, and the
            // fsyncs must not hold up its other connections
            flushQueued = true;
            assist.execute(() -> {
                try {
                    flush(); // its fsyncs run here, while commits go on (a failure makes the pool read-only)
                } catch (IOException | RuntimeException e) {
                    LOG.warn("flush after {} block operations failed: {}", flushEveryOps, e.toString());
                } finally {
                    flushQueued = false;
                }
            });
        }
        // a hard bound: when the queued flush has not come by twice the operations, this leader
        // flushes now (the file must not grow with the time a loaded helper thread takes)
        // (and on a metadata file system that cannot grow data.mdb, after every batch: the pages
        // the flushed state pins are then the space the next commits need)
        boolean overdue = flushes.isEmpty() && dirty && !options.durableCommits()
                && (opsSinceFlush >= 2 * flushEveryOps || meta.flushWouldFreeSpace())
                && health.readOnlyReason() == null;
        if (!overdue && !flushes.isEmpty() && !options.durableCommits()) {
            // the flushes' callers complete them (flush()): here only the capture
            try {
                dirty = false;
                opsSinceFlush = 0;
                lastDurable = System.nanoTime();
                for (Work f : flushes) {
                    f.complete(meta.capture());
                }
            } catch (IOException | RuntimeException e) {
                health.untrust("flush failed: " + e.getMessage());
                for (Work f : flushes) {
                    if (!f.done.isDone()) {
                        f.fail(e instanceof IOException ? e : new IOException(e));
                    }
                }
            }
        } else if (!flushes.isEmpty() || overdue) {
            try {
                flushHere();
                for (Work f : flushes) {
                    f.complete(null);
                }
            } catch (IOException | RuntimeException e) {
                health.untrust("flush to the backing devices failed: " + e.getMessage());
                for (Work f : flushes) {
                    f.fail(e instanceof IOException ? e : new IOException(e));
                }
            }
        }
    }

    /** Forces the devices, then makes the newest commit the flushed state; leader only, between commits. */
    private void flushHere() throws IOException {
        dirty = false;
        opsSinceFlush = 0;
        store.forceAll();
        meta.sync();
        lastDurable = System.nanoTime();
    }

    private void commitItems(List<Work> items) {
        Set<Work> failed = new HashSet<>();
        Map<Work, Throwable> failures = new IdentityHashMap<>();
        boolean noSpace = false;
        boolean flushedForSpace = false;
        boolean committed = false;
        OutsideIo outside = new OutsideIo();
        for (int attempt = 0; attempt < 64; attempt++) {
            String readOnly = health.readOnlyReason();
            if (readOnly != null) {
                for (Work w : items) {
                    if (!failed.contains(w)) {
                        failed.add(w);
                        failures.put(w, new io.orion.dedup.blockdev.ReadOnlyVolumeException(
                                "pool is read-only: " + readOnly));
                    }
                }
                break;
            }
            unpersisted.addAll(store.drainCreated());
            Batch b;
            try {
                b = new Batch(meta.write(), outside);
            } catch (LmdbException e) {
                // LMDB refuses to begin (e.g. MDB_PANIC after another transaction's meta-page
                // write failed: a staging table's own commit)
                health.untrust("LMDB error: " + e.getMessage());
                meta.reopenAfterPanic();
                continue;
            }
            Work current = null;
            resolving = true;
            try {
                for (Work w : items) {
                    if (failed.contains(w)) {
                        continue;
                    }
                    current = w;
                    outside.current = w;
                    if (w instanceof BlockWork bw) {
                        IOException gone = deletedTarget(b, bw.ops);
                        if (gone != null) {
                            // a write or reference-copy piece for a volume deleted meanwhile (a
                            // copy checks its destination once, then commits piece by piece):
                            // refused before it changes anything, so no block entry is ever
                            // written under a deleted volume id (its references would never drop)
                            failed.add(w);
                            failures.put(w, gone);
                            continue;
                        }
                        if (needsSpace(b, bw.ops)) {
                            // refused before it changes anything: the rest of the batch goes on
                            failed.add(w);
                            failures.put(w, meta.noSpaceError());
                            continue;
                        }
                        applyOps(b, bw.ops);
                        opsSinceFlush += bw.ops.size();
                    } else if (w instanceof TaskWork tw) {
                        tw.result = tw.task.apply(b);
                    }
                }
                current = null;
                resolving = false;
                if (outside.pending()) {
                    // the resolution needs device I/O: done now, outside the transaction, and the
                    // items tried again (they find its answers)
                    abort(b);
                    outside.run(failed, failures);
                    continue;
                }
                try {
                    journal(b);
                } catch (OutOfSpaceException e) {
                    // no room on the devices even for the journal: the batch fails with that (the
                    // pool stays writable; cleanup or UNMAP elsewhere makes room)
                    abort(b);
                    for (Work w : items) {
                        if (failed.add(w)) {
                            failures.put(w, e);
                        }
                    }
                    break;
                }
                finish(b);
                if (options.durableCommits()) {
                    store.forceAll();
                }
                b.txn.commit();
                b.txn.close();
                b.journalSeqs.clear();
                publish(b);
                for (Location l : b.journaled) {
                    store.release(l);
                }
                unpersisted.clear();
                committed = true;
                dirty = true;
                meta.keepReserve();
                break;
            } catch (Env.MapFullException e) {
                abort(b);
                try {
                    // growing re-pins the flushed state at the newest commit: make it a flush
                    store.forceAll();
                } catch (IOException io) {
                    // no growth: it would save a state whose chunks are not on the devices (the
                    // next attempt finds the pool read-only and fails the items)
                    health.untrust("flush to the backing devices failed: " + io.getMessage());
                    continue;
                }
                try {
                    meta.grow();
                } catch (RuntimeException g) {
                    // the flushed state may have lost its pin: no commit may reuse its pages
                    health.untrust("growing the metadata map failed: " + g.getMessage());
                }
            } catch (MetaCorruptException e) {
                abort(b);
                if (outside.pending()) {
                    // the attempt resolved with stand-ins (OutsideIo): tried again with the answers first
                    outside.run(failed, failures);
                    continue;
                }
                health.untrust(e.getMessage());
            } catch (LmdbException e) {
                abort(b);
                // a failed meta-page write leaves LMDB refusing every transaction, reads too (its
                // EIO is not a full file system even when little space is left): opened again
                // read-only, reads go on (writes stay refused until a restart)
                boolean panicked = meta.panicked();
                if (panicked || !meta.isNoSpace(e)) {
                    health.untrust("LMDB error: " + e.getMessage());
                    if (panicked) {
                        meta.reopenAfterPanic();
                    }
                    continue;
                }
                // the file system is full (the transaction was aborted, nothing changed). The pages
                // freed since the last flush are kept from reuse by the flushed state's pin: a
                // flush makes them free, and the batch is tried again as it was
                // (not only when committed since the last flush: a flush captured but still in its
                // fsyncs has not moved the pin yet)
                if (!flushedForSpace && !options.durableCommits() && meta.pinsFlushedState()) {
                    flushedForSpace = true;
                    try {
                        flushHere();
                        continue;
                    } catch (IOException | RuntimeException f) {
                        health.untrust("flush to the backing devices failed: " + f.getMessage());
                        continue;
                    }
                }
                // still no space: replay once without the work that needs new space (applyOps
                // refuses it now); if even that finds no space, every remaining item fails with it
                // - the pool stays writable
                meta.markLowSpace();
                if (noSpace) {
                    for (Work w : items) {
                        if (failed.add(w)) {
                            failures.put(w, new OutOfSpaceException("metadata file system is full: " + e.getMessage()));
                        }
                    }
                    break;
                }
                noSpace = true;
            } catch (IOException | RuntimeException e) {
                abort(b);
                if (current != null && outside.pending()) {
                    // the stand-ins of this attempt (OutsideIo) may be what failed: tried again
                    // with the answers before the item is failed
                    outside.run(failed, failures);
                    continue;
                }
                if (current == null) {
                    health.untrust("metadata commit failed: " + e);
                    continue;
                }
                failed.add(current);
                failures.put(current, e);
            } finally {
                resolving = false;
            }
        }
        outside.releaseCopies();
        if (!committed) {
            // no attempt committed: whatever was not failed on its own fails now, never a GOOD
            // for a write that is not in the metadata
            for (Work w : items) {
                if (failed.add(w)) {
                    failures.put(w, new IOException("metadata commit did not complete"));
                }
            }
        }
        for (Work w : items) {
            if (failed.contains(w)) {
                abandonClaims(w, failures.get(w));
                w.fail(failures.get(w));
            } else if (w instanceof TaskWork tw) {
                tw.complete(tw.result);
            } else if (!w.done.isDone()) {
                w.complete(null);
            }
        }
    }

    private void abandonClaims(Work w) {
        abandonClaims(w, null);
    }

    private void abandonClaims(Work w, Throwable cause) {
        if (w instanceof BlockWork bw) {
            for (BlockOp op : bw.ops) {
                if (op.pending != null && op.pending.committedId == 0) {
                    dedupIndex.abandon(op.pending, cause);
                }
            }
        }
    }

    /**
     * Appends the batch's journal records (its block-map changes and chunk locations, and the volume
     * catalogue when it changed) to the containers before the commit: the same device flush that
     * precedes the LMDB sync makes them durable. Their bytes count as live bytes of their container
     * (they are not reclaimable garbage), and as committed records.
     */
    private void journal(Batch b) throws IOException {
        List<byte[]> recs = new ArrayList<>();
        if (b.catalogueChanged || b.newNextVolumeId > 0 || !b.deletedVolumes.isEmpty() || !b.capacity.isEmpty()) {
            List<JournalFormat.CatalogueEntry> vols = new ArrayList<>();
            for (VolumeRecord v : b.txn.volumes()) {
                long cap = b.capacity.getOrDefault(v.id(), v.capacityBytes());
                vols.add(new JournalFormat.CatalogueEntry(v.id(), v.name(), v.uuid(), v.logicalBlockSize(),
                        v.dedupBlockSize(), cap, v.readOnly(), v.origin(), v.originMillis(), v.dedupMode()));
            }
            byte[] p = JournalFormat.encodeCatalogue(new JournalFormat.Catalogue(b.nextVolumeId(this), vols));
            long seq = chunkIo.newChunkId();
            b.journalSeqs.add(seq);
            recs.add(JournalFormat.encode(JournalFormat.TYPE_CATALOGUE, seq, vols.size(), p, p.length));
        }
        if (!b.journal.isEmpty()) {
            recs.addAll(b.journal.records(() -> {
                long seq = chunkIo.newChunkId();
                b.journalSeqs.add(seq);
                return seq;
            }));
        }
        for (byte[] r : recs) {
            Location loc = store.appendJournal(r);
            b.journaled.add(loc);
            b.ledger.journal(loc);
        }
    }

    /**
     * After a failed commit: the journal records already appended describe changes that never
     * happened, so a void record naming each one follows them (recovery skips voided records).
     */
    private void voidJournal(Batch b) {
        for (Location l : b.journaled) {
            store.release(l);
        }
        b.journaled.clear();
        for (long seq : b.journalSeqs) {
            try {
                Location l = store.appendJournal(JournalFormat.voidRecord(chunkIo.newChunkId(), seq));
                store.release(l);
            } catch (IOException | RuntimeException e) {
                LOG.error("could not void journal record {} of a failed commit: {}", seq, e.toString());
            }
        }
        b.journalSeqs.clear();
    }

    private void abort(Batch b) {
        voidJournal(b);
        try {
            b.txn.abort();
        } catch (RuntimeException ignored) {
            // the transaction may already be unusable
        }
        b.txn.close();
    }

    /**
     * An error if one of {@code ops} names a volume that no longer exists (deleted in an earlier
     * commit or earlier in this batch), else null. Reads only.
     */
    private IOException deletedTarget(Batch b, List<BlockOp> ops) {
        int last = Integer.MIN_VALUE;
        for (BlockOp op : ops) {
            if (op.volume == last) {
                continue;
            }
            last = op.volume;
            VolumeState v = volumes.apply(op.volume);
            if (v == null || v.deleted || b.deletedVolumes.contains(op.volume)) {
                return new IOException("volume " + (v == null ? "id " + op.volume : "'" + v.name + "'")
                        + " was deleted");
            }
        }
        return null;
    }

    /**
     * True if the metadata file system is low on space and these ops need new space: on a full
     * metadata file system only changes that need none go through (UNMAP, and overwrites of mapped
     * blocks with existing chunks or zeros). Reads only.
     */
    private boolean needsSpace(Batch b, List<BlockOp> ops) throws IOException {
        if (!meta.lowSpace()) {
            return false;
        }
        for (BlockOp op : ops) {
            if (op.kind == BlockOp.Kind.NEW || op.kind == BlockOp.Kind.STAGED
                    || (op.kind != BlockOp.Kind.UNMAP && b.txn.block(op.volume, op.dblock) == MetaTxn.ABSENT)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Applies block-map changes from inside a task's batch ({@link VolumeCopies}: a whole-volume
     * clone or rollback is one task, so it commits in one transaction with exact refcounts).
     */
    void applyInTask(Batch b, List<BlockOp> ops) throws IOException {
        applyOps(b, ops);
    }

    private void applyOps(Batch b, List<BlockOp> ops) throws IOException {
        int n = ops.size();
        long[] old = new long[n];
        for (int i = 0; i < n; i++) {
            old[i] = b.txn.block(ops.get(i).volume, ops.get(i).dblock);
        }
        long[] target = new long[n];
        for (int i = 0; i < n; i++) {
            BlockOp op = ops.get(i);
            target[i] = switch (op.kind) {
                case ZERO -> MetaTxn.ZERO;
                case UNMAP -> MetaTxn.ABSENT;
                case EXISTING -> reference(b, op.chunkId, op, old[i]);
                case NEW -> resolveNew(b, op, old[i]);
                case STAGED -> stage(b, op);
            };
        }
        for (int i = 0; i < n; i++) {
            BlockOp op = ops.get(i);
            long o = old[i];
            long t = target[i];
            if (o > 0 && o != t) {
                b.decRef(o);
            }
            if (t == MetaTxn.ABSENT) {
                if (o != MetaTxn.ABSENT) {
                    b.txn.deleteBlock(op.volume, op.dblock);
                }
            } else if (t != o) {
                b.txn.putBlock(op.volume, op.dblock, t);
            }
            if (t != o) {
                b.journal.map(op.volume, op.dblock, t == MetaTxn.ABSENT ? JournalFormat.UNMAPPED : t);
            }
            VolumeDelta d = b.volumeDelta(op.volume);
            d.count(o, -1);
            d.count(t, +1);
            if (t > 0 && t != o && op.kind == BlockOp.Kind.EXISTING && op.fingerprint == null) {
                stageCopy(b, op, t);
            }
        }
    }

    /**
     * A reference copied (XCOPY, clone, snapshot: an EXISTING op without a fingerprint) to a chunk
     * that is not its fingerprint's index entry (a post-process chunk not yet seen by the pass):
     * staged whatever the destination's mode, so the pass shares the copy too.
     */
    private void stageCopy(Batch b, BlockOp op, long chunk) throws IOException {
        if (meta.hasStaged()) {
            ChunkRecord r = b.chunk(chunk);
            if (r != null && b.txn.index(r.fingerprint()) != chunk) {
                b.txn.putStaged(op.volume, op.dblock);
            }
        }
    }

    /**
     * A new chunk of one block of a post-process or no-dedup volume: created unindexed (no lookup,
     * no claim); a post-process volume's block is staged for the next pass.
     */
    private long stage(Batch b, BlockOp op) {
        PendingChunk p = op.pending;
        b.releases.add(p);
        long id = b.createChunk(p.chunkId, p.fingerprint, p.location, p.originalLength, p.flags, false);
        b.resolved.put(p, id);
        b.unindexed.add(p);
        if (op.post) {
            b.txn.putStaged(op.volume, op.dblock);
        }
        return id;
    }

    /** Adds a reference to chunk {@code id} (or stores a fresh copy when it is gone or saturated). */
    private long reference(Batch b, long id, BlockOp op, long old) throws IOException {
        if (id == old) {
            return old;
        }
        ChunkRecord r = b.chunk(id);
        if (r == null || (op.fingerprint != null && !Arrays.equals(r.fingerprint(), op.fingerprint.bytes()))) {
            return newCopy(b, op, null);
        }
        if (r.refCount() >= options.referenceMaxCount()) {
            // A newer copy of the same content (the index points at it once one was made, in this
            // batch too) takes the reference, so N references to a saturated chunk (a reference
            // copy of N such blocks) add one copy, not N. An unhashed chunk has no fingerprint to
            // look up (all unhashed chunks share the zero value): its copy is hashed (newCopy).
            if (RecordFormat.unhashed(r.fingerprint())) {
                return newCopy(b, op, r);
            }
            long idx = b.txn.index(r.fingerprint());
            ChunkRecord e = idx > 0 && idx != id ? b.chunk(idx) : null;
            if (e != null && Arrays.equals(e.fingerprint(), r.fingerprint())
                    && e.refCount() < options.referenceMaxCount()) {
                if (idx != old) {
                    b.putChunk(e.withRefCount(e.refCount() + 1));
                }
                return idx;
            }
            return newCopy(b, op, r);
        }
        b.putChunk(r.withRefCount(r.refCount() + 1));
        return id;
    }

    private long resolveNew(Batch b, BlockOp op, long old) throws IOException {
        PendingChunk p = op.pending;
        Long known = b.resolved.get(p);
        if (known != null) {
            return reference(b, known, op, old);
        }
        if (p.committedId > 0) {
            return reference(b, p.committedId, op, old);
        }
        b.releases.add(p);
        byte[] fp = p.fingerprint.bytes();
        if (p.heals) {
            return heal(b, op, old);
        }
        long idx = b.txn.index(fp);
        boolean indexIt = true;
        if (idx > 0) {
            ChunkRecord e = b.chunk(idx);
            if (e == null || !Arrays.equals(e.fingerprint(), fp)) {
                throw new MetaCorruptException("fingerprint index entry " + p.fingerprint + " points to chunk " + idx
                        + (e == null ? " which does not exist" : " with another fingerprint"));
            }
            // a chunk known damaged is not shared: this block's record becomes a new chunk that takes
            // over the index entry (a write that re-stores the damaged chunk itself heals it: heal())
            ChunkIo.StoredMatch match = chunkIo.isDamaged(idx) ? ChunkIo.StoredMatch.DAMAGED
                    : options.verify() ? b.io.compare(op, e) : ChunkIo.StoredMatch.SAME;
            if (match == null) {
                match = ChunkIo.StoredMatch.SAME; // a stand-in: this attempt is redone with the answer
            } else if (match != ChunkIo.StoredMatch.SAME && options.verify()) {
                dedupIndex.noteVerifyMismatch(e.id(), p.fingerprint, match);
            }
            boolean same = match == ChunkIo.StoredMatch.SAME;
            if (same && (e.refCount() < options.referenceMaxCount() || idx == old)) {
                b.noteEnd(p.location);
                b.resolved.put(p, idx);
                if (idx != old) {
                    b.putChunk(e.withRefCount(e.refCount() + 1));
                }
                return idx;
            }
            indexIt = match != ChunkIo.StoredMatch.DIFFERENT; // a damaged chunk's fresh copy takes over its index entry
        }
        long id = b.createChunk(p.chunkId, p.fingerprint, p.location, p.originalLength, p.flags, indexIt);
        b.resolved.put(p, id);
        return id;
    }

    /**
     * A write of a damaged chunk's content whose record carries that chunk's id: the chunk moves to
     * the new record (every block that maps it reads sound data again; the old record's bytes become
     * reclaimable). If the chunk is gone or no longer holds this content, the block gets a chunk of
     * its own (the record cannot be used: it names another chunk's id).
     */
    private long heal(Batch b, BlockOp op, long old) throws IOException {
        PendingChunk p = op.pending;
        long id = p.chunkId;
        ChunkRecord e = b.chunk(id);
        if (e == null || !Arrays.equals(e.fingerprint(), p.fingerprint.bytes()) || e.refCount() >= options
                .referenceMaxCount() && id != old || options.verify()
                && b.io.compare(op, e) == ChunkIo.StoredMatch.DIFFERENT) {
            b.noteEnd(p.location); // the record is dead
            long fresh = newCopy(b, op, null);
            if (fresh != MetaTxn.ZERO) { // not a stand-in (OutsideIo)
                b.resolved.put(p, fresh);
            }
            return fresh;
        }
        b.restore(e, p.location, p.flags);
        b.resolved.put(p, id);
        b.afterCommit.add(() -> chunkIo.healed(id));
        if (id != old) {
            b.putChunk(b.chunk(id).withRefCount(e.refCount() + 1));
        }
        return id;
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A fresh copy of {@code op}'s block as a chunk of its own: of the bytes the op carries, else of
     * the chunk it references ({@code existing}, or {@code op.chunkId}'s). The copy is stored outside
     * the transaction ({@link OutsideIo}); until it is, the block maps to zeros in this attempt,
     * which is then redone.
     */
    private long newCopy(Batch b, BlockOp op, ChunkRecord existing) throws IOException {
        ChunkRecord src = null;
        if (op.data == null) {
            src = existing != null ? existing : b.chunk(op.chunkId);
            if (src == null) {
                throw new IOException("chunk " + op.chunkId + " vanished while being referenced");
            }
        }
        PendingChunk copy = b.io.copy(op, src);
        if (copy == null) {
            return MetaTxn.ZERO; // a stand-in: this attempt is redone with the copy
        }
        b.releases.add(copy);
        long id = b.createChunk(copy.chunkId, copy.fingerprint, copy.location, copy.originalLength, copy.flags, true);
        if (op.pending != null) {
            b.resolved.put(op.pending, id);
        }
        return id;
    }

    /**
     * Stores a fresh copy of {@code op}'s block (of chunk {@code src}'s bytes when the op carries
     * none): device I/O, outside any transaction. A chunk written without hashing has no
     * fingerprint: its copy gets the real one.
     */
    private PendingChunk storeCopy(BlockOp op, ChunkRecord src) throws IOException {
        java.nio.ByteBuffer data = op.data;
        Fingerprint fp = op.fingerprint;
        if (data == null) {
            byte[] bytes = chunkIo.bytes(src);
            data = java.nio.ByteBuffer.wrap(bytes);
            fp = RecordFormat.unhashed(src.fingerprint()) ? new Fingerprint(sha256(bytes))
                    : new Fingerprint(src.fingerprint());
        }
        return chunkIo.storeNew(fp, data);
    }

    /**
     * The device I/O that resolving a set of items needs, done between attempts, outside the LMDB
     * write transaction: {@code verify}'s comparison of a block with a stored chunk, and a fresh copy
     * of a block (when the chunk it would share is gone, saturated or holds other bytes). An attempt
     * that needs an answer not here yet notes it and resolves on with a stand-in (the comparison
     * "same", the copy "zeros"); {@code commitItems} then aborts it before its journal, runs the
     * noted I/O and tries the items again, which find the answers here. Committer thread only.
     */
    private final class OutsideIo {
        /** A chunk record as it was compared: a record moved by cleanup is compared again. */
        private record Stored(long chunk, Location at) {
        }

        private record Wanted(Work work, BlockOp op, ChunkRecord stored, boolean compare) {
        }

        private final Map<BlockOp, Map<Stored, ChunkIo.StoredMatch>> compares = new IdentityHashMap<>();
        private final Map<BlockOp, PendingChunk> copies = new IdentityHashMap<>();
        private final List<Wanted> wanted = new ArrayList<>();
        /** The item being resolved (its I/O failing fails it). */
        Work current;

        /** How {@code op}'s bytes compare with chunk {@code e}'s, or null: not known yet (noted). */
        ChunkIo.StoredMatch compare(BlockOp op, ChunkRecord e) {
            Map<Stored, ChunkIo.StoredMatch> m = compares.get(op);
            ChunkIo.StoredMatch r = m == null ? null : m.get(new Stored(e.id(), e.location()));
            if (r == null) {
                wanted.add(new Wanted(current, op, e, true));
            }
            return r;
        }

        /** The fresh copy of {@code op}'s block (of chunk {@code src}'s bytes), or null: not stored yet (noted). */
        PendingChunk copy(BlockOp op, ChunkRecord src) {
            PendingChunk c = copies.get(op);
            if (c == null) {
                wanted.add(new Wanted(current, op, src, false));
            }
            return c;
        }

        boolean pending() {
            return !wanted.isEmpty();
        }

        /** Runs the noted I/O; an item whose I/O fails fails with that error. */
        void run(Set<Work> failed, Map<Work, Throwable> failures) {
            List<Wanted> todo = new ArrayList<>(wanted);
            wanted.clear();
            for (Wanted w : todo) {
                if (failed.contains(w.work())) {
                    continue;
                }
                try {
                    if (w.compare()) {
                        compares.computeIfAbsent(w.op(), k -> new HashMap<>()).putIfAbsent(
                                new Stored(w.stored().id(), w.stored().location()),
                                chunkIo.compareStored(w.stored(), w.op().data));
                    } else if (!copies.containsKey(w.op())) {
                        copies.put(w.op(), storeCopy(w.op(), w.stored()));
                    }
                } catch (IOException | RuntimeException e) {
                    failed.add(w.work());
                    failures.put(w.work(), e);
                }
            }
        }

        /**
         * After the last attempt: every copy lowers its container's pending count (once: a copy
         * the committed batch uses has done so already), so the record of a copy no attempt kept is
         * reclaimable garbage.
         */
        void releaseCopies() {
            for (PendingChunk c : copies.values()) {
                c.release(store);
            }
        }
    }

    private void finish(Batch b) {
        for (Map.Entry<Long, ChunkRecord> e : b.chunks.entrySet()) {
            if (e.getValue() == null) {
                b.txn.deleteChunk(e.getKey());
            } else {
                b.txn.putChunk(e.getValue());
            }
        }
        ledger.write(b.txn, b.ledger, unpersisted);
        for (Map.Entry<Integer, VolumeDelta> e : b.volumeDelta.entrySet()) {
            VolumeState v = volumes.apply(e.getKey());
            if (v == null || b.deletedVolumes.contains(e.getKey())) {
                continue;
            }
            long cap = b.capacity.getOrDefault(v.id, v.capacityBytes);
            b.txn.putVolume(v.record(e.getValue().dataBlocks, e.getValue().zeroBlocks, cap));
        }
        for (Map.Entry<Integer, Long> e : b.capacity.entrySet()) {
            VolumeState v = volumes.apply(e.getKey());
            if (v != null && !b.volumeDelta.containsKey(e.getKey())) {
                b.txn.putVolume(v.record(0, 0, e.getValue()));
            }
        }
        b.txn.putCounters(counters(b));
    }

    private PoolCounters counters(Batch b) {
        return new PoolCounters(PoolCounters.FORMAT_VERSION, poolUuid, store.slotSize(),
                chunkIo.peekChunkId(), store.nextContainerId(), b.nextVolumeId(this),
                uniqueChunks + b.dUniqueChunks, uniqueBytes + b.dUniqueBytes, storedBytes + b.dStoredBytes);
    }

    private void publish(Batch b) {
        generation++;
        ledger.publish(b.ledger);
        uniqueChunks += b.dUniqueChunks;
        uniqueBytes += b.dUniqueBytes;
        storedBytes += b.dStoredBytes;
        if (b.newNextVolumeId > 0) {
            nextVolumeId = b.newNextVolumeId;
        }
        for (Map.Entry<Integer, VolumeDelta> e : b.volumeDelta.entrySet()) {
            VolumeState v = volumes.apply(e.getKey());
            if (v != null) {
                v.dataBlocks += e.getValue().dataBlocks;
                v.zeroBlocks += e.getValue().zeroBlocks;
            }
        }
        for (Map.Entry<Integer, Long> e : b.capacity.entrySet()) {
            VolumeState v = volumes.apply(e.getKey());
            if (v != null) {
                v.capacityBytes = e.getValue();
            }
        }
        Set<Fingerprint> cached = new HashSet<>();
        for (Map.Entry<PendingChunk, Long> e : b.resolved.entrySet()) {
            PendingChunk p = e.getKey();
            p.committedId = e.getValue();
            // a staged chunk is not in the index, so not in its cache either
            if (!b.unindexed.contains(p)
                    && (e.getValue().equals(b.indexed.get(p.fingerprint)) || !b.indexed.containsKey(p.fingerprint))) {
                dedupIndex.publish(p.fingerprint, e.getValue());
                cached.add(p.fingerprint);
            }
            dedupIndex.settle(p);
        }
        for (PendingChunk p : b.releases) {
            p.release(store);
        }
        for (Map.Entry<Fingerprint, Long> e : b.indexed.entrySet()) {
            if (!cached.contains(e.getKey())) {
                dedupIndex.publish(e.getKey(), e.getValue());
            }
        }
        for (ChunkRecord r : b.freed) {
            dedupIndex.forget(new Fingerprint(r.fingerprint()), r.id());
            chunkIo.blockCache().invalidate(r.id());
        }
        for (Runnable r : b.afterCommit) {
            r.run();
        }
    }

    /** Refuses new work; work already queued is still committed by its callers. */
    @Override
    public void close() {
        running = false;
    }

    /** What one batch changes in one volume's block counts. */
    static final class VolumeDelta {
        long dataBlocks;
        long zeroBlocks;

        /** A block-map entry {@code ref} (a chunk id, the zero marker or absent) comes ({@code +1}) or goes ({@code -1}). */
        void count(long ref, int sign) {
            if (ref > 0) {
                dataBlocks += sign;
            } else if (ref == MetaTxn.ZERO) {
                zeroBlocks += sign;
            }
        }
    }

    /**
     * The uncommitted changes of one batch: dirty chunk records, container/volume/pool deltas and
     * what to publish after the commit. Discarded wholesale when the transaction is replayed.
     */
    static final class Batch {
        final MetaWriteTxn txn;
        /** Dirty chunk records (null: deleted), in id order: new ids are then appended to the chunk table. */
        final Map<Long, ChunkRecord> chunks = new java.util.TreeMap<>();
        /** The container ledger changes of this batch. */
        final ContainerLedger.Changes ledger = new ContainerLedger.Changes();
        final Map<Integer, VolumeDelta> volumeDelta = new HashMap<>();
        final Map<Integer, Long> capacity = new HashMap<>();
        final Set<Integer> deletedVolumes = new HashSet<>();
        final IdentityHashMap<PendingChunk, Long> resolved = new IdentityHashMap<>();
        /** Chunks of this batch created without an index entry (post-process and no-dedup volumes). */
        final Set<PendingChunk> unindexed = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        final List<PendingChunk> releases = new ArrayList<>();
        final Map<Fingerprint, Long> indexed = new HashMap<>();
        final List<ChunkRecord> freed = new ArrayList<>();
        final List<Runnable> afterCommit = new ArrayList<>();
        /** The block-map changes and chunk locations of this batch, journaled before its commit. */
        final JournalFormat.ChangesBuilder journal = new JournalFormat.ChangesBuilder();
        /** Set to journal the whole volume catalogue with this batch (also set by detected changes). */
        boolean catalogueChanged;
        /** Journal records appended for this batch (released after the commit) and their sequence numbers. */
        final List<Location> journaled = new ArrayList<>();
        final List<Long> journalSeqs = new ArrayList<>();
        long dUniqueChunks;
        long dUniqueBytes;
        long dStoredBytes;
        int newNextVolumeId;

        /** The device I/O of the items being committed, done outside the transaction. */
        final OutsideIo io;

        Batch(MetaWriteTxn txn, OutsideIo io) {
            this.txn = txn;
            this.io = io;
        }

        ChunkRecord chunk(long id) throws MetaCorruptException {
            if (chunks.containsKey(id)) {
                return chunks.get(id);
            }
            return txn.chunk(id);
        }

        void putChunk(ChunkRecord r) {
            chunks.put(r.id(), r);
        }

        /**
         * Writes the dirty chunk records into the transaction now and forgets them (reads fall back
         * to the transaction, so nothing changes but the heap a long task needs: a whole-volume
         * clone spills after each piece instead of holding every chunk it touched).
         */
        void spillChunks() {
            for (Map.Entry<Long, ChunkRecord> e : chunks.entrySet()) {
                if (e.getValue() == null) {
                    txn.deleteChunk(e.getKey());
                } else {
                    txn.putChunk(e.getValue());
                }
            }
            chunks.clear();
        }

        VolumeDelta volumeDelta(int volume) {
            return volumeDelta.computeIfAbsent(volume, k -> new VolumeDelta());
        }

        /** Counts a record's bytes as committed (live or dead) in its container. */
        void noteEnd(Location loc) {
            ledger.record(loc);
        }

        long createChunk(long id, Fingerprint fp, Location loc, int originalLength, int flags, boolean index) {
            if (index && RecordFormat.unhashed(fp.bytes())) {
                // the zero value is no fingerprint: every unhashed chunk has it (a guard: never reached)
                throw new IllegalStateException("chunk " + id + " has no fingerprint and cannot be indexed");
            }
            putChunk(new ChunkRecord(id, fp.bytes(), loc.containerId(), loc.offset(), loc.length(), originalLength,
                    flags, 1));
            journal.location(id, loc);
            if (index) {
                txn.putIndex(fp.bytes(), id);
                indexed.put(fp, id);
            }
            ledger.live(loc);
            dUniqueChunks++;
            dUniqueBytes += originalLength;
            dStoredBytes += loc.length();
            return id;
        }

        void decRef(long id) throws MetaCorruptException {
            ChunkRecord r = chunk(id);
            if (r == null) {
                throw new MetaCorruptException("block map references chunk " + id + " which does not exist");
            }
            if (r.refCount() > 1) {
                putChunk(r.withRefCount(r.refCount() - 1));
                return;
            }
            chunks.put(id, null);
            if (txn.index(r.fingerprint()) == id) {
                txn.deleteIndex(r.fingerprint());
                indexed.remove(new Fingerprint(r.fingerprint()));
            }
            ledger.dead(r);
            dUniqueChunks--;
            dUniqueBytes -= r.originalLength();
            dStoredBytes -= r.length();
            freed.add(r);
        }

        /** Moves a live chunk's location (garbage collection): same record, another place. */
        void relocate(ChunkRecord r, Location to) {
            restore(r, to, r.flags());
        }

        /**
         * Points a live chunk at a new record of another size and form (recompression): the old
         * record's bytes become dead in their container (reclaimable), the new record's are live,
         * and the pool's stored bytes change by the difference.
         */
        void restore(ChunkRecord r, Location to, int flags) {
            putChunk(r.withStorage(to, flags));
            journal.location(r.id(), to);
            ledger.dead(r);
            ledger.live(to);
            dStoredBytes += to.length() - r.length();
        }

        int nextVolumeId(Committer c) {
            return newNextVolumeId > 0 ? newNextVolumeId : c.nextVolumeId;
        }
    }
}
