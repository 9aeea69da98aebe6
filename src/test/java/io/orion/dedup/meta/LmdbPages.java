package io.orion.dedup.meta;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * For corruption tests: the pages of an LMDB file (4 KiB pages, 64-bit little-endian layout)
 * reachable from the newest meta page, found by a plain walk that trusts what it reads (run it on
 * the sound file, before damaging it). Independent of {@link LmdbVerifier}.
 */
public final class LmdbPages {
    /** Every used page: meta pages, free-page, main and named databases (branch, leaf, overflow). */
    public final List<Long> used = new ArrayList<>();
    /** The leaf pages of each named database (blocks, chunks, ...). */
    public final java.util.Map<String, List<Long>> leaves = new java.util.TreeMap<>();
    /**
     * Every used page by its class: {@code meta} (pages 0 and 1), {@code free.branch},
     * {@code free.leaf}, {@code free.overflow} (the free-page database), {@code main.branch},
     * {@code main.leaf} (the main database, which names the others) and for each named database
     * {@code <name>.branch}, {@code <name>.leaf}, {@code <name>.overflow}. Only classes with at least
     * one page are present; every used page is in exactly one class.
     */
    public final java.util.Map<String, List<Long>> classes = new java.util.TreeMap<>();

    private LmdbPages() {
    }

    public static LmdbPages of(Path mdb) throws IOException {
        LmdbPages out = new LmdbPages();
        TreeSet<Long> pages = new TreeSet<>();
        try (FileChannel ch = FileChannel.open(mdb, StandardOpenOption.READ)) {
            ByteBuffer m0 = page(ch, 0);
            ByteBuffer m1 = page(ch, 1);
            ByteBuffer m = m1.getLong(144) > m0.getLong(144) ? m1 : m0;
            pages.add(0L);
            pages.add(1L);
            walk(ch, m.getLong(40 + 40), pages, null, null);
            java.util.Map<String, Long> subRoots = new java.util.TreeMap<>();
            walk(ch, m.getLong(88 + 40), pages, subRoots, null);
            for (java.util.Map.Entry<String, Long> e : subRoots.entrySet()) {
                TreeSet<Long> leaves = new TreeSet<>();
                walk(ch, e.getValue(), pages, null, leaves);
                out.leaves.put(e.getKey(), new ArrayList<>(leaves));
            }
        }
        out.used.addAll(pages);
        out.classify(mdb);
        return out;
    }

    private static ByteBuffer page(FileChannel ch, long pg) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining() && ch.read(b, pg * 4096 + b.position()) > 0) {
            // fill
        }
        return b;
    }

    private static void walk(FileChannel ch, long pg, TreeSet<Long> pages, java.util.Map<String, Long> subRoots,
            TreeSet<Long> leaves)
            throws IOException {
        if (pg == -1) {
            return;
        }
        pages.add(pg);
        ByteBuffer p = page(ch, pg);
        int flags = p.getShort(10) & 0xffff;
        if ((flags & 4) != 0) {
            int count = p.getInt(12);
            for (int i = 1; i < count; i++) {
                pages.add(pg + i);
            }
            return;
        }
        if ((flags & 2) != 0 && leaves != null) {
            leaves.add(pg);
        }
        int n = ((p.getShort(12) & 0xffff) - 16) / 2;
        for (int i = 0; i < n; i++) {
            int off = p.getShort(16 + 2 * i) & 0xffff;
            int ks = p.getShort(off + 6) & 0xffff;
            if ((flags & 1) != 0) {
                walk(ch, (p.getInt(off) & 0xffffffffL) | ((long) (p.getShort(off + 4) & 0xffff) << 32), pages,
                        subRoots, leaves);
            } else if (subRoots != null) {
                long root = p.getLong(off + 8 + ks + 40);
                byte[] name = new byte[ks];
                p.get(off + 8, name);
                if (root != -1) {
                    subRoots.put(new String(name, java.nio.charset.StandardCharsets.UTF_8), root);
                }
            } else if ((p.getShort(off + 4) & 1) != 0) { // F_BIGDATA: value on overflow pages
                walk(ch, p.getLong(off + 8 + ks), pages, null, null);
            }
        }
    }

    private void classify(Path mdb) throws IOException {
        try (FileChannel ch = FileChannel.open(mdb, StandardOpenOption.READ)) {
            ByteBuffer m0 = page(ch, 0);
            ByteBuffer m1 = page(ch, 1);
            ByteBuffer m = m1.getLong(144) > m0.getLong(144) ? m1 : m0;
            add("meta", 0);
            add("meta", 1);
            classifyTree(ch, m.getLong(40 + 40), "free", null);
            java.util.Map<String, Long> subRoots = new java.util.TreeMap<>();
            classifyTree(ch, m.getLong(88 + 40), "main", subRoots);
            for (java.util.Map.Entry<String, Long> e : subRoots.entrySet()) {
                classifyTree(ch, e.getValue(), e.getKey(), null);
            }
        }
        for (List<Long> l : classes.values()) {
            java.util.Collections.sort(l);
        }
    }

    private void add(String cls, long pg) {
        classes.computeIfAbsent(cls, k -> new ArrayList<>()).add(pg);
    }

    private void classifyTree(FileChannel ch, long pg, String db, java.util.Map<String, Long> subRoots)
            throws IOException {
        if (pg == -1) {
            return;
        }
        ByteBuffer p = page(ch, pg);
        int flags = p.getShort(10) & 0xffff;
        if ((flags & 4) != 0) {
            int count = p.getInt(12);
            for (int i = 0; i < count; i++) {
                add(db + ".overflow", pg + i);
            }
            return;
        }
        boolean branch = (flags & 1) != 0;
        add(db + (branch ? ".branch" : ".leaf"), pg);
        int n = ((p.getShort(12) & 0xffff) - 16) / 2;
        for (int i = 0; i < n; i++) {
            int off = p.getShort(16 + 2 * i) & 0xffff;
            int ks = p.getShort(off + 6) & 0xffff;
            if (branch) {
                classifyTree(ch, (p.getInt(off) & 0xffffffffL) | ((long) (p.getShort(off + 4) & 0xffff) << 32), db,
                        subRoots);
            } else if (subRoots != null) {
                long root = p.getLong(off + 8 + ks + 40);
                byte[] name = new byte[ks];
                p.get(off + 8, name);
                if (root != -1) {
                    subRoots.put(new String(name, java.nio.charset.StandardCharsets.UTF_8), root);
                }
            } else if ((p.getShort(off + 4) & 1) != 0) { // F_BIGDATA: value on overflow pages
                classifyTree(ch, p.getLong(off + 8 + ks), db, null);
            }
        }
    }
}
