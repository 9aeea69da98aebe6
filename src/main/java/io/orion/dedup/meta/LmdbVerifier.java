package io.orion.dedup.meta;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;

/**
 * Integrity check of an LMDB {@code data.mdb} that reads LMDB's file format itself (64-bit,
 * little-endian), so damage is found before LMDB walks a bad page and before a damaged page can
 * make a present key look absent. LMDB pages carry no checksum; what is checked:
 *
 * <ul>
 *   <li>meta pages 0 and 1: magic, version, page size, the newest one's last page inside the file,
 *       transaction ids consecutive with meta page {@code txnid & 1} holding each (LMDB writes the
 *       meta of transaction t to page t &amp; 1), the free and main database records;</li>
 *   <li>every page reachable from the roots (free pages, main database, each named database):
 *       its pgno field equals its position, flags are those of a committed branch, leaf or overflow
 *       page, lower/upper bounds sane, node offsets even and inside the page, the nodes exactly
 *       tiling {@code [upper, page size)}, keys strictly ascending and bracketed by the parent's
 *       separators, all leaves at the recorded depth, child pgnos inside the file, each page
 *       reached once and none of them on the free list;</li>
 *   <li>the orion databases' fixed key and value sizes and every value's CRC32C (which covers the
 *       key, so a flipped key bit is a mismatch), but the format 3 fingerprint index's empty
 *       values (no CRC: its every answer is checked against the chunk record it names);</li>
 *   <li>entry and page counts equal to the database records; every page in use or free.</li>
 * </ul>
 *
 * A damaged page becomes a damaged key range (see {@link MetaDamage}); damage to the meta pages or
 * the main database is fatal (nothing can be found without them).
 */
public final class LmdbVerifier {
    static final int PAGEHDR = 16;
    static final int P_BRANCH = 0x01;
    static final int P_LEAF = 0x02;
    static final int P_OVERFLOW = 0x04;
    static final int F_BIGDATA = 0x01;
    static final int F_SUBDATA = 0x02;
    static final long P_INVALID = -1L;
    static final int MAGIC = 0xBEEFC0DE;
    private static final int DB_RECORD = 48;

    /** Values whose length varies: volumes (version 1 or 2 layout, checked by {@code MetaCodec.checkVolume}). */
    private static final int VOLUME = -1;
    /** Values whose length varies: reservation fragments, 5..{@code RESERVATION_FRAGMENT + 4} bytes, CRC last. */
    private static final int RESERVATION = -2;
    /** Values whose length varies: block-map pages (checked by {@code MetaCodec.checkPage}). */
    private static final int BLOCK_PAGE = -3;
    /**
     * Empty values without a CRC: the format 3 fingerprint index, whose every answer is checked
     * against the chunk record it names (a damaged entry can only cost a missed dedup).
     */
    private static final int EMPTY = -4;
    /** Values whose length varies: chunk groups (format 5, checked by {@code MetaCodec.checkGroup}). */
    private static final int CHUNK_GROUP = -5;
    /** Values whose length varies: fingerprint index runs (format 6, checked by {@code MetaCodec.checkRun}). */
    private static final int RUN = -6;

    /** Key and value sizes of one orion database (key size 0: 1..200 bytes). */
    private record Spec(int key, int value) {
        /** Whether a value of {@code dsize} bytes can belong to this database. */
        boolean fits(int dsize) {
            return switch (value) {
                case VOLUME -> dsize >= MetaCodec.VOLUME_VAL && dsize <= MetaCodec.VOLUME_VAL_V2 + 200;
                case RESERVATION -> dsize >= 5 && dsize <= MetaCodec.RESERVATION_FRAGMENT + 4;
                case BLOCK_PAGE -> dsize >= MetaCodec.PAGE_VAL_MIN && dsize <= MetaCodec.PAGE_VAL_MAX
                        && (dsize & 1) == 0;
                case MetaCodec.CONTAINER_VAL -> dsize == MetaCodec.CONTAINER_VAL || dsize == MetaCodec.CONTAINER_VAL_V2;
                case EMPTY -> dsize == 0;
                case CHUNK_GROUP -> dsize >= MetaCodec.GROUP_VAL_MIN && dsize <= MetaCodec.GROUP_VAL_MAX
                        && (dsize & 1) == 0;
                case RUN -> dsize >= MetaCodec.RUN_VAL_MIN && dsize <= MetaCodec.RUN_VAL_MAX
                        && (dsize - 4) % MetaCodec.RUN_ENTRY == 0;
                default -> dsize == value;
            };
        }
    }

