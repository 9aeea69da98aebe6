package io.orion.dedup.meta;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Cross-table checks of one metadata snapshot, the invariants every transaction keeps
 * (docs/on-disk-format.md): each chunk's refcount equals the number of block-map entries naming it;
 * every block-map entry names an existing chunk (or the zero marker) and belongs to a volume that has a
 * record (no orphans of a deleted volume); each volume's data and zero
 * block counters equal its block map; every fingerprint-index entry names an existing chunk with that
 * fingerprint. Memory: one {@code long} per mapped data block (sorted, then merged with the chunk
 * table in id order).
 */
public final class MetaCrossCheck {
    private static final int MAX_PROBLEMS = 50;

    /** Outcome with figures. */
    public record Report(List<String> problems, long blocks, long chunks, long indexEntries, long millis) {
    }

    private MetaCrossCheck() {
    }

    /** Runs the checks in {@code t}'s snapshot; damaged ranges already known are left out. */
    public static Report run(MetaTxn t) throws MetaCorruptException {
        long t0 = System.nanoTime();
        List<String> problems = new ArrayList<>();
        Map<Integer, VolumeRecord> vols = new HashMap<>();
        for (VolumeRecord v : t.volumes()) {
            vols.put(v.id(), v);
        }
        long[][] refs = {new long[1 << 16]};
        int[] n = {0};
        Map<Integer, long[]> perVolume = new HashMap<>();
        long[] blocks = {0};
        int[] volume = {-1};
        // every volume id present in the block map, in key order
        t.scanAllBlocks((vol, db, chunk) -> {
            blocks[0]++;
            long[] c = perVolume.computeIfAbsent(vol, k -> new long[2]);
            if (chunk == MetaTxn.ZERO) {
                c[1]++;
            } else {
                c[0]++;
                if (n[0] == refs[0].length) {
                    refs[0] = Arrays.copyOf(refs[0], refs[0].length * 2);
                }
                refs[0][n[0]++] = chunk;
            }
            volume[0] = vol;
            return true;
        });
        for (Map.Entry<Integer, VolumeRecord> e : vols.entrySet()) {
            long[] c = perVolume.getOrDefault(e.getKey(), new long[2]);
            VolumeRecord v = e.getValue();
            if (c[0] != v.dataBlocks() || c[1] != v.zeroBlocks()) {
                add(problems, "volume '" + v.name() + "': record says " + v.dataBlocks() + " data and "
                        + v.zeroBlocks() + " zero blocks, its block map has " + c[0] + " and " + c[1]);
            }
        }
        for (Map.Entry<Integer, long[]> e : new java.util.TreeMap<>(perVolume).entrySet()) {
            if (!vols.containsKey(e.getKey())) {
                long[] c = e.getValue();
                add(problems, "block map has " + (c[0] + c[1]) + " entries (" + c[0] + " data, " + c[1]
                        + " zero) under volume id " + e.getKey() + ", which has no volume record"
                        + " (left over from a deleted volume: their chunk references are never dropped)");
            }
        }
        long[] ids = refs[0];
        int count = n[0];
        Arrays.sort(ids, 0, count);
        int[] at = {0};
        long[] chunks = {0};
        t.scanChunks(1, r -> {
            chunks[0]++;
            while (at[0] < count && ids[at[0]] < r.id()) {
                add(problems, "block map names chunk " + ids[at[0]] + " which does not exist");
                long missing = ids[at[0]];
                while (at[0] < count && ids[at[0]] == missing) {
                    at[0]++;
                }
            }
            int refsSeen = 0;
            while (at[0] < count && ids[at[0]] == r.id()) {
                refsSeen++;
                at[0]++;
            }
            if (refsSeen != r.refCount()) {
                add(problems, "chunk " + r.id() + ": refcount " + r.refCount() + ", block map references " + refsSeen);
            }
            return true;
        });
        while (at[0] < count) {
            long missing = ids[at[0]];
            add(problems, "block map names chunk " + missing + " which does not exist");
            while (at[0] < count && ids[at[0]] == missing) {
                at[0]++;
            }
        }
        long[] index = {0};
        t.scanIndex((fp, id) -> {
            index[0]++;
            ChunkRecord r = t.chunk(id);
            if (r == null) {
                add(problems, "fingerprint index entry " + HexFormat.of().formatHex(fp) + " names chunk " + id
                        + " which does not exist");
            } else if (!Arrays.equals(fp, r.fingerprint())) {
                add(problems, "fingerprint index entry " + HexFormat.of().formatHex(fp) + " names chunk " + id
                        + " whose fingerprint differs");
            } else if (io.orion.dedup.containers.RecordFormat.unhashed(fp)) {
                add(problems, "fingerprint index entry for the zero value (no fingerprint) names chunk " + id);
            }
            return true;
        });
        return new Report(List.copyOf(problems), blocks[0], chunks[0], index[0], (System.nanoTime() - t0) / 1_000_000);
    }

    private static void add(List<String> problems, String s) {
        if (problems.size() < MAX_PROBLEMS) {
            problems.add(s);
        }
    }
}
