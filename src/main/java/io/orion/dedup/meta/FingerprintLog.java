package io.orion.dedup.meta;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The fingerprint index's recent changes (pool format 4), kept in memory and in the {@code fplog}
 * table, and merged into {@code fpindex} in key order once {@link #mergeAt} fingerprints are held.
 *
 * <p>Why: the index has random keys, so indexing one unique block in {@code fpindex} copies one
 * random leaf page per block. While a flushed state is pinned for a power loss, each of those
 * copies is a fresh page of {@code data.mdb}. Appended to {@code fplog} (keyed by a sequence
 * number), a commit's new fingerprints share one or two leaf pages; a merge of N sorted changes
 * copies each leaf of {@code fpindex} at most once.
 *
 * <p>Rules: for a fingerprint held here, this log is the index's answer (what {@code fpindex} says
 * of it is stale until the merge). The map is changed only by the single write transaction, before
 * its LMDB commit, and put back if that commit fails ({@link MetaWriteTxn}); read transactions use
 * it as a hint that they check against the chunk records of their own snapshot (a miss there costs
 * a dedup, never a wrong share). Each fingerprint has at most one {@code fplog} record: a new change
 * deletes the record of the previous one.
 */
final class FingerprintLog {
    /** A fingerprint's newest change: indexed to chunk {@code id}, recorded as {@code fplog} key {@code seq}. */
    record Entry(long id, long seq) {
    }

    /** The held changes, by fingerprint (a wrapped 32-byte array). */
    final ConcurrentHashMap<ByteBuffer, Entry> map = new ConcurrentHashMap<>();
    /** The next {@code fplog} key (writer only). */
    volatile long nextSeq = 1;
    /** Merge into {@code fpindex} at the commit that holds this many fingerprints (1: every commit). */
    volatile int mergeAt;

    FingerprintLog(int mergeAt) {
        this.mergeAt = Math.max(1, mergeAt);
    }

    static ByteBuffer key(byte[] fp) {
        return ByteBuffer.wrap(fp.length == MetaCodec.INDEX_KEY ? fp.clone() : Arrays.copyOf(fp, MetaCodec.INDEX_KEY));
    }

    Entry get(byte[] fp) {
        return map.isEmpty() ? null : map.get(ByteBuffer.wrap(fp));
    }

    boolean mergeDue() {
        return !map.isEmpty() && map.size() >= mergeAt;
    }

    /** The held changes in {@code fpindex} key order (unsigned bytes). */
    List<Map.Entry<ByteBuffer, Entry>> sorted() {
        List<Map.Entry<ByteBuffer, Entry>> all = new ArrayList<>(map.entrySet());
        all.sort((a, b) -> Arrays.compareUnsigned(a.getKey().array(), b.getKey().array()));
        return all;
    }

    /** What one write transaction changed, to put back if it aborts or its commit fails. */
    static final class Undo {
        private final List<ByteBuffer> keys = new ArrayList<>();
        private final List<Entry> before = new ArrayList<>();
        /** The whole map before a merge emptied it (null: no merge in this transaction). */
        HashMap<ByteBuffer, Entry> merged;

        void changed(ByteBuffer k, Entry previous) {
            keys.add(k);
            before.add(previous);
        }

        boolean isEmpty() {
            return keys.isEmpty() && merged == null;
        }

        /** Puts {@code log}'s map back as it was before the transaction. */
        void rollBack(FingerprintLog log) {
            if (merged != null) {
                log.map.clear();
                log.map.putAll(merged);
            }
            for (int i = keys.size() - 1; i >= 0; i--) {
                Entry e = before.get(i);
                if (e == null) {
                    log.map.remove(keys.get(i));
                } else {
                    log.map.put(keys.get(i), e);
                }
            }
            clear();
        }

        void clear() {
            keys.clear();
            before.clear();
            merged = null;
        }
    }
}
