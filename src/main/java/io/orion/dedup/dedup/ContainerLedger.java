package io.orion.dedup.dedup;

import io.orion.dedup.containers.ChunkStore;
import io.orion.dedup.containers.Container;
import io.orion.dedup.containers.Location;
import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.ContainerRecord;
import io.orion.dedup.meta.MetaWriteTxn;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The container ledger: for each container, how far its committed records reach, how many records
 * it holds, its live chunks and their bytes, and its journal bytes, as BookKeeper's {@code
 * EntryLogMetadata} keeps per entry log. Cleanup picks its victims by it and checks what it finds in
 * a victim against it, so it never scans the chunk table.
 *
 * <p>Where it lives: a {@link ContainerRecord} per container in LMDB (written in the commit that
 * changes it) and the same figures in each in-memory {@link Container} (changed after that commit,
 * {@link #publish}). A batch collects its changes in {@link Changes}; the committer thread writes and
 * publishes them, so the in-memory figures are always those of the newest commit.
 */
final class ContainerLedger {
    private final ChunkStore store;

    ContainerLedger(ChunkStore store) {
        this.store = store;
    }

    /** What one batch changes in one container's ledger entry. */
    static final class Delta {
        long liveBytes;
        long liveCount;
        long end;
        long records;
        long journalBytes;

        /** A record written at {@code loc}, live or dead, is committed. */
        void record(Location loc) {
            end = Math.max(end, loc.end());
            records++;
        }

        /** A chunk record at {@code loc} is committed and live. */
        void live(Location loc) {
            liveBytes += loc.length();
            liveCount++;
            record(loc);
        }

        /** Chunk {@code r}'s record (in this container) is no longer live. */
        void dead(ChunkRecord r) {
            liveBytes -= r.length();
            liveCount--;
        }
    }

    /** The ledger changes of one batch (discarded with it when it is replayed). */
    static final class Changes {
        private final Map<Integer, Delta> deltas = new HashMap<>();
        private final Set<Integer> deleted = new HashSet<>();

        private Delta delta(int id) {
            return deltas.computeIfAbsent(id, k -> new Delta());
        }

        /** This batch's change to container {@code id} so far, or null. */
        Delta orNull(int id) {
            return deltas.get(id);
        }

        /** A record at {@code loc}, dead from the start (a copy nothing uses), is committed. */
        void record(Location loc) {
            delta(loc.containerId()).record(loc);
        }

        /** A chunk record at {@code loc} is committed and live. */
        void live(Location loc) {
            delta(loc.containerId()).live(loc);
        }

        /** Chunk {@code r}'s record is no longer live. */
        void dead(ChunkRecord r) {
            delta(r.containerId()).dead(r);
        }

        /** A journal record at {@code loc} is committed (its bytes are not reclaimable garbage). */
        void journal(Location loc) {
            Delta d = delta(loc.containerId());
            d.record(loc);
            d.journalBytes += loc.length();
        }

        /** Container {@code id} is emptied and freed by this batch: its entry goes. */
        void delete(int id) {
            deleted.add(id);
        }
    }

    /**
     * Writes the entries {@code ch} changes, and those of {@code opened} (containers opened since
     * the last commit, whose entries are new), into {@code txn}.
     */
    void write(MetaWriteTxn txn, Changes ch, Collection<Container> opened) {
        Set<Integer> touched = new HashSet<>(ch.deltas.keySet());
        for (Container c : opened) {
            touched.add(c.id());
        }
        for (int id : touched) {
            if (ch.deleted.contains(id)) {
                continue;
            }
            Container c = store.container(id);
            if (c == null) {
                continue;
            }
            Delta d = ch.deltas.getOrDefault(id, new Delta());
            txn.putContainer(new ContainerRecord(id, c.device().index(), c.slot(), c.sealed(),
                    Math.max(c.committedEnd(), d.end), c.liveBytes() + d.liveBytes, c.liveCount() + d.liveCount,
                    c.records() + d.records, c.journalBytes() + d.journalBytes));
        }
        for (int id : ch.deleted) {
            txn.deleteContainer(id);
        }
    }

    /** After the commit of {@code ch}: the in-memory containers take its changes. */
    void publish(Changes ch) {
        for (Map.Entry<Integer, Delta> e : ch.deltas.entrySet()) {
            Container c = store.container(e.getKey());
            if (c != null) {
                Delta d = e.getValue();
                c.applyCommitted(d.liveBytes, d.liveCount, d.end, d.records, d.journalBytes);
            }
        }
    }

    /** Container {@code c}'s live chunks after a batch's changes {@code ch} so far. */
    static long liveCountAfter(Container c, Changes ch) {
        Delta d = ch.orNull(c.id());
        return c.liveCount() + (d == null ? 0 : d.liveCount);
    }
}
