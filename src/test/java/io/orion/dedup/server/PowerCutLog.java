package io.orion.dedup.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The log written by the {@code powercut.c} LD_PRELOAD shim (src/test/c): every change a process
 * made to the files under one directory, in completion order. {@link #buildImage} rebuilds that
 * directory as a power cut before record {@code k} could have left it: for each file, everything
 * before its last SYNC (or a SYNCALL) before {@code k} is durable and applied in order; of each later
 * change (before {@code k}) an arbitrary subset is kept, as {@link Mode} says — a write is cut into
 * 4 KiB-aligned pieces, each kept or dropped on its own (seeded). Writes through an O_DSYNC
 * descriptor are durable when they return. Directory changes (create, rename, unlink) are applied in
 * order. A log holding an UNSUPPORTED record (a shared writable mapping of a tracked file, ...) is
 * refused: its changes are not in the log.
 */
final class PowerCutLog {

    static final int NAME = 1, WRITE = 2, DWRITE = 3, SYNC = 4, SYNCALL = 5, TRUNCATE = 6, PUNCH = 7, EXTEND = 8,
            RENAME = 9, DELETE = 10, UNSUPPORTED = 11;
    private static final int HEADER = 32;
    private static final int PIECE = 4096;

    /** What is kept of the changes not made durable before the cut. */
    enum Mode {
        /** none: only what was made durable */
        DROP,
        /** all of them (as after a kill -9 of the process alone) */
        KEEP,
        /** each 4 KiB piece of each write, each truncate, punch and extension kept with probability 1/2 */
        RANDOM
    }

    /** One record: its type, file id, arguments, where its data lies in the log, its end offset. */
    record Rec(int type, int file, long a, long b, long data, int dlen, long end) {
    }

    private final MappedByteBuffer log;
    private final List<Rec> records = new ArrayList<>();
    private final Map<Integer, String> names = new HashMap<>();

    private PowerCutLog(MappedByteBuffer log) {
        this.log = log;
    }

    /** Reads the complete records of {@code file} (a torn last record, as a kill -9 can leave, is left out). */
    static PowerCutLog read(Path file) throws IOException {
        MappedByteBuffer m;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() > Integer.MAX_VALUE) {
                throw new IOException(file + " is larger than 2 GiB: shorten the workload");
            }
            m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
        }
        m.order(ByteOrder.LITTLE_ENDIAN);
        PowerCutLog l = new PowerCutLog(m);
        long size = m.capacity();
        long at = 0;
        while (at + HEADER <= size) {
            int type = m.getInt((int) at);
            int f = m.getInt((int) at + 4);
            long a = m.getLong((int) at + 8);
            long b = m.getLong((int) at + 16);
            int dlen = m.getInt((int) at + 24);
            if (type < NAME || type > UNSUPPORTED || dlen < 0) {
                throw new IOException("bad record type " + type + " at " + at + " of " + file);
            }
            long end = at + HEADER + dlen;
            if (end > size) {
                break;
            }
            Rec r = new Rec(type, f, a, b, at + HEADER, dlen, end);
            if (type == NAME) {
                l.names.put(f, l.string(r));
            }
            l.records.add(r);
            at = end;
        }
        return l;
    }

    private String string(Rec r) {
        byte[] d = new byte[r.dlen()];
        log.get((int) r.data(), d);
        return new String(d, StandardCharsets.UTF_8);
    }

    int size() {
        return records.size();
    }

    Rec get(int i) {
        return records.get(i);
    }

    String name(int file) {
        return names.get(file);
    }

    /** Where record {@code k} starts in the log (the log's length for {@code k == size()}). */
    long offsetOf(int k) {
        return k == 0 ? 0 : records.get(k - 1).end();
    }

    /** How many records were complete when the log was {@code logSize} bytes long. */
    int recordsAt(long logSize) {
        int lo = 0, hi = records.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (records.get(mid).end() <= logSize) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** The first UNSUPPORTED record's text, or null. */
    String unsupported() {
        for (Rec r : records) {
            if (r.type() == UNSUPPORTED) {
                return string(r) + " (record " + records.indexOf(r) + ")";
            }
        }
        return null;
    }

    /** Counts of records by type name, for the test's output. */
    Map<String, Integer> census() {
        String[] t = {"?", "NAME", "WRITE", "DWRITE", "SYNC", "SYNCALL", "TRUNCATE", "PUNCH", "EXTEND", "RENAME",
            "DELETE", "UNSUPPORTED"};
        Map<String, Integer> c = new LinkedHashMap<>();
        for (Rec r : records) {
            c.merge(t[r.type()], 1, Integer::sum);
        }
        return c;
    }

    /** One file's history as seen from a cut: its changes (record indices) and how many are durable. */
    private static final class Node {
        final List<Integer> ops = new ArrayList<>();
        int durable;
    }

    /** What {@link #buildImage} did: changes applied in full as durable, pending ones kept and dropped. */
    record Image(int durable, int kept, int dropped) {
    }

    /**
     * Makes the files under {@code dir} what a power cut before record {@code k} leaves there. Files
     * that exist are rewritten in place (opened without truncation, written, cut to length), so
     * they keep their inode as on a disk after a power cut (the server's saved flushed state names
     * data.mdb's inode); regular files the image does not hold are deleted. LMDB's lock file is
     * left out (LMDB builds it again at open).
     */
    Image buildImage(int k, Mode mode, long seed, Path dir) throws IOException {
        Map<String, Node> files = new LinkedHashMap<>();
        for (int i = 0; i < k; i++) {
            Rec r = records.get(i);
            switch (r.type()) {
                case NAME -> files.computeIfAbsent(names.get(r.file()), n -> new Node());
                case WRITE, DWRITE, TRUNCATE, PUNCH, EXTEND ->
                        files.computeIfAbsent(names.get(r.file()), n -> new Node()).ops.add(i);
                case SYNC -> {
                    Node n = files.computeIfAbsent(names.get(r.file()), x -> new Node());
                    n.durable = n.ops.size();
                }
                case SYNCALL -> files.values().forEach(n -> n.durable = n.ops.size());
                case RENAME -> {
                    Node n = files.remove(names.get(r.file()));
                    files.put(names.get((int) r.a()), n == null ? new Node() : n);
                }
                case DELETE -> files.remove(names.get(r.file()));
                case UNSUPPORTED -> throw new IOException("the log holds what the replay cannot model: " + string(r)
                        + " (record " + i + ")");
                default -> throw new IOException("record " + i + ": type " + r.type());
            }
        }
        // SplittableRandom mixes its seed: consecutive seeds (SEED + c) give unrelated draws, where
        // java.util.Random gives nearly the same first draws for them
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        int durable = 0, kept = 0, dropped = 0;
        for (Map.Entry<String, Node> e : files.entrySet()) {
            if (e.getKey().endsWith("lock.mdb")) {
                continue;
            }
            Content c = new Content();
            Node n = e.getValue();
            for (int j = 0; j < n.ops.size(); j++) {
                Rec r = records.get(n.ops.get(j));
                if (j < n.durable || r.type() == DWRITE) {
                    apply(c, r, 0, r.type() == TRUNCATE || r.type() == EXTEND ? 0 : length(r));
                    durable++;
                    continue;
                }
                if (mode == Mode.KEEP) {
                    apply(c, r, 0, r.type() == TRUNCATE || r.type() == EXTEND ? 0 : length(r));
                    kept++;
                } else if (mode == Mode.DROP) {
                    dropped++;
                } else if (r.type() == WRITE || r.type() == PUNCH) {
                    // 4 KiB-aligned pieces of the file, each kept or dropped on its own
                    long off = r.a();
                    long end = off + length(r);
                    while (off < end) {
                        long next = Math.min(end, (off / PIECE + 1) * PIECE);
                        if (rnd.nextBoolean()) {
                            apply(c, r, off - r.a(), next - off);
                            kept++;
                        } else {
                            dropped++;
                        }
                        off = next;
                    }
                } else if (rnd.nextBoolean()) {
                    apply(c, r, 0, 0);
                    kept++;
                } else {
                    dropped++;
                }
            }
            Path f = dir.resolve(e.getKey());
            Files.createDirectories(f.getParent());
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(c.bytes, 0, (int) c.size);
                while (b.hasRemaining()) {
                    ch.write(b, b.position());
                }
                ch.truncate(c.size);
            }
        }
        if (Files.isDirectory(dir)) {
            try (var all = Files.walk(dir)) {
                for (Path f : (Iterable<Path>) all::iterator) {
                    String rel = dir.relativize(f).toString();
                    if (!Files.isDirectory(f) && (!files.containsKey(rel) || rel.endsWith("lock.mdb"))) {
                        Files.delete(f);
                    }
                }
            }
        }
        return new Image(durable, kept, dropped);
    }

    private static long length(Rec r) {
        return r.type() == PUNCH ? r.b() : r.dlen();
    }

    /** Applies the part [from, from+len) of change {@code r} (relative to its offset) to {@code c}. */
    private void apply(Content c, Rec r, long from, long len) {
        switch (r.type()) {
            case WRITE, DWRITE -> {
                long at = r.a() + from;
                c.ensure(at + len);
                log.get((int) (r.data() + from), c.bytes, (int) at, (int) len);
            }
            case PUNCH -> {
                long at = r.a() + from;
                long stop = Math.min(c.size, at + len);
                if (at < stop) {
                    Arrays.fill(c.bytes, (int) at, (int) stop, (byte) 0);
                }
            }
            case TRUNCATE -> c.truncate(r.a());
            case EXTEND -> c.ensure(r.a());
            default -> throw new IllegalStateException("type " + r.type());
        }
    }

    /** A file's bytes while its image is built. */
    private static final class Content {
        byte[] bytes = new byte[0];
        long size;

        void ensure(long n) {
            if (n > Integer.MAX_VALUE - 8) {
                throw new IllegalStateException("file of " + n + " bytes");
            }
            if (n > bytes.length) {
                bytes = Arrays.copyOf(bytes, (int) Math.max(n, Math.min(Integer.MAX_VALUE - 8, bytes.length * 2L)));
            }
            size = Math.max(size, n);
        }

        void truncate(long n) {
            if (n < size) {
                Arrays.fill(bytes, (int) n, (int) size, (byte) 0);
                size = n;
            } else {
                ensure(n);
            }
        }
    }
}
