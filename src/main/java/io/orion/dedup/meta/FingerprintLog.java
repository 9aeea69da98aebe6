package io.orion.dedup.meta;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
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

    /**
     * A fingerprint as a map key: its first 8 bytes (the {@code fpindex} prefix, big-endian) are
     * kept as a long, which is the hash (SHA-256 bytes are uniform) and the first sort key; a
     * wrapped {@link ByteBuffer} hashed all 32 bytes on every lookup.
     */
    static final class Key implements Comparable<Key> {
        final byte[] fp;
        final long prefix;

        private Key(byte[] fp) {
            this.fp = fp;
            long p = 0;
            for (int i = 0; i < 8; i++) {
                p = p << 8 | (fp[i] & 0xff);
            }
            this.prefix = p;
        }

        @Override
        public int hashCode() {
            return (int) (prefix ^ prefix >>> 32);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.prefix == prefix && Arrays.equals(k.fp, fp);
        }

        /** {@code fpindex} key order: the fingerprints' bytes compared unsigned. */
        @Override
        public int compareTo(Key o) {
            int c = Long.compareUnsigned(prefix, o.prefix);
            return c != 0 ? c : Arrays.compareUnsigned(fp, o.fp);
        }
    }

    /**
     * The held changes, by fingerprint. Replaced whole (not cleared) when a merge empties it, so the
     * merge keeps the old map to put back if its commit fails.
     */
    volatile ConcurrentHashMap<Key, Entry> map;
    /** The next {@code fplog} key (writer only). */
    volatile long nextSeq = 1;
    /** Merge into {@code fpindex} at the commit that holds this many fingerprints (1: every commit). */
    volatile int mergeAt;

    FingerprintLog(int mergeAt) {
        this.mergeAt = Math.max(1, mergeAt);
        this.map = emptyMap();
    }

    /** An empty map sized for the changes a merge takes (so it does not grow table by table as they come). */
    ConcurrentHashMap<Key, Entry> emptyMap() {
        return new ConcurrentHashMap<>(Math.min(mergeAt, 1 << 20) + 16);
    }

    /** A map key holding its own copy of {@code fp} (the first 32 bytes). */
    static Key key(byte[] fp) {
        return new Key(fp.length == MetaCodec.INDEX_KEY ? fp.clone() : Arrays.copyOf(fp, MetaCodec.INDEX_KEY));
    }

    Entry get(byte[] fp) {
        return map.isEmpty() ? null : map.get(fp.length == MetaCodec.INDEX_KEY ? new Key(fp) : key(fp));
    }

    boolean mergeDue() {
        return !map.isEmpty() && map.size() >= mergeAt;
    }

    /** The held fingerprints and their changes, in {@code fpindex} key order. */
    record Sorted(Key[] keys, Entry[] entries) {
    }

    /**
     * The held changes in {@code fpindex} key order (unsigned bytes). Sorted as primitive longs:
     * each holds the top bits of a fingerprint's prefix and, in its low bits, the change's place in
     * the arrays (sorting the {@link Key} objects themselves chased a pointer per comparison and
     * took tens of milliseconds for 32768 changes); fingerprints whose top bits tie are put in order
     * by their whole bytes afterwards.
     */
    Sorted sorted() {
        ConcurrentHashMap<Key, Entry> m = map;
        List<Key> ks = new ArrayList<>(m.size());
        List<Entry> es = new ArrayList<>(m.size());
        for (Map.Entry<Key, Entry> e : m.entrySet()) {
            ks.add(e.getKey());
            es.add(e.getValue());
        }
        int n = ks.size();
        int bits = Math.max(1, 64 - Long.numberOfLeadingZeros(n));
        long low = (1L << bits) - 1;
        long[] packed = new long[n];
        for (int i = 0; i < n; i++) {
            // the sign bit flipped: a signed sort of these is the unsigned order of the prefixes
            packed[i] = ((ks.get(i).prefix & ~low) | i) ^ Long.MIN_VALUE;
        }
        Arrays.sort(packed);
        Key[] keys = new Key[n];
        Entry[] entries = new Entry[n];
        for (int j = 0; j < n; j++) {
            int i = (int) (packed[j] & low);
            keys[j] = ks.get(i);
            entries[j] = es.get(i);
        }
        // ties of the top bits: an insertion sort by the whole fingerprint (runs of two at most, in practice)
        for (int j = 1; j < n; j++) {
            if (((packed[j] ^ packed[j - 1]) & ~low) != 0) {
                continue;
            }
            for (int k = j; k > 0 && ((packed[k] ^ packed[k - 1]) & ~low) == 0 && keys[k].compareTo(keys[k - 1]) < 0; k--) {
                Key tk = keys[k];
                keys[k] = keys[k - 1];
                keys[k - 1] = tk;
                Entry te = entries[k];
                entries[k] = entries[k - 1];
                entries[k - 1] = te;
            }
        }
        return new Sorted(keys, entries);
    }

    /** What one write transaction changed, to put back if it aborts or its commit fails. */
    static final class Undo {
        private final List<Key> keys = new ArrayList<>();
        private final List<Entry> before = new ArrayList<>();
        /** The whole map before a merge replaced it with an empty one (null: no merge in this transaction). */
        ConcurrentHashMap<Key, Entry> merged;

        void changed(Key k, Entry previous) {
            keys.add(k);
            before.add(previous);
        }

        boolean isEmpty() {
            return keys.isEmpty() && merged == null;
        }

        /** Puts {@code log}'s map back as it was before the transaction. */
        void rollBack(FingerprintLog log) {
            if (merged != null) {
                log.map = merged;
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
