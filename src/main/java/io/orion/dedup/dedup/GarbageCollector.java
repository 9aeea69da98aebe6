package io.orion.dedup.dedup;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.containers.ChunkStore;
import io.orion.dedup.containers.Container;
import io.orion.dedup.containers.ContainerWalker;
import io.orion.dedup.containers.JournalFormat;
import io.orion.dedup.containers.Location;
import io.orion.dedup.containers.RecordFormat;
import io.orion.dedup.containers.SlotHeader;
import io.orion.dedup.blockdev.OutOfSpaceException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reference cleanup: compacts sealed containers whose live fraction fell below the threshold.
 *
 * <p>Steps, each crash-safe: (1) pick victims (sealed, no uncommitted records, live fraction below
 * {@code gcLiveThreshold}, or no live chunk at all; an open container that fell below the
 * threshold is sealed first); (2) find their live chunks from the victims themselves, never by a
 * scan of the chunk table: one walk of each victim's committed part on its device lists the chunk
 * records it holds (and what its journal records name), and one read transaction looks their ids
 * up; a record is live when its chunk's location is this record's, and the live records found must
 * be as many as the container's ledger entry counts (else the container is kept); (3) copy each live record byte for byte (it is
 * self-describing and keeps its chunk id) into the open containers, throttled to
 * {@code gcBytesPerSecond}; (4) force the devices; (5) in one committer transaction point every
 * still-live chunk at its copy and drop the emptied containers' records; (6) flush (LMDB synced);
 * (7) only then release the slots for reuse (a plain file is truncated when its top slots free up).
 * A crash before (5) leaves the victims untouched (the copies are dead bytes); after (5) the
 * metadata no longer references the victims. Readers that looked up an old location while it moved
 * detect the reused slot by the record's chunk id and CRC and look the chunk up again.
 *
 * <p>Threads: one run at a time (a lock, shared with {@link Recompressor}); foreground I/O continues
 * throughout.
 */
final class GarbageCollector {
    private static final Logger LOG = LoggerFactory.getLogger(GarbageCollector.class);

    private final PoolOptions options;
    private final MetaStore meta;
    private final ChunkStore store;
    private final ChunkIo chunkIo;
    private final Committer committer;
    private final PoolHealth health;
    /** The pool's volume catalogue: a volume's state by id (null once deleted). */
    private final IntFunction<VolumeState> volumes;
    private final ReentrantLock running = new ReentrantLock();
    private volatile boolean stopped;

    GarbageCollector(PoolOptions options, MetaStore meta, ChunkStore store, ChunkIo chunkIo, Committer committer,
                     PoolHealth health, IntFunction<VolumeState> volumes) {
        this.options = options;
        this.meta = meta;
        this.store = store;
        this.chunkIo = chunkIo;
        this.committer = committer;
        this.health = health;
        this.volumes = volumes;
    }

    void stop() {
        stopped = true;
    }

    /** Held by a cleanup run; other passes that move records (recompression) take it too. */
    ReentrantLock runLock() {
        return running;
    }

    CleanupResult run() throws IOException {
        return run(WorkMonitor.NONE);
    }

    CleanupResult run(WorkMonitor monitor) throws IOException {
        running.lock();
        try {
            health.checkWritable();
            lastLookedUp = 0;
            return collect(monitor);
        } finally {
            running.unlock();
        }
    }

    private record Move(ChunkRecord chunk, Location to) {
    }

    private CleanupResult collect(WorkMonitor monitor) throws IOException {
        double threshold = options.gcLiveThreshold();
        List<Container> victims = new ArrayList<>();
        for (Container c : store.containers()) {
            if (!c.sealed() && c.committedEnd() > SlotHeader.SIZE && c.liveFraction() < threshold) {
                store.seal(c);
            }
        }
        for (Container c : store.containers()) {
            if (!c.sealed() || c.pending() != 0 || c.damage() != null) {
                continue;
            }
            if ((c.liveCount() == 0 && c.journalBytes() == 0)
                    || (c.committedEnd() > SlotHeader.SIZE && c.liveFraction() < threshold)) {
                if (store.condemn(c)) {
                    victims.add(c);
                }
            }
        }
        if (victims.isEmpty()) {
            monitor.begin(0);
            return new CleanupResult(0, 0, 0, 0, 0);
        }
        try {
            int firstNew = store.nextContainerId();
            CleanupResult r = collect(victims, monitor);
            if (r.containersCompacted() > 0 && !r.cancelled()) {
                r = plus(r, journalOnlyAboveFreeSlots(firstNew));
            }
            return r;
        } finally {
            for (Container c : victims) {
                if (store.container(c.id()) == c) {
                    store.spare(c); // kept
                }
            }
        }
    }