    /**
     * Databases a pool may lack: {@code reservations} and {@code blockpages} in a pool last opened
     * by an older build (created at the next open), {@code blocks} (the format 1 block map) in
     * every pool converted to block-map pages. One of the two block maps must be there. Likewise
     * {@code fpruns} (format 6), {@code fpindex} (formats 3 to 5) and {@code index} (formats 1 and 2):
     * one of them must be there.
     * {@code staged} (post-process volumes' staged blocks) is created at the first open by a build
     * that has it. {@code chunkgroups} (format 5) and {@code chunks} (format 4 and earlier): one of
     * the two must be there (both while a conversion is under way or was cut short).
     */
    private static final java.util.Set<String> OPTIONAL = java.util.Set.of("reservations", MetaStore.BLOCK_PAGES,
            MetaStore.LEGACY_BLOCKS, MetaStore.FP_INDEX, MetaStore.LEGACY_INDEX, MetaStore.STAGED,
            MetaStore.FP_LOG, MetaStore.CHUNK_GROUPS, MetaStore.LEGACY_CHUNKS, MetaStore.FP_RUNS);

    static final Map<String, Spec> SPECS = Map.ofEntries(
            Map.entry(MetaStore.LEGACY_BLOCKS, new Spec(MetaCodec.BLOCK_KEY, MetaCodec.BLOCK_VAL)),
            Map.entry(MetaStore.BLOCK_PAGES, new Spec(MetaCodec.PAGE_KEY, BLOCK_PAGE)),
            Map.entry(MetaStore.LEGACY_CHUNKS, new Spec(MetaCodec.CHUNK_KEY, MetaCodec.CHUNK_VAL)),
            Map.entry(MetaStore.CHUNK_GROUPS, new Spec(MetaCodec.GROUP_KEY, CHUNK_GROUP)),
            Map.entry(MetaStore.LEGACY_INDEX, new Spec(MetaCodec.INDEX_KEY, MetaCodec.INDEX_VAL)),
            Map.entry(MetaStore.FP_INDEX, new Spec(MetaCodec.FP_KEY, EMPTY)),
            Map.entry(MetaStore.FP_RUNS, new Spec(MetaCodec.RUN_KEY, RUN)),
            Map.entry(MetaStore.FP_LOG, new Spec(MetaCodec.FPLOG_KEY, MetaCodec.FPLOG_VAL)),
            Map.entry("containers", new Spec(MetaCodec.CONTAINER_KEY, MetaCodec.CONTAINER_VAL)),
            Map.entry("volumes", new Spec(0, VOLUME)),
            Map.entry("counters", new Spec(MetaCodec.COUNTERS_KEY.length, MetaCodec.COUNTERS_VAL)),
            Map.entry("reservations", new Spec(MetaCodec.RESERVATION_KEY, RESERVATION)),
            Map.entry(MetaStore.STAGED, new Spec(MetaCodec.STAGED_KEY, EMPTY)));

    /**
     * Outcome of one check, with figures; {@code stable} is false when a live file's meta page
     * changed while it was checked (the result may mix two states and is not to be used);
     * {@code everyPage} is false for {@link #checkTop} (meta pages and database records only).
     */
    public record Report(MetaDamage damage, long pages, long entries, long millis, boolean stable,
            boolean everyPage) {
    }

    private final FileChannel ch;
    /** The file's size; re-read after the meta page of a live file (it grows under the check). */
    private long fileSize;
    private final MetaDamage damage = new MetaDamage();
    private int psize;
    private long lastPg;
    private BitSet used;
    private BitSet free;
    private long pagesRead;
    private long entries;
    private boolean stable = true;

    private LmdbVerifier(FileChannel ch, long fileSize) {
        this.ch = ch;
        this.fileSize = fileSize;
    }

    /**
     * Checks {@code dataFile}; {@code txnId} is -1 for a closed file, or the id of a read transaction
     * held open while a live file is checked (which keeps every snapshot on the meta pages from
     * having its pages reused). A missing file is sound (nothing to check).
     */
    public static Report check(Path dataFile, long txnId) throws IOException {
        long t0 = System.nanoTime();
        if (!Files.exists(dataFile)) {
            return new Report(new MetaDamage(), 0, 0, 0, true, true);
        }
        try (FileChannel ch = FileChannel.open(dataFile, StandardOpenOption.READ)) {
            LmdbVerifier v = new LmdbVerifier(ch, ch.size());
            v.run(txnId);
            return new Report(v.damage, v.pagesRead, v.entries, (System.nanoTime() - t0) / 1_000_000, v.stable,
                    true);
        }
    }

