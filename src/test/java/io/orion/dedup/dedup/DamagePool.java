package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import io.orion.dedup.meta.MetaCorruptException;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * For the corruption-at-rest tests ({@link PageTypeDamageTest}, {@link DeviceDamageTest}): one pool
 * of known content, built once, whose closed files are copied for each damage case, and the read-back
 * rule: every LBA of every volume reads back exactly what was written (zeros where nothing was) or
 * fails (MEDIUM ERROR); never other bytes, never zeros where data was.
 *
 * <p>The pool has two devices, 1 MiB containers, and is made so that every named LMDB database has
 * branch pages: 40 volumes with long names (volumes), two volumes of 2048 blocks with unique,
 * duplicate, zero and never-written blocks (blockpages, chunks, fpindex), a read-only snapshot of one
 * of them overwritten afterwards, a post-process volume of 1024 blocks (staged), persistent
 * reservation images of 3000 bytes on 12 volumes (reservations), and {@link #CYCLES} reopen cycles
 * that each write a few blocks (each open seals the open containers: about as many containers).
 */
final class DamagePool {
    static final int BLOCK = 4096;
    static final int SMALL_VOLUMES = 40;
    static final int SMALL_BLOCKS = 16;
    static final int BIG_BLOCKS = 1024;
    static final int POST_BLOCKS = 1024;
    static final int CYCLES = 40;
    static final int PER_CYCLE = 8;
    static final int RESERVATION_BYTES = 3000;

    /** What each volume must read back: per LBA the bytes written, null where nothing is mapped. */
    final Map<String, byte[][]> written = new LinkedHashMap<>();
    /** The persistent reservation images saved, by volume name. */
    final Map<String, byte[]> reservations = new TreeMap<>();
    final Path dir;

    private DamagePool(Path dir) {
        this.dir = dir;
    }

    static PoolOptions.Builder options(Path dir) {
        return PoolOptions.builder(dir.resolve("meta")).device(dir.resolve("data/dev0.img"), 0)
                .device(dir.resolve("data/dev1.img"), 0)
                .containerSize(1 << 20).metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0)
                .cacheSize(8 << 20).hashCacheSize(1 << 20);
    }

    static List<Path> devices(Path dir) {
        return List.of(dir.resolve("data/dev0.img"), dir.resolve("data/dev1.img"));
    }

    static String smallName(int i) {
        return String.format("small-%02d-", i) + "x".repeat(180);
    }

    private static DamagePool shared;

    /**
     * The pool both corruption tests use, built once per test JVM in a temporary directory (removed
     * when the JVM exits). Treat it as read-only: copy it ({@link #copyTo}) before damaging anything.
     */
    static synchronized DamagePool shared() throws IOException {
        if (shared == null) {
            Path dir = Files.createTempDirectory("orion-damage");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    deleteTree(dir);
                } catch (IOException e) {
                    // best effort
                }
            }));
            long t0 = System.nanoTime();
            shared = build(dir);
            System.out.printf("damage pool built in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        }
        return shared;
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    static DamagePool build(Path dir) throws IOException {
        DamagePool p = new DamagePool(dir);
        Random r = new Random(4242);
        try (DedupPool pool = DedupPool.open(options(dir).build())) {
            for (String name : new String[] {"alpha", "beta"}) {
                DedupVolume v = pool.createVolume(name, BLOCK, (long) BIG_BLOCKS * BLOCK, BLOCK);
                p.written.put(name, fill(v, BIG_BLOCKS, r));
            }
            DedupVolume post = pool.createVolume("post", BLOCK, (long) POST_BLOCKS * BLOCK, BLOCK, DedupMode.POST);
            p.written.put("post", fill(post, POST_BLOCKS, r));
            for (int i = 0; i < SMALL_VOLUMES; i++) {
                DedupVolume v = pool.createVolume(smallName(i), BLOCK, (long) SMALL_BLOCKS * BLOCK, BLOCK);
                p.written.put(smallName(i), fill(v, SMALL_BLOCKS, r));
                if (i < 12) {
                    byte[] image = PoolFixture.random(700 + i, RESERVATION_BYTES);
                    pool.saveReservationState(v, image);
                    p.reservations.put(smallName(i), image);
                }
            }
            // a snapshot of alpha, then alpha overwritten (new data, duplicates, zeros) and partly unmapped
            pool.cloneVolume("alpha", "alpha-snap", true);
            p.written.put("alpha-snap", deepCopy(p.written.get("alpha")));
            DedupVolume alpha = pool.openVolume("alpha").orElseThrow();
            byte[][] a = p.written.get("alpha");
            for (int lba = 100; lba < 164; lba++) {
                a[lba] = lba % 5 == 0 ? new byte[BLOCK] : PoolFixture.random(lba % 3 == 0 ? 9000 + lba : 5000 + lba, BLOCK);
                alpha.write(lba, ByteBuffer.wrap(a[lba]), false);
            }
            alpha.unmap(300, 40);
            Arrays.fill(a, 300, 340, null);
            pool.createVolume("tail", BLOCK, (long) CYCLES * PER_CYCLE * BLOCK, BLOCK);
            p.written.put("tail", new byte[CYCLES * PER_CYCLE][]);
            // the index so far merged into fpindex; the tail's fingerprints stay in the change log
            pool.meta().mergeFingerprintLog();
        }
        for (int c = 0; c < CYCLES; c++) {
            try (DedupPool pool = DedupPool.open(options(dir).build())) {
                DedupVolume v = pool.openVolume("tail").orElseThrow();
                ByteBuffer run = ByteBuffer.allocate(PER_CYCLE * BLOCK);
                byte[][] t = p.written.get("tail");
                for (int i = 0; i < PER_CYCLE; i++) {
                    t[c * PER_CYCLE + i] = i == 7 ? new byte[BLOCK]
                            : PoolFixture.random(i == 6 ? 3 : 100_000 + c * PER_CYCLE + i, BLOCK);
                    run.put(t[c * PER_CYCLE + i]);
                }
                v.write((long) c * PER_CYCLE, run.flip(), false);
            }
        }
        return p;
    }

    /** Blocks of {@code v}: 20 % never written, 20 % duplicates of 50 contents, 10 % zeros, the rest unique. */
    private static byte[][] fill(DedupVolume v, int blocks, Random r) throws IOException {
        byte[][] out = new byte[blocks][];
        for (int i = 0; i < blocks; i++) {
            int kind = r.nextInt(10);
            out[i] = kind < 2 ? null : kind < 4 ? PoolFixture.random(r.nextInt(50), BLOCK)
                    : kind == 4 ? new byte[BLOCK] : PoolFixture.random(r.nextLong(), BLOCK);
        }
        int i = 0;
        while (i < blocks) {
            if (out[i] == null) {
                i++;
                continue;
            }
            int j = i;
            ByteBuffer run = ByteBuffer.allocate(Math.min(64, blocks - i) * BLOCK);
            while (j < blocks && j - i < 64 && out[j] != null) {
                run.put(out[j]);
                j++;
            }
            v.write(i, run.flip(), false);
            i = j;
        }
        return out;
    }

    private static byte[][] deepCopy(byte[][] b) {
        byte[][] out = new byte[b.length][];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] == null ? null : b[i].clone();
        }
        return out;
    }

    /** Per file of the pool (relative path): its length and the extents {offset, length} that are not zeros. */
    private Map<String, long[][]> extents;

    /**
     * Copies the closed pool's files to {@code to}: only their non-zero 4 KiB blocks are written (the
     * device files are sparse, and LMDB's reserve is zeros), found once.
     */
    synchronized void copyTo(Path to) throws IOException {
        if (extents == null) {
            extents = new TreeMap<>();
            try (var files = Files.walk(dir)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    extents.put(dir.relativize(f).toString(), scan(f));
                }
            }
        }
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        for (Map.Entry<String, long[][]> e : extents.entrySet()) {
            Path t = to.resolve(e.getKey());
            Files.createDirectories(t.getParent());
            try (FileChannel in = FileChannel.open(dir.resolve(e.getKey()), StandardOpenOption.READ);
                 FileChannel out = FileChannel.open(t, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                long[][] x = e.getValue();
                for (int i = 1; i < x.length; i++) {
                    for (long done = 0; done < x[i][1]; ) {
                        buf.clear().limit((int) Math.min(buf.capacity(), x[i][1] - done));
                        int n = in.read(buf, x[i][0] + done);
                        out.write(buf.flip(), x[i][0] + done);
                        done += n;
                    }
                }
                out.truncate(x[0][0]);
                if (out.size() < x[0][0]) {
                    out.write(ByteBuffer.allocate(1), x[0][0] - 1);
                }
            }
        }
    }

    /** {length}, then the runs of non-zero 4 KiB blocks of {@code f} as {offset, length}. */
    private static long[][] scan(Path f) throws IOException {
        List<long[]> out = new java.util.ArrayList<>();
        try (FileChannel in = FileChannel.open(f, StandardOpenOption.READ)) {
            long size = in.size();
            out.add(new long[] {size, 0});
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            byte[] zero = new byte[BLOCK];
            long pos = 0;
            while (pos < size) {
                buf.clear();
                int n = in.read(buf, pos);
                if (n <= 0) {
                    break;
                }
                for (int off = 0; off < n; off += BLOCK) {
                    int len = Math.min(BLOCK, n - off);
                    if (!Arrays.equals(buf.array(), off, off + len, zero, 0, len)) {
                        long[] last = out.get(out.size() - 1);
                        if (out.size() > 1 && last[0] + last[1] == pos + off) {
                            last[1] += len;
                        } else {
                            out.add(new long[] {pos + off, len});
                        }
                    }
                }
                pos += n;
            }
        }
        return out.toArray(new long[0][]);
    }

    /** Flips bit {@code bit} of the byte at {@code pos} of {@code file}. */
    static void flip(Path file, long pos, int bit) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, pos);
            b.put(0, (byte) (b.get(0) ^ (1 << bit)));
            ch.write(b.flip(), pos);
        }
    }

    /** The outcome of opening and reading back one damaged copy. */
    static final class Outcome {
        boolean refused;
        String refusedReason;
        String readOnlyReason;
        long good;
        long errors;
        long otherErrors;
        int volumesMissing;
        ScrubResult scrub;

        @Override
        public String toString() {
            return refused ? "refused: " + refusedReason
                    : good + " GOOD, " + errors + " MEDIUM ERROR" + (otherErrors > 0 ? ", " + otherErrors + " other errors" : "")
                    + (volumesMissing > 0 ? ", " + volumesMissing + " volumes missing" : "")
                    + ", read-only: " + readOnlyReason + (scrub == null ? "" : ", scrub: " + scrubLine(scrub));
        }
    }

    static String scrubLine(ScrubResult s) {
        return "metadata " + s.metadataErrors() + ", containers " + s.containerErrors() + ", crc " + s.crcErrors()
                + ", fingerprint " + s.fingerprintMismatches() + ", map " + s.mapErrors()
                + (s.problems().isEmpty() ? "" : ", first: " + s.problems().get(0));
    }

    /**
     * Opens the pool in {@code dir} and reads back every LBA of every volume, in single-block and in
     * 64-block reads; fails on any GOOD read of wrong bytes. A refusal to open must give a reason.
     *
     * @param reservationsKept the pool still holds the reservation images (false after a rebuild)
     * @param scrub also run scrub and keep its result
     */
    Outcome check(Path dir, String what, boolean reservationsKept, boolean scrub) throws IOException {
        return check(dir, what, reservationsKept, scrub, false);
    }

    /**
     * As {@link #check} for a pool whose metadata {@code recover} rebuilt from damaged devices: it has
     * no reservations, and a volume whose catalogue records were all lost is missing (counted) while
     * the pool is writable; every read of the volumes it has follows the same rule.
     */
    Outcome checkRebuilt(Path dir, String what) throws IOException {
        return check(dir, what, false, true, true);
    }

    private Outcome check(Path dir, String what, boolean reservationsKept, boolean scrub, boolean rebuilt)
            throws IOException {
        Outcome o = new Outcome();
        DedupPool pool;
        try {
            pool = DedupPool.open(options(dir).build());
        } catch (MetaCorruptException e) {
            o.refused = true;
            o.refusedReason = e.getMessage();
            assertNotNull(e.getMessage(), what + ": refused without a reason");
            assertFalse(e.getMessage().isBlank(), what + ": refused without a reason");
            return o;
        } catch (IOException e) {
            // a device the pool cannot tell apart (a damaged label): refused, naming it
            if (e instanceof ChecksumMismatchException || e.getMessage() == null || e.getMessage().isBlank()) {
                throw e;
            }
            o.refused = true;
            o.refusedReason = e.getClass().getSimpleName() + ": " + e.getMessage();
            return o;
        }
        try (pool) {
            o.readOnlyReason = pool.readOnlyReason();
            for (Map.Entry<String, byte[][]> e : written.entrySet()) {
                DedupVolume v = pool.openVolume(e.getKey()).orElse(null);
                if (v == null && rebuilt) {
                    o.volumesMissing++;
                    continue;
                }
                if (v == null) {
                    assertNotNull(pool.readOnlyReason(), what + ": volume " + e.getKey()
                            + " vanished but the pool is not read-only");
                    o.volumesMissing++;
                    continue;
                }
                byte[][] blocks = e.getValue();
                for (int lba = 0; lba < blocks.length; lba++) {
                    ByteBuffer b = ByteBuffer.allocate(BLOCK);
                    try {
                        v.read(lba, b);
                    } catch (ChecksumMismatchException x) {
                        o.errors++;
                        continue;
                    } catch (IOException x) {
                        o.otherErrors++;
                        continue;
                    }
                    expect(what, e.getKey(), lba, blocks[lba], b.array(), 0, pool);
                    o.good++;
                }
                for (int lba = 0; lba < blocks.length; lba += 64) {
                    int n = Math.min(64, blocks.length - lba);
                    ByteBuffer b = ByteBuffer.allocate(n * BLOCK);
                    try {
                        v.read(lba, b);
                    } catch (IOException x) {
                        continue;
                    }
                    for (int i = 0; i < n; i++) {
                        expect(what, e.getKey() + " (in a " + n + "-block read from " + lba + ")", lba + i,
                                blocks[lba + i], b.array(), i * BLOCK, pool);
                    }
                }
                if (reservationsKept && reservations.containsKey(e.getKey())) {
                    byte[] got;
                    try {
                        got = pool.reservationState(v);
                    } catch (IOException x) {
                        got = null;
                        o.errors++;
                    }
                    if (got != null) {
                        assertArrayEquals(reservations.get(e.getKey()), got, what + ": reservations of " + e.getKey());
                    }
                }
            }
            if (scrub) {
                o.scrub = pool.verify();
            }
        }
        return o;
    }

    private static void expect(String what, String volume, int lba, byte[] want, byte[] got, int at, DedupPool pool) {
        byte[] w = want == null ? new byte[BLOCK] : want;
        if (!Arrays.equals(w, 0, BLOCK, got, at, at + BLOCK)) {
            boolean zeros = Arrays.equals(new byte[BLOCK], 0, BLOCK, got, at, at + BLOCK);
            fail(what + ": volume " + volume + " LBA " + lba + " read back GOOD with "
                    + (zeros ? "zeros" : "other bytes") + " instead of " + (want == null ? "zeros" : "its data")
                    + "; read-only: " + pool.readOnlyReason());
        }
    }
}