    private static CleanupResult plus(CleanupResult a, CleanupResult b) {
        return new CleanupResult(a.containersCompacted() + b.containersCompacted(), a.chunksMoved() + b.chunksMoved(),
                a.bytesMoved() + b.bytesMoved(), a.chunksReclaimed() + b.chunksReclaimed(),
                a.bytesReclaimed() + b.bytesReclaimed(), a.cancelled() || b.cancelled());
    }

    /**
     * A run that freed containers wrote its journal records into a container opened meanwhile,
     * above the slots it freed (they were still in use when it opened). When that container holds
     * nothing but journal records, it is compacted once more so its records move down into the
     * lowest free slot, and a plain file can be cut back.
     */
    private CleanupResult journalOnlyAboveFreeSlots(int firstNew) throws IOException {
        List<Container> again = new ArrayList<>();
        for (Container c : store.containers()) {
            if (c.id() >= firstNew && c.liveCount() == 0 && c.journalBytes() > 0 && c.device().usedSlots() <= c.slot()) {
                store.seal(c);
                if (store.condemn(c)) {
                    again.add(c);
                }
            }
        }
        if (again.isEmpty()) {
            return new CleanupResult(0, 0, 0, 0, 0);
        }
        try {
            return collect(again, WorkMonitor.NONE); // a small second pass: journal records only
        } finally {
            for (Container c : again) {
                if (store.container(c.id()) == c) {
                    store.spare(c);
                }
            }
        }
    }

