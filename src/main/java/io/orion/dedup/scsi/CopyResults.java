package io.orion.dedup.scsi;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the copy operations of one logical unit left for RECEIVE COPY RESULTS and RECEIVE ROD TOKEN
 * INFORMATION (SPC-4 §6.18, §6.20; SBC-3 §5.8): per I_T nexus and list identifier, the status of
 * the last EXTENDED COPY, POPULATE TOKEN or WRITE USING TOKEN, its counts, sense data and (POPULATE
 * TOKEN) the token. A completed result is handed out once; a nexus that goes away loses its
 * results; at most {@link #MAX_PER_NEXUS} are kept per nexus (the oldest go first).
 *
 * <p>Thread-safe: one monitor; nothing here does I/O.
 */
final class CopyResults {

    static final int MAX_PER_NEXUS = 64;

    /** Copy operation status codes (SPC-4 Table 125, RECEIVE COPY STATUS(LID4)). */
    static final int IN_PROGRESS = 0x10;
    static final int COMPLETED = 0x01;
    static final int FAILED = 0x02;
    static final int RESIDUAL = 0x03;

    /** One list identifier's operation. Fields are written by the copy's thread, then published. */
    static final class Entry {
        final int serviceAction;
        final long listId;
        volatile int status = IN_PROGRESS;
        volatile int segments;
        volatile long bytes;
        volatile long blocks;
        volatile byte[] sense;
        volatile byte[] token;

        Entry(int serviceAction, long listId) {
            this.serviceAction = serviceAction;
            this.listId = listId;
        }

        boolean done() {
            return status != IN_PROGRESS;
        }
    }

    private final Map<Nexus, LinkedHashMap<Long, Entry>> byNexus = new ConcurrentHashMap<>();

    /**
     * Starts an operation under {@code listId}; with {@code hold} false the result is not kept
     * (EXTENDED COPY with LIST ID USAGE 11b).
     *
     * @throws SenseException OPERATION IN PROGRESS when that list identifier's copy is running
     */
    synchronized Entry start(Nexus nexus, long listId, int serviceAction, boolean hold) {
        Entry e = new Entry(serviceAction, listId);
        if (!hold) {
            return e;
        }
        LinkedHashMap<Long, Entry> m = byNexus.computeIfAbsent(nexus, n -> new LinkedHashMap<>());
        Entry old = m.get(listId);
        if (old != null && !old.done()) {
            throw SenseReason.OPERATION_IN_PROGRESS.ex();
        }
        m.remove(listId);
        m.put(listId, e);
        Iterator<Entry> it = m.values().iterator();
        while (m.size() > MAX_PER_NEXUS && it.hasNext()) {
            if (it.next().done()) {
                it.remove();
            }
        }
        return e;
    }

    /**
     * The result for {@code listId}, or null; a completed one is removed (it is reported once).
     *
     * @param completedOnly only a completed operation counts (RECEIVE COPY FAILURE DETAILS)
     */
    synchronized Entry take(Nexus nexus, long listId, boolean completedOnly) {
        LinkedHashMap<Long, Entry> m = byNexus.get(nexus);
        Entry e = m == null ? null : m.get(listId);
        if (e == null || (completedOnly && !e.done())) {
            return null;
        }
        if (e.done()) {
            m.remove(listId);
        }
        return e;
    }

    /** The nexus is gone: its held results are discarded. */
    synchronized void forget(Nexus nexus) {
        byNexus.remove(nexus);
    }
}