    /**
     * The top of a closed file only: both meta pages, the file's length against the last page, and
     * the main database (the named databases' records, whose names and flags are checked); the
     * report's pages are the file's committed pages and its entries the sum of the records' entry
     * counts. For a file that {@link CleanSeal} shows unchanged since the server's clean stop.
     */
    static Report checkTop(Path dataFile) throws IOException {
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(dataFile, StandardOpenOption.READ)) {
            LmdbVerifier v = new LmdbVerifier(ch, ch.size());
            v.top = true;
            v.run(-1);
            return new Report(v.damage, v.damage.fatal() == null ? v.lastPg + 1 : v.pagesRead, v.entries,
                    (System.nanoTime() - t0) / 1_000_000, v.stable, false);
        }
    }

    /** {@link #checkTop}: the databases' records are read, their trees not walked. */
    private boolean top;

    private void run(long txnId) throws IOException {
        ByteBuffer m0 = readMetaPage(0, 4096);
        if (m0 == null && fileSize == 0) {
            damage.fatal("metadata file is empty (truncated)");
            return;
        }
        int ps = m0 != null && m0.getInt(16) == MAGIC ? m0.getInt(40) : 4096;
        if (ps < 512 || ps > 65536 || Integer.bitCount(ps) != 1) {
            ps = 4096;
        }
        ByteBuffer m1 = readMetaPage(1, ps);
        ByteBuffer m = txnId >= 0 ? liveMeta(ps) : closedMeta(m0, m1, ps);
        if (m == null) {
            return;
        }
        psize = ps;
        lastPg = m.getLong(136);
        if (txnId >= 0) {
            // LMDB (without MDB_WRITEMAP) extends the file with pwrite, data pages before the meta
            // page: every page a meta page we have read names is in the file by now
            fileSize = ch.size();
        }
        if ((lastPg + 1) * psize > fileSize) {
            damage.fatal("metadata file is truncated: " + fileSize + " bytes, its last committed page needs "
                    + (lastPg + 1) * psize);
            return;
        }
        used = new BitSet();
        free = new BitSet();
        used.set(0, 2);
        // free pages first, so that a tree reaching a free page is seen as damaged
        Db freeDb = new Db("free pages", null, m, 40);
        boolean freeSound = top || (walk(freeDb) && freeDb.agrees());
        if (!freeSound) {
            damage.problem("free-page database damaged: the metadata must not be written");
        }
        Db main = new Db("main", null, m, 88);
        List<byte[]> names = new ArrayList<>();
        List<ByteBuffer> records = new ArrayList<>();
        main.leafVisitor = (k, v) -> {
            names.add(k);
            records.add(v);
        };
        if (!walk(main) || !main.agrees()) {
            damage.fatal("LMDB main database (the named databases' records) is damaged");
            return;
        }
        boolean hasCounters = false;
        boolean hasBlockMap = false;
        boolean hasIndex = false;
        boolean hasChunks = false;
        int optional = 0;
        for (int i = 0; i < names.size(); i++) {
            String n = new String(names.get(i), StandardCharsets.UTF_8);
            hasCounters |= n.equals("counters");
            hasBlockMap |= n.equals(MetaStore.BLOCK_PAGES) || n.equals(MetaStore.LEGACY_BLOCKS);
            hasIndex |= n.equals(MetaStore.FP_INDEX) || n.equals(MetaStore.LEGACY_INDEX) || n.equals(MetaStore.FP_RUNS);
            hasChunks |= n.equals(MetaStore.CHUNK_GROUPS) || n.equals(MetaStore.LEGACY_CHUNKS);
            optional += OPTIONAL.contains(n) ? 1 : 0;
            if (!SPECS.containsKey(n)) {
                damage.fatal("unknown database '" + n + "' in the LMDB main database (damaged name)");
                return;
            }
        }
        if (hasCounters && (names.size() - optional != SPECS.size() - OPTIONAL.size() || !hasBlockMap || !hasIndex
                || !hasChunks)) {
            damage.fatal("LMDB main database holds " + names.size() + " of the " + SPECS.size()
                    + " databases (a name is damaged)");
            return;
        }
        for (int i = 0; i < names.size(); i++) {
            String n = new String(names.get(i), StandardCharsets.UTF_8);
            Db d = new Db(n, SPECS.get(n), records.get(i), 0);
            if (d.flags != 0) {
                d.wholeDamaged("database record has flags " + d.flags + " (damaged)");
                continue;
            }
            if (top) {
                if (d.root != P_INVALID && (d.root < 2 || d.root > lastPg)) {
                    d.wholeDamaged("database root page " + d.root + " outside the file (damaged record)");
                }
                entries += d.entries;
                continue;
            }
            if (walk(d) && !d.agrees()) {
                d.wholeDamaged("database record says " + d.entries + " entries, " + d.depth + " levels, "
                        + d.branch + "/" + d.leaf + "/" + d.overflow + " pages; the tree has " + d.seenEntries
                        + " entries, " + d.seenBranch + "/" + d.seenLeaf + "/" + d.seenOverflow + " pages");
            }
        }
        if (freeSound && damage.isEmpty() && !top) {
            BitSet all = (BitSet) used.clone();
            all.or(free);
            int missing = (int) (lastPg + 1) - all.cardinality();
            if (missing != 0) {
                damage.problem(missing + " page(s) of data.mdb are neither in use nor free (first: page "
                        + all.nextClearBit(0) + "): a database root or record may be damaged");
            }
        }
    }

    /** The newest meta page of a closed file, both pages checked; null (and fatal damage) if unsound. */
    private ByteBuffer closedMeta(ByteBuffer m0, ByteBuffer m1, int ps) {
        // the roots of the older page get no upper bound: when the write of a meta page fails, LMDB
        // writes the older transaction id and last page back over it but keeps the failed
        // transaction's roots (which may lie past that last page, and past the file's end when that
        // transaction grew it); LMDB never uses them, since the other page is newer
        boolean newer1 = m0 != null && m1 != null && m1.getLong(144) > m0.getLong(144);
        String bad0 = metaProblem(m0, 0, ps, newer1 ? Long.MAX_VALUE : -1);
        String bad1 = metaProblem(m1, 1, ps, newer1 ? -1 : Long.MAX_VALUE);
        if (bad0 != null && bad1 != null) {
            damage.fatal("no valid LMDB meta page (damaged header): page 0 " + bad0 + "; page 1 " + bad1);
            return null;
        }
        if (bad0 != null || bad1 != null) {
            damage.fatal("LMDB meta page " + (bad0 != null ? 0 : 1) + " is damaged: " + (bad0 != null ? bad0 : bad1));
            return null;
        }
        long t0 = m0.getLong(144);
        long t1 = m1.getLong(144);
        boolean fresh = t0 == 0 && t1 == 0;
        if (!fresh && (Math.abs(t0 - t1) != 1 || (t0 & 1) != 0 || (t1 & 1) != 1)) {
            damage.fatal("LMDB meta pages disagree: transaction ids " + t0 + " (page 0) and " + t1
                    + " (page 1) are not consecutive");
            return null;
        }
        return t1 > t0 ? m1 : m0;
    }

    /**
     * The newest meta page of a live file that was read whole. Commits may rewrite a meta page while
     * it is read (LMDB writes the transaction id last); the meta of transaction x is rewritten by
     * x + 2, which needs x + 1 committed on the other page, so a meta page read before the other page
     * still showed x - 1 was not being rewritten. Any snapshot on a meta page while the caller's read
     * transaction is open keeps its pages. Null (and {@link #stable} false) when none was found.
     */
    private ByteBuffer liveMeta(int ps) throws IOException {
        for (int attempt = 0; attempt < 1000; attempt++) {
            ByteBuffer p0 = readMetaPage(0, ps);
            ByteBuffer p1 = readMetaPage(1, ps);
            ByteBuffer q0 = readMetaPage(0, ps);
            if (p0 == null || p1 == null || q0 == null) {
                break;
            }
            ByteBuffer m = q0.getLong(144) == p1.getLong(144) - 1 ? p1
                    : p1.getLong(144) == p0.getLong(144) - 1 ? p0 : null;
            if (m != null) {
                String bad = metaProblem(m, m.getLong(0), ps, -1);
                if (bad != null) {
                    damage.problem("LMDB meta page " + m.getLong(0) + " is damaged: " + bad);
                    return null;
                }
                return m;
            }
        }
        stable = false;
        return null;
    }

    /** Callback for each leaf entry of the main or free database. */
    private interface LeafVisitor {
        void visit(byte[] key, ByteBuffer value) throws IOException;
    }

    /** One database being walked: its record and what the walk has seen. */
    private final class Db {
        final String name;
        final Spec spec;
        final int flags;
        final int depth;
        final long branch;
        final long leaf;
        final long overflow;
        final long entries;
        final long root;
        long seenBranch;
        long seenLeaf;
        long seenOverflow;
        long seenEntries;
        boolean damaged;
        byte[] lastGood;
        LeafVisitor leafVisitor;

        Db(String name, Spec spec, ByteBuffer rec, int at) {
            this.name = name;
            this.spec = spec;
            this.flags = rec.getShort(at + 4) & 0xffff;
            this.depth = rec.getShort(at + 6) & 0xffff;
            this.branch = rec.getLong(at + 8);
            this.leaf = rec.getLong(at + 16);
            this.overflow = rec.getLong(at + 24);
            this.entries = rec.getLong(at + 32);
            this.root = rec.getLong(at + 40);
        }

        boolean agrees() {
            return damaged || (seenEntries == entries && seenBranch == branch && seenLeaf == leaf
                    && seenOverflow == overflow);
        }

        void wholeDamaged(String why) {
            damaged = true;
            damage.add(new MetaDamage.Range(name, null, null, null, true, why));
        }

        void damaged(byte[] lo, byte[] hi, String why, long pgno) {
            damaged = true;
            damage.add(new MetaDamage.Range(name, lo, hi, lastGood, true, "page " + pgno + ": " + why));
        }
    }

    private static final String OUTSIDE = " outside the range its parent gives";

    private boolean walk(Db d) throws IOException {
        if (d.root == P_INVALID) {
            if (d.entries != 0 || d.depth != 0) {
                d.wholeDamaged("empty root but " + d.entries + " entries recorded");
                return false;
            }
            return true;
        }
        if (d.depth < 1 || d.depth > 32) {
            d.wholeDamaged("recorded depth " + d.depth);
            return false;
        }
        visit(d, d.root, 1, null, null);
        return !d.damaged;
    }

    private void visit(Db d, long pgno, int level, byte[] lo, byte[] hi) throws IOException {
        if (pgno < 2 || pgno > lastPg) {
            d.damaged(lo, hi, "child page number outside the file (last page " + lastPg + ")", pgno);
            return;
        }
        if (used.get((int) pgno) || free.get((int) pgno)) {
            d.damaged(lo, hi, used.get((int) pgno) ? "reached twice" : "in use but on the free list", pgno);
            return;
        }
        ByteBuffer p = page(pgno);
        String why = pageProblem(p, pgno, level == d.depth ? P_LEAF : P_BRANCH);
        Node[] nodes = null;
        if (why == null) {
            nodes = new Node[(p.getShort(12) & 0xffff) - PAGEHDR >> 1];
            why = nodes(d, p, nodes, level == d.depth, lo, hi);
        }
        if (why != null && why.endsWith(OUTSIDE)) {
            // a damaged separator in the parent: the page's keys are sound but lie (partly) outside
            // the range it gives, and a lookup of such a key is routed to a sibling that lacks it
            // (an absent key looks unmapped): the damage covers the page's own keys too
            boolean leaf = level == d.depth;
            boolean intKeys = d.name.equals("free pages");
            byte[] first = nodes[leaf ? 0 : Math.min(1, nodes.length - 1)].key;
            byte[] last = nodes[nodes.length - 1].key;
            byte[] wlo = lo == null ? null : !leaf ? (d.lastGood == null ? null : successor(d.lastGood))
                    : compare(first, lo, intKeys) < 0 ? first : lo;
            byte[] whi = hi == null ? null : !leaf ? null
                    : compare(last, hi, intKeys) >= 0 ? successor(last) : hi;
            d.damaged(wlo, whi, why, pgno);
            return;
        }
        if (why != null) {
            d.damaged(lo, hi, why, pgno);
            return;
        }
        used.set((int) pgno);
        if (level < d.depth) {
            d.seenBranch++;
            for (int i = 0; i < nodes.length; i++) {
                byte[] clo = i == 0 ? lo : nodes[i].key;
                byte[] chi = i == nodes.length - 1 ? hi : nodes[i + 1].key;
                visit(d, nodes[i].child, level + 1, clo, chi);
            }
            return;
        }
        d.seenLeaf++;
        for (int i = 0; i < nodes.length; i++) {
            Node n = nodes[i];
            d.seenEntries++;
            entries++;
            ByteBuffer val;
            if ((n.flags & F_BIGDATA) != 0) {
                val = overflow(d, n.child, n.dsize, lo, hi);
                if (val == null) {
                    return;
                }
            } else {
                val = p.duplicate().position(n.off + 8 + n.key.length).limit(n.off + 8 + n.key.length + n.dsize)
                        .slice().order(ByteOrder.LITTLE_ENDIAN);
            }
            if (d.leafVisitor != null) {
                d.leafVisitor.visit(n.key, val);
            }
            if (d.name.equals("free pages")) {
                freeList(d, val, lo, hi);
            } else if (d.spec != null) {
                ByteBuffer k = ByteBuffer.wrap(n.key);
                ByteBuffer v = val.order(ByteOrder.BIG_ENDIAN);
                String bad = d.spec.value == VOLUME ? MetaCodec.checkVolume(k, v)
                        : d.spec.value == BLOCK_PAGE ? MetaCodec.checkPage(k, v)
                        : d.spec.value == CHUNK_GROUP ? MetaCodec.checkGroup(k, v)
                        : d.spec.value == RUN ? MetaCodec.checkRun(k, v)
                        : d.spec.value == EMPTY ? null
                        : MetaCodec.check(k, v, d.spec.value == RESERVATION ? v.remaining()
                        : d.spec.value == MetaCodec.CONTAINER_VAL ? MetaCodec.containerLength(v.remaining())
                        : d.spec.value);
                if (bad != null) {
                    byte[] elo = i == 0 ? lo : successor(nodes[i - 1].key);
                    byte[] ehi = i == nodes.length - 1 ? hi : nodes[i + 1].key;
                    d.damaged = true;
                    String what = d.spec.value == BLOCK_PAGE ? blockPages(elo, ehi)
                            : d.spec.value == CHUNK_GROUP ? chunkGroups(elo, ehi) : "";
                    damage.add(new MetaDamage.Range(d.name, elo, ehi, null, false, "page " + pgno + " entry " + i
                            + " (key " + java.util.HexFormat.of().formatHex(n.key) + "): " + bad + what));
                }
            }
        }
        d.lastGood = nodes[nodes.length - 1].key;
    }

    private record Node(int off, int flags, byte[] key, int dsize, long child) {
    }

    /** Parses and checks the nodes of a branch or leaf page; null when sound, else why not. */
    private String nodes(Db d, ByteBuffer p, Node[] out, boolean leaf, byte[] lo, byte[] hi) {
        int upper = p.getShort(14) & 0xffff;
        int[] offs = new int[out.length];
        int[] sizes = new int[out.length];
        for (int i = 0; i < out.length; i++) {
            int off = p.getShort(PAGEHDR + 2 * i) & 0xffff;
            if ((off & 1) != 0 || off < upper || off + 8 > psize) {
                return "node " + i + " offset " + off + " outside [" + upper + ", " + psize + ")";
            }
            int lo16 = p.getShort(off) & 0xffff;
            int hi16 = p.getShort(off + 2) & 0xffff;
            int flags = p.getShort(off + 4) & 0xffff;
            int ksize = p.getShort(off + 6) & 0xffff;
            int size;
            long child = 0;
            int dsize = 0;
            if (leaf) {
                dsize = lo16 | hi16 << 16;
                boolean big = (flags & F_BIGDATA) != 0;
                int allowed = d.name.equals("main") ? F_SUBDATA : d.name.equals("free pages") ? F_BIGDATA : 0;
                if ((flags & ~allowed) != 0 || (d.name.equals("main") && flags != F_SUBDATA)) {
                    return "node " + i + " has flags " + flags;
                }
                if (dsize < 0) {
                    return "node " + i + " data size " + dsize;
                }
                if (big) {
                    if (off + 16 + ksize > psize) {
                        return "node " + i + " runs past the page";
                    }
                    child = p.getLong(off + 8 + ksize);
                }
                size = 8 + ksize + (big ? 8 : dsize);
                if (d.spec != null && (!d.spec.fits(dsize) || (d.spec.key != 0 ? ksize != d.spec.key
                        : ksize < 1 || ksize > 200))) {
                    return "node " + i + " has a " + ksize + "-byte key and a " + dsize + "-byte value";
                }
                if (d.name.equals("main") && (dsize != DB_RECORD || ksize < 1 || ksize > 511)) {
                    return "database record " + i + " has a " + ksize + "-byte key and a " + dsize + "-byte value";
                }
                if (d.name.equals("free pages") && (ksize != 8 || dsize < 8 || (dsize & 7) != 0)) {
                    return "free-list node " + i + " has a " + ksize + "-byte key and a " + dsize + "-byte value";
                }
            } else {
                child = (lo16 & 0xffffL) | (hi16 & 0xffffL) << 16 | (flags & 0xffffL) << 32;
                size = 8 + ksize;
                if (i > 0 && ksize == 0) {
                    return "separator " + i + " is empty";
                }
            }
            size += size & 1;
            if (off + size > psize || size > psize) {
                return "node " + i + " (" + size + " bytes at " + off + ") runs past the page";
            }
            byte[] key = new byte[ksize];
            p.get(off + 8, key);
            out[i] = new Node(off, flags, key, dsize, child);
            offs[i] = off;
            sizes[i] = size;
        }
        // the nodes tile [upper, psize) exactly (LMDB keeps them packed)
        long[] order = new long[out.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = (long) offs[i] << 32 | i;
        }
        Arrays.sort(order);
        int at = upper;
        for (long o : order) {
            int i = (int) o;
            if (offs[i] != at) {
                return "nodes do not tile the page (node " + i + " at " + offs[i] + ", expected " + at + ")";
            }
            at += sizes[i];
        }
        if (at != psize) {
            return "nodes end at " + at + ", not at the page end " + psize;
        }
        boolean intKeys = d.name.equals("free pages");
        for (int i = leaf ? 0 : 1; i < out.length; i++) {
            byte[] k = out[i].key;
            if (i > (leaf ? 0 : 1) && compare(out[i - 1].key, k, intKeys) >= 0) {
                return "keys out of order at node " + i;
            }
            if (lo != null && compare(k, lo, intKeys) < 0 || hi != null && compare(k, hi, intKeys) >= 0) {
                return "key of node " + i + OUTSIDE;
            }
        }
        return null;
    }

    private static int compare(byte[] a, byte[] b, boolean intKeys) {
        if (intKeys && a.length == 8 && b.length == 8) {
            return Long.compareUnsigned(ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN).getLong(),
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong());
        }
        return Arrays.compareUnsigned(a, b);
    }

    /** The value of a big node, read from its overflow pages; null (and damage) when unsound. */
    private ByteBuffer overflow(Db d, long pgno, int dsize, byte[] lo, byte[] hi) throws IOException {
        long need = (PAGEHDR + (long) dsize + psize - 1) / psize;
        if (pgno < 2 || pgno + need - 1 > lastPg || used.get((int) pgno)) {
            d.damaged(lo, hi, "overflow page " + pgno + " out of range or reached twice", pgno);
            return null;
        }
        ByteBuffer p = page(pgno);
        int count = p.getInt(12);
        if (p.getLong(0) != pgno || (p.getShort(10) & 0xffff) != P_OVERFLOW || count != need) {
            d.damaged(lo, hi, "overflow page header damaged", pgno);
            return null;
        }
        for (long i = pgno; i < pgno + count; i++) {
            if (used.get((int) i) || free.get((int) i)) {
                d.damaged(lo, hi, "overflow page " + i + " reached twice", pgno);
                return null;
            }
        }
        used.set((int) pgno, (int) (pgno + count));
        d.seenOverflow += count;
        ByteBuffer all = ByteBuffer.allocate(PAGEHDR + dsize).order(ByteOrder.LITTLE_ENDIAN);
        read(all, pgno * psize);
        return all.position(PAGEHDR).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Marks the pages of one free-list value (count, then page numbers). */
    private void freeList(Db d, ByteBuffer v, byte[] lo, byte[] hi) {
        v.order(ByteOrder.LITTLE_ENDIAN);
        long n = v.getLong(0);
        if (n < 0 || n > (v.remaining() - 8) / 8) { // (n * 8 could overflow: a flipped high bit)
            d.damaged(lo, hi, "free list of " + n + " pages in a " + v.remaining() + "-byte value", -1);
            return;
        }
        for (int i = 1; i <= n; i++) {
            long pg = v.getLong(i * 8);
            if (pg < 2 || pg > lastPg || free.get((int) pg) || used.get((int) pg)) {
                d.damaged(lo, hi, "free page " + pg + " out of range or listed twice", -1);
                return;
            }
            free.set((int) pg);
        }
    }

    private String pageProblem(ByteBuffer p, long pgno, int kind) {
        long stored = p.getLong(0);
        if (stored != pgno) {
            return "page number field says " + stored;
        }
        int flags = p.getShort(10) & 0xffff;
        if (flags != kind) {
            return "flags " + Integer.toHexString(flags) + ", expected a " + (kind == P_LEAF ? "leaf" : "branch");
        }
        int lower = p.getShort(12) & 0xffff;
        int upper = p.getShort(14) & 0xffff;
        if (lower < PAGEHDR + 2 || (lower & 1) != 0 || upper > psize || lower > upper) {
            return "bounds lower " + lower + ", upper " + upper;
        }
        return null;
    }

    /** What is wrong with meta page {@code m}; its roots must lie below {@code rootLimit} (-1: its own last page). */
    private String metaProblem(ByteBuffer m, long pgno, int ps, long rootLimit) {
        if (m == null) {
            return "missing";
        }
        if (m.getLong(0) != pgno) {
            return "page number field says " + m.getLong(0);
        }
        if ((m.getShort(10) & 0xffff) != 0x08) {
            return "flags " + Integer.toHexString(m.getShort(10) & 0xffff);
        }
        if (m.getInt(16) != MAGIC) {
            return "bad magic";
        }
        if (m.getInt(20) != 1) {
            return "version " + m.getInt(20);
        }
        if (m.getInt(40) != ps) {
            return "page size " + m.getInt(40);
        }
        long last = m.getLong(136);
        if (last < 1) {
            return "last page " + last;
        }
        if ((m.getShort(40 + 4) & 0xffff) != 0x08) {
            return "free database flags " + (m.getShort(44) & 0xffff);
        }
        if ((m.getShort(88 + 4) & 0xffff) != 0) {
            return "main database flags " + (m.getShort(92) & 0xffff);
        }
        for (int at : new int[] {40, 88}) {
            long root = m.getLong(at + 40);
            if (root != P_INVALID && (root < 2 || root > (rootLimit < 0 ? last : rootLimit))) {
                return "database root " + root + " outside the file";
            }
        }
        return null;
    }

    private ByteBuffer readMetaPage(long pgno, int ps) throws IOException {
        if ((pgno + 1) * ps > fileSize) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        read(b, pgno * ps);
        return b;
    }

    private ByteBuffer page(long pgno) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(psize).order(ByteOrder.LITTLE_ENDIAN);
        read(b, pgno * psize);
        pagesRead++;
        return b;
    }

    private void read(ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                throw new MetaCorruptException("data.mdb ends at " + (pos + b.position()));
            }
        }
        b.clear();
    }

    /**
     * The dedup blocks a damaged range of block-map page keys covers, for the problem text: a
     * damaged page value is a damaged block range (at least one whole page), read as MEDIUM ERROR.
     */
    private static String blockPages(byte[] lo, byte[] hi) {
        String from = lo == null ? "the start" : blockAt(lo);
        String to = hi == null ? "the end" : blockAt(hi);
        return "; block map from " + from + " to " + to + " (exclusive) cannot be trusted";
    }

    private static String blockAt(byte[] k) {
        if (k.length < MetaCodec.PAGE_KEY) {
            return "key " + java.util.HexFormat.of().formatHex(k);
        }
        ByteBuffer b = ByteBuffer.wrap(k);
        long page = b.getLong(4);
        // a successor key (one byte longer) begins after the page it extends
        long block = (k.length > MetaCodec.PAGE_KEY ? page + 1 : page) * MetaCodec.PAGE_ENTRIES;
        return "volume " + b.getInt(0) + " block " + block;
    }

    /** The chunk ids whose records lie between the group keys {@code lo} and {@code hi}. */
    private static String chunkGroups(byte[] lo, byte[] hi) {
        String from = lo == null ? "the start" : "chunk " + chunkAt(lo);
        String to = hi == null ? "the end" : "chunk " + chunkAt(hi);
        return "; chunk records from " + from + " to " + to + " (exclusive) cannot be trusted";
    }

    private static String chunkAt(byte[] k) {
        if (k.length < MetaCodec.GROUP_KEY) {
            return "key " + java.util.HexFormat.of().formatHex(k);
        }
        long group = ByteBuffer.wrap(k).getLong(0);
        return String.valueOf((k.length > MetaCodec.GROUP_KEY ? group + 1 : group) * MetaCodec.GROUP);
    }

    /** The smallest key greater than {@code k} in memcmp order. */
    private static byte[] successor(byte[] k) {
        return Arrays.copyOf(k, k.length + 1);
    }
}