    private CleanupResult collect(List<Container> victims, WorkMonitor monitor) throws IOException {
        double threshold = options.gcLiveThreshold();
        victims.sort(Comparator.comparingDouble(Container::liveFraction));
        Map<Integer, Container> byId = new HashMap<>();
        for (Container c : victims) {
            byId.put(c.id(), c);
        }
        Set<Integer> skipped = new HashSet<>();
        Map<Integer, JournalNames> named = new HashMap<>();
        Map<Integer, List<ChunkRecord>> live = new HashMap<>();
        for (Container c : victims) {
            try {
                JournalNames n = walk(c);
                live.put(c.id(), liveChunks(c, n));
                n.records.clear(); // held for one victim at a time (a run may free thousands)
                named.put(c.id(), n);
            } catch (IOException e) {
                LOG.error("{}; container kept", e.getMessage());
                skipped.add(c.id());
            }
        }
        List<Move> moves = new ArrayList<>();
        long moved = 0;
        long started = System.nanoTime();
        long rate = monitor.rate(options.gcBytesPerSecond());
        long toCopy = 0;
        for (Container c : victims) {
            toCopy += c.liveBytes();
        }
        monitor.begin(toCopy);
        boolean noSpace = false;
        boolean cancelled = false;
        for (Container c : victims) {
            if (stopped) {
                throw new IOException("pool is closing");
            }
            if (!cancelled && monitor.cancelled()) {
                cancelled = true;
            }
            if (skipped.contains(c.id())) {
                continue;
            }
            if (noSpace || cancelled) {
                // no room for copies: the containers left keep their records (emptied ones, which
                // need no copying, sort first and are still freed)
                if (c.liveCount() != 0) {
                    skipped.add(c.id());
                }
                continue;
            }
            List<ChunkRecord> chunks = new ArrayList<>(live.getOrDefault(c.id(), List.of()));
            chunks.sort(Comparator.comparingInt(ChunkRecord::offset));
            List<ChunkRecord> group = new ArrayList<>();
            List<ByteBuffer> raws = new ArrayList<>();
            int groupBytes = 0;
            for (ChunkRecord r : chunks) {
                if (monitor.cancelled()) {
                    // stop mid-container: what was copied is committed below, the container stays
                    cancelled = true;
                    skipped.add(c.id());
                    break;
                }
                ChunkIo.Checked read;
                try {
                    read = chunkIo.read(r, false);
                } catch (IOException e) {
                    read = new ChunkIo.Checked(null, null, "unreadable: " + e.getMessage());
                }
                String bad = read.problem();
                ByteBuffer raw = read.record();
                if (bad != null) {
                    chunkIo.countChecksumError(r);
                    LOG.error("cleanup: chunk {} in container {} failed its check ({}); container kept", r.id(),
                            c.id(), bad);
                    skipped.add(c.id());
                    break;
                }
                group.add(r);
                raws.add(raw);
                groupBytes += r.length();
                if (groupBytes >= (1 << 20)) {
                    long n = copyUnlessFull(c, group, raws, moves);
                    if (n < 0) {
                        noSpace = true;
                        skipped.add(c.id());
                        break;
                    }
                    moved += n;
                    monitor.advance(n);
                    group.clear();
                    raws.clear();
                    groupBytes = 0;
                    monitor.pace(moved, started, rate, "cleanup");
                }
            }
            if (!group.isEmpty() && !noSpace) {
                long n = copyUnlessFull(c, group, raws, moves);
                if (n < 0) {
                    noSpace = true;
                    skipped.add(c.id());
                } else {
                    moved += n;
                    monitor.advance(n);
                }
                monitor.pace(moved, started, rate, "cleanup");
            }
        }
        if (!moves.isEmpty()) {
            store.forceAll();
        }
        for (Container c : victims) {
            if (skipped.contains(c.id())) {
                store.spare(c); // kept: the room left at its end may take this run's journal records
            }
        }
        List<Integer> toFree;
        // per container: the live chunks copied out of it (count, bytes), as the committed task saw them
        Map<Integer, long[]> copiedOut = new HashMap<>();
        while (true) {
            try {
                toFree = committer.run(b -> {
                    copiedOut.clear(); // the task runs again from scratch when its batch is replayed
                    for (Move m : moves) {
                        ChunkRecord cur = b.chunk(m.chunk.id());
                        if (cur != null && cur.containerId() == m.chunk.containerId() && cur.offset() == m.chunk.offset()) {
                            b.relocate(cur, m.to);
                            long[] x = copiedOut.computeIfAbsent(m.chunk.containerId(), k -> new long[2]);
                            x[0]++;
                            x[1] += m.chunk.length();
                        } else {
                            b.noteEnd(m.to);
                        }
                    }
                    List<Integer> free = new ArrayList<>();
                    for (Container c : victims) {
                        if (skipped.contains(c.id())) {
                            continue;
                        }
                        if (ContainerLedger.liveCountAfter(c, b.ledger) == 0) {
                            b.ledger.delete(c.id());
                            free.add(c.id());
                            rejournal(b, named.get(c.id()));
                        }
                    }
                    b.afterCommit.add(() -> moves.forEach(m -> store.release(m.to)));
                    return free;
                });
                break;
            } catch (OutOfSpaceException e) {
                // no room anywhere for this run's journal records (every container is a victim and
                // no slot is free): keep the victim with the most room at its end, so its room takes
                // them; it goes in a later run, once slots are free
                Container keep = null;
                for (Container c : victims) {
                    if (!skipped.contains(c.id()) && (keep == null || c.committedEnd() < keep.committedEnd())) {
                        keep = c;
                    }
                }
                if (keep == null) {
                    throw e;
                }
                skipped.add(keep.id());
                store.spare(keep);
            }
        }
        committer.flush();
        // what a freed container held besides the live chunks copied out of it and its journal records
        long bytes = 0;
        long chunks = 0;
        for (int id : toFree) {
            Container c = byId.get(id);
            long[] out = copiedOut.getOrDefault(id, new long[2]);
            bytes += c.committedEnd() - SlotHeader.SIZE - out[1] - c.journalBytes();
            chunks += named.get(id).chunkRecords - out[0];
            store.free(id);
        }
        if (!toFree.isEmpty()) {
            store.forceAll(); // the cleared slot headers (a rebuild from the devices must not find them)
        }
        CleanupResult result = new CleanupResult(toFree.size(), moves.size(), moved, chunks, bytes, cancelled);
        LOG.debug("cleanup done: {}", result);
        return result;
    }

