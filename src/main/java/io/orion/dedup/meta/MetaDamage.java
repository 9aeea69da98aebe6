package io.orion.dedup.meta;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * What {@link LmdbVerifier} found wrong in {@code data.mdb}: per database, the key ranges whose
 * entries cannot be trusted, and a human-readable problem list. LMDB pages carry no checksums, so a
 * key that is absent from a damaged range may have been present: every lookup consults this map
 * first and reports a key inside a damaged range as damaged, never as "not found".
 *
 * <p>A <em>structural</em> range covers a page LMDB must not walk (bad header, node offsets,
 * ordering, a child pointer out of range or reached twice): its keys are bracketed by the verified
 * parent's separators, and a cursor scan jumps over it from {@link Range#lastGoodBefore()} (the
 * last key of the sound pages before it). A non-structural range covers one entry whose CRC32C
 * failed: the page is sound, but the entry's key or value is not, so the original key lies somewhere
 * between its neighbours.
 */
public final class MetaDamage {
    private static final HexFormat HEX = HexFormat.of();

    /**
     * A damaged key range of one database.
     *
     * @param lo first key that may be damaged (inclusive), null for the start of the database
     * @param hi end (exclusive), null for the end of the database
     * @param lastGoodBefore for a structural range, the last key stored in sound pages before it
     *     (a cursor must not step past it), or null when there is none
     */
    public record Range(String db, byte[] lo, byte[] hi, byte[] lastGoodBefore, boolean structural, String reason) {
        boolean contains(byte[] key) {
            return (lo == null || Arrays.compareUnsigned(key, lo) >= 0)
                    && (hi == null || Arrays.compareUnsigned(key, hi) < 0);
        }

        @Override
        public String toString() {
            return db + " keys [" + (lo == null ? "start" : HEX.formatHex(lo)) + ", "
                    + (hi == null ? "end" : HEX.formatHex(hi)) + "): " + reason;
        }
    }

    private final Map<String, List<Range>> ranges = new HashMap<>();
    private final List<String> problems = new ArrayList<>();
    private String fatal;

    void add(Range r) {
        ranges.computeIfAbsent(r.db(), k -> new ArrayList<>()).add(r);
        problems.add(r.toString());
    }

    void problem(String s) {
        problems.add(s);
    }

    void fatal(String s) {
        if (fatal == null) {
            fatal = s;
        }
        problems.add(s);
    }

    /** Why the metadata cannot be used at all (meta pages, the main database), or null. */
    public String fatal() {
        return fatal;
    }

    public boolean isEmpty() {
        return problems.isEmpty();
    }

    /** Every problem found, in the order found. */
    public List<String> problems() {
        return List.copyOf(problems);
    }

    /** One line for the read-only reason: the count and the first problem. */
    public String summary() {
        if (problems.isEmpty()) {
            return null;
        }
        return "metadata damaged (" + problems.size() + " problem" + (problems.size() == 1 ? "" : "s")
                + " in data.mdb): " + problems.get(0) + (problems.size() > 1 ? "; ..." : "");
    }

    /** The damaged range of {@code db} holding {@code key} (position..limit), or null. */
    public Range at(String db, ByteBuffer key) {
        List<Range> l = ranges.get(db);
        if (l == null) {
            return null;
        }
        byte[] k = bytes(key);
        for (Range r : l) {
            if (r.contains(k)) {
                return r;
            }
        }
        return null;
    }

    /** The first damaged range of {@code db} that meets {@code [from, to)} (to null: no end), or null. */
    public Range meets(String db, byte[] from, byte[] to) {
        List<Range> l = ranges.get(db);
        if (l == null) {
            return null;
        }
        Range best = null;
        for (Range r : l) {
            boolean endsAfterFrom = r.hi == null || Arrays.compareUnsigned(r.hi, from) > 0;
            boolean startsBeforeTo = to == null || r.lo == null || Arrays.compareUnsigned(r.lo, to) < 0;
            if (endsAfterFrom && startsBeforeTo
                    && (best == null || lo(r).length == 0 || Arrays.compareUnsigned(lo(r), lo(best)) < 0)) {
                best = r;
            }
        }
        return best;
    }

    /** The first structural range of {@code db} that ends after {@code key}, or null. */
    Range nextStructural(String db, byte[] key) {
        List<Range> l = ranges.get(db);
        if (l == null) {
            return null;
        }
        Range best = null;
        for (Range r : l) {
            if (r.structural && (r.hi == null || Arrays.compareUnsigned(r.hi, key) > 0)
                    && (best == null || Arrays.compareUnsigned(lo(r), lo(best)) < 0)) {
                best = r;
            }
        }
        return best;
    }

    private static byte[] lo(Range r) {
        return r.lo == null ? new byte[0] : r.lo;
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] k = new byte[b.remaining()];
        b.duplicate().get(k);
        return k;
    }
}
