package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.LmdbPages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Corruption at rest in the metadata, by LMDB page type (issue 14): one pool ({@link DamagePool})
 * built once; for each class of used page of {@code data.mdb} ({@link LmdbPages#classes}: the meta
 * pages, the free-page and main databases' pages, and the branch and leaf pages of every named
 * database) and for several seeds, seeded bits are flipped only in pages of that class (1..8 pages,
 * one bit each, at a random offset among the bytes LMDB reads: not the free gap of a page), plus one case that flips one bit in every page of the class;
 * then the pool is opened and every LBA of every volume read back (single blocks and 64-block reads).
 * A GOOD read must return exactly what was written (zeros where nothing was); a refusal to open with
 * the reason, MEDIUM ERROR and read-only with the reason are the acceptable answers. Scrub runs on
 * every pool that opens. One line per class is printed: seeds, pages hit, GOOD reads, MEDIUM ERRORs,
 * refused opens, read-only opens.
 *
 * <p>Classes that never occur in this pool, and why: {@code main.branch} (the main database holds
 * only the 8 or 9 named databases: one leaf), {@code counters.branch} (one entry), and every
 * {@code .overflow} class (no value of the format is larger than LMDB's node limit of about 2 KiB:
 * block-map pages are at most 1046 bytes, reservation fragments 1028; no commit of this pool frees
 * enough pages for a free-list value to spill onto overflow pages). The test asserts that every other class exists, so it cannot silently test nothing.
 *
 * <p>{@code -Dflips.seeds=N} runs N seeds per class (default 1; a class of one page has N - 1 seeded
 * cases besides its every-page case, which is then a seeded case of its own), from seed
 * {@code -Dflips.first=F} (default 1); {@code -Dflips.classes=a,b} only those classes.
 */
class PageTypeDamageTest {
    /** The page classes this pool must have (each damaged in its own cases). */
    static final List<String> REQUIRED = List.of("meta", "free.leaf", "main.leaf",
            "volumes.branch", "volumes.leaf", "blockpages.branch", "blockpages.leaf", "chunkgroups.branch", "chunkgroups.leaf",
            "fpruns.branch", "fpruns.leaf", "fplog.branch", "fplog.leaf", "containers.branch", "containers.leaf", "counters.leaf",
            "reservations.branch", "reservations.leaf", "staged.branch", "staged.leaf");
    static final int MAX_PAGES = 8;

    @TempDir
    static Path base;
    static Path mdb;
    static DamagePool pool;
    static Map<String, List<Long>> classes;
    static final Map<String, long[]> table = new TreeMap<>();

    @BeforeAll
    static void build() throws Exception {
        pool = DamagePool.shared();
        mdb = pool.dir.resolve("meta/data.mdb");
        classes = LmdbPages.of(mdb).classes;
        StringBuilder sb = new StringBuilder();
        classes.forEach((k, v) -> sb.append(' ').append(k).append('=').append(v.size()));
        System.out.println("used pages by class:" + sb);
    }

    @Test
    void everyPageClassExists() {
        for (String c : REQUIRED) {
            assertTrue(classes.containsKey(c), "no " + c + " page in the pool: " + classes.keySet());
        }
    }

    @TestFactory
    Stream<DynamicTest> flippedBitsInEachPageClass() {
        int seeds = Integer.getInteger("flips.seeds", 1);
        long first = Long.getLong("flips.first", 1);
        List<DynamicTest> out = new ArrayList<>();
        List<String> only = System.getProperty("flips.classes") == null ? null
                : List.of(System.getProperty("flips.classes").split(","));
        for (String c : classes.keySet()) {
            if (only != null && !only.contains(c)) {
                continue;
            }
            // a class of one page: its every-page case is a seeded case too (one bit at a seeded offset)
            for (long s = first; s < first + seeds - (classes.get(c).size() == 1 ? 1 : 0); s++) {
                long seed = s;
                out.add(DynamicTest.dynamicTest(c + " seed " + seed, () -> run(c, seed, false)));
            }
            out.add(DynamicTest.dynamicTest(c + " every page", () -> run(c, 0, true)));
        }
        return out.stream();
    }

    /**
     * The separators of a branch page raised past the first key of the child each leads to (the lowest
     * clear bit of its last byte set): LMDB then routes a lookup of that key to the left sibling, which lacks it. Before the
     * page check counted the child's own keys into the damaged range, the block-map entry read back as
     * unmapped (zeros with GOOD status; found by {@code -Dflips.seeds=20}: blockpages.branch seeds 102
     * and 118) and a reservation image came back cut short (reservations.branch seeds 103, 108, 110).
     */
    @ParameterizedTest
    @ValueSource(strings = {"blockpages", "reservations", "chunkgroups", "volumes", "containers"})
    void aRaisedSeparatorHidesNoKey(String db) throws Exception {
        long pg = classes.get(db + ".branch").get(0);
        Path dir = Files.createTempDirectory(base, "sep");
        pool.copyTo(dir);
        java.nio.ByteBuffer p = java.nio.ByteBuffer.allocate(4096).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(mdb)) {
            ch.read(p, pg * 4096);
        }
        int n = ((p.getShort(12) & 0xffff) - 16) / 2;
        assertTrue(n >= 2, db + " branch page with " + n + " nodes");
        int raised = 0;
        for (int i = 1; i < n; i++) {
            int off = p.getShort(16 + 2 * i) & 0xffff;
            int ks = p.getShort(off + 6) & 0xffff;
            int last = off + 8 + ks - 1;
            int b = p.get(last) & 0xff;
            if (b != 0xff) {
                // set its lowest clear bit: the smallest raise one flipped bit makes
                DamagePool.flip(dir.resolve("meta/data.mdb"), pg * 4096 + last, Integer.numberOfTrailingZeros(~b));
                raised++;
            }
        }
        assertTrue(raised > 0, "no separator of " + db + " could be raised");
        DamagePool.Outcome o = pool.check(dir, db + " branch page " + pg + " with " + raised + " separators raised",
                true, true);
        System.out.println(db + " raised separators: " + o);
        deleteTree(dir);
    }

    private static void run(String cls, long seed, boolean everyPage) throws Exception {
        long t0 = System.nanoTime();
        Path dir = Files.createTempDirectory(base, "case");
        pool.copyTo(dir);
        long t1 = System.nanoTime();
        List<Long> pages = new ArrayList<>(classes.get(cls));
        Random r = new Random(seed * 31 + cls.hashCode());
        if (!everyPage) {
            java.util.Collections.shuffle(pages, r);
            pages = pages.subList(0, 1 + r.nextInt(Math.min(MAX_PAGES, pages.size())));
        }
        for (long pg : pages) {
            DamagePool.flip(dir.resolve("meta/data.mdb"), pg * 4096 + usedByte(cls, pg, r), r.nextInt(8));
        }
        String what = cls + (everyPage ? " every page" : " seed " + seed) + " (" + pages.size() + " pages)";
        DamagePool.Outcome o = pool.check(dir, what, true, true);
        System.out.printf("%s: %s [copy %.2f s, check %.2f s]%n", what, o, (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
        synchronized (table) {
            long[] t = table.computeIfAbsent(cls, k -> new long[6]);
            t[0]++;
            t[1] += pages.size();
            t[2] += o.good;
            t[3] += o.errors + o.otherErrors;
            t[4] += o.refused ? 1 : 0;
            t[5] += !o.refused && o.readOnlyReason != null ? 1 : 0;
        }
        deleteTree(dir);
    }

    static void deleteTree(Path dir) throws java.io.IOException {
        DamagePool.deleteTree(dir);
    }

    /**
     * A random offset among the bytes of page {@code pg} (of the sound file) that LMDB reads: the
     * meta record of a meta page (its first 152 bytes), the header, node pointers and nodes of a
     * branch or leaf page (not the gap between them, which holds nothing), any byte of an overflow page.
     */
    static int usedByte(String cls, long pg, Random r) throws java.io.IOException {
        if (cls.equals("meta")) {
            return r.nextInt(152);
        }
        if (cls.endsWith(".overflow")) {
            return r.nextInt(4096);
        }
        java.nio.ByteBuffer p = java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(mdb)) {
            ch.read(p, pg * 4096);
        }
        int lower = p.getShort(12) & 0xffff;
        int upper = p.getShort(14) & 0xffff;
        int at = r.nextInt(lower + 4096 - upper);
        return at < lower ? at : upper + at - lower;
    }

    @AfterAll
    static void printTable() {
        System.out.printf("%-20s %6s %6s %10s %8s %8s %9s%n", "page class", "cases", "pages", "GOOD", "MEDIUM",
                "refused", "read-only");
        table.forEach((c, t) -> System.out.printf("%-20s %6d %6d %10d %8d %8d %9d%n", c, t[0], t[1], t[2], t[3], t[4],
                t[5]));
    }
}