    /**
     * What a victim's committed part holds: the chunk records (their ids and offsets, in container
     * order) and what its journal records name (blocks, chunk locations, the catalogue).
     */
    private static final class JournalNames {
        final List<long[]> records = new ArrayList<>();
        final Map<Integer, java.util.TreeSet<Long>> blocks = new HashMap<>();
        final java.util.TreeSet<Long> chunks = new java.util.TreeSet<>();
        /** Range entries (volume, first block, count): held as ranges, never block by block. */
        final List<long[]> ranges = new ArrayList<>();
        boolean catalogue;
        /** Chunk records in the committed part, live or dead (journal records are not counted). */
        long chunkRecords;
    }

    /** Walks a victim's committed part once: its chunk records and its journal records. */
    private JournalNames walk(Container c) throws IOException {
        JournalNames n = new JournalNames();
        ContainerWalker.Result r = ContainerWalker.walk(c.device(), c.device().slotBase(c.slot()), SlotHeader.SIZE,
                c.committedEnd(), new ContainerWalker.Visitor() {
                    @Override
                    public void chunk(long offset, ByteBuffer record) {
                        n.chunkRecords++;
                        n.records.add(new long[] {RecordFormat.chunkId(record), offset});
                    }

                    @Override
                    public void journal(long offset, ByteBuffer record) {
                        int type = JournalFormat.type(record);
                        if (type == JournalFormat.TYPE_CATALOGUE) {
                            n.catalogue = true;
                        } else if (type == JournalFormat.TYPE_CHANGES) {
                            JournalFormat.readChanges(JournalFormat.payload(record), new JournalFormat.ChangeVisitor() {
                                @Override
                                public void map(int volume, long dblock, long chunkId) {
                                    n.blocks.computeIfAbsent(volume, k -> new java.util.TreeSet<>()).add(dblock);
                                }

                                @Override
                                public void location(long chunkId, int containerId, int offset, int length) {
                                    n.chunks.add(chunkId);
                                }

                                @Override
                                public void range(int volume, long first, long count, long chunkId) {
                                    n.ranges.add(new long[] {volume, first, count});
                                }
                            });
                        }
                    }
                });
        if (r.end() < c.committedEnd()) {
            // the committed part cannot be walked whole: keep the container (its journal stays)
            throw new IOException("cleanup: container " + c.id() + " cannot be walked to its committed end ("
                    + r.why() + " at " + r.end() + ")");
        }
        return n;
    }

    /**
     * Journals anew, from the metadata as this transaction sees it, everything the journal records
     * of a container about to be freed name: the current mapping of each block (of volumes still
     * live), the current location of each chunk still live, and the catalogue. The new records get
     * fresh sequence numbers, so they win over every older copy.
     */
    private void rejournal(Committer.Batch b, JournalNames n) throws IOException {
        if (n == null) {
            return;
        }
        if (n.catalogue) {
            b.catalogueChanged = true;
        }
        for (Map.Entry<Integer, java.util.TreeSet<Long>> e : n.blocks.entrySet()) {
            VolumeState v = volumes.apply(e.getKey());
            if (v == null || v.deleted || b.deletedVolumes.contains(e.getKey())) {
                continue;
            }
            for (long db : e.getValue()) {
                long cur = b.txn.block(e.getKey(), db);
                b.journal.map(e.getKey(), db, cur == MetaTxn.ABSENT ? JournalFormat.UNMAPPED : cur);
            }
        }
        for (long[] r : n.ranges) {
            int vol = (int) r[0];
            VolumeState v = volumes.apply(vol);
            if (v == null || v.deleted || b.deletedVolumes.contains(vol)) {
                continue;
            }
            // the whole range as unmapped, then what is mapped in it now (later entries win)
            b.journal.range(vol, r[1], r[2], JournalFormat.UNMAPPED);
            List<long[]> now = new ArrayList<>();
            b.txn.scanBlocks(vol, r[1], r[1] + r[2], (db, c) -> {
                now.add(new long[] {db, c});
                return true;
            });
            for (long[] m : now) {
                b.journal.map(vol, m[0], m[1]);
            }
        }
        for (long id : n.chunks) {
            ChunkRecord r = b.chunk(id);
            if (r != null) {
                b.journal.location(id, r.location());
            }
        }
    }

    /** Copies a group of records with one append; returns the bytes copied. */
    /** {@link #copy}, or -1 (logged) when the pool has no room for the copies: the container is kept. */
    private long copyUnlessFull(Container c, List<ChunkRecord> group, List<ByteBuffer> raws, List<Move> moves)
            throws IOException {
        try {
            return copy(group, raws, moves);
        } catch (OutOfSpaceException e) {
            LOG.warn("cleanup: no space to copy live chunks of container {}: {}", c.id(), e.getMessage());
            return -1;
        }
    }

    private long copy(List<ChunkRecord> group, List<ByteBuffer> raws, List<Move> moves) throws IOException {
        int total = 0;
        for (ByteBuffer r : raws) {
            total += r.remaining();
        }
        byte[] joined = new byte[total];
        int off = 0;
        for (ByteBuffer r : raws) {
            int n = r.remaining();
            r.duplicate().get(joined, off, n);
            off += n;
        }
        Location at = store.append(joined, total);
        int pos = at.offset();
        for (int i = 0; i < group.size(); i++) {
            ChunkRecord r = group.get(i);
            if (i > 0) {
                store.container(at.containerId()).pendingIncrement();
            }
            moves.add(new Move(r, new Location(at.containerId(), pos, r.length())));
            pos += r.length();
        }
        return total;
    }

    /**
     * Sleeps as long as {@code bytes} done since {@code startedNanos} are ahead of {@code rate}
     * bytes per second, so background work leaves the devices to foreground I/O.
     */
    static void throttle(long bytes, long startedNanos, long rate, String what) throws IOException {
        long dueNanos = (long) (bytes * 1e9 / rate);
        long ahead = dueNanos - (System.nanoTime() - startedNanos);
        if (ahead > 0) {
            try {
                Thread.sleep(ahead / 1_000_000, (int) (ahead % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException(what + " interrupted");
            }
        }
    }

    /** Chunk records the last run looked up to find its victims' live chunks (tests check it). */
    volatile long lastLookedUp;

    /**
     * The live chunks of victim {@code c}: the chunk records its walk found whose chunk is still at
     * that record (one read transaction; a record of a chunk that died or moved is dead). They must
     * be as many as its ledger entry counts live; a difference (a chunk whose record is not where the
     * walk found records, or a count the commits left wrong) keeps the container. A commit between
     * the lookup and the count can make them differ for a moment: looked up again, up to three times.
     */
    private List<ChunkRecord> liveChunks(Container c, JournalNames n) throws IOException {
        int size = n.records.size();
        long[] ids = new long[size];
        for (int i = 0; i < size; i++) {
            ids[i] = n.records.get(i)[0];
        }
        ChunkRecord[] found = new ChunkRecord[size];
        List<ChunkRecord> live = new ArrayList<>();
        long ledger = -1;
        for (int attempt = 0; attempt < 3; attempt++) {
            live.clear();
            try (MetaTxn t = meta.read()) {
                ledger = c.liveCount();
                t.chunks(ids, found);
            }
            lastLookedUp += size;
            for (int i = 0; i < size; i++) {
                ChunkRecord r = found[i];
                if (r != null && r.containerId() == c.id() && r.offset() == n.records.get(i)[1]) {
                    live.add(r);
                }
            }
            if (live.size() == ledger) {
                return live;
            }
        }
        throw new IOException("cleanup: container " + c.id() + " holds " + live.size()
                + " live chunk records, its ledger entry counts " + ledger);
    }
}
