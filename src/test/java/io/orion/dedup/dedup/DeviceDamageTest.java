package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.containers.JournalFormat;
import io.orion.dedup.containers.RecordFormat;
import io.orion.dedup.containers.SlotHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
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

/**
 * Corruption at rest on the backing devices (issue 14): the pool of {@link DamagePool} (two
 * devices), and for each kind of on-device structure (docs/on-disk-format.md) — chunk record
 * payloads, chunk record headers, slot headers (slots other than 0), journal records, device labels
 * (the 64 bytes at byte 0 of each device) — and several seeds: seeded bits flipped in 1..8
 * structures of that kind (one bit each), plus one case that flips one bit in every one of them.
 * The pool is opened and every LBA of every volume read back with the rule of
 * {@link DamagePool#check}: a GOOD read returns exactly what was written, zeros only where nothing
 * was; MEDIUM ERROR, read-only or a refusal to open with a reason are acceptable. Scrub runs where
 * the pool opens. Then {@code recover} ({@link PoolFixture#rebuildFromDevices}) rebuilds the
 * metadata of another copy from the damaged devices alone, and the rebuilt pool is read back by
 * the same rule.
 *
 * <p>{@code -Dflips.seeds=N} runs N seeds per kind (default 1), from seed {@code -Dflips.first=F}
 * (default 1).
 */
class DeviceDamageTest {
    static final List<String> KINDS = List.of("payload", "record-header", "slot-header", "journal", "label");
    static final int MAX_HITS = 8;

    @TempDir
    static Path base;
    static DamagePool pool;
    /** Per kind, the byte ranges {device, offset, length} of every structure of that kind. */
    static final Map<String, List<long[]>> structures = new TreeMap<>();
    static final Map<String, long[]> table = new TreeMap<>();

    @BeforeAll
    static void walk() throws Exception {
        pool = DamagePool.shared();
        for (String k : KINDS) {
            structures.put(k, new ArrayList<>());
        }
        List<Path> devs = DamagePool.devices(pool.dir);
        for (int d = 0; d < devs.size(); d++) {
            try (FileChannel ch = FileChannel.open(devs.get(d))) {
                structures.get("label").add(new long[] {d, 0, SlotHeader.SIZE});
                long slot = 1 << 20;
                for (long base = 0; base < ch.size(); base += slot) {
                    ByteBuffer h = read(ch, base, SlotHeader.SIZE);
                    if (h.getInt(0) != SlotHeader.MAGIC || h.getInt(8) == 0) {
                        continue; // a free slot, or a label-only header
                    }
                    if (base > 0) {
                        structures.get("slot-header").add(new long[] {d, base, SlotHeader.SIZE});
                    }
                    long pos = base + SlotHeader.SIZE;
                    while (pos + 32 <= base + slot) {
                        ByteBuffer r = read(ch, pos, 32);
                        if (r.remaining() < 32) {
                            break;
                        }
                        if (r.getInt(0) == RecordFormat.MAGIC) {
                            int n = r.getInt(20);
                            structures.get("record-header").add(new long[] {d, pos, RecordFormat.HEADER});
                            structures.get("payload").add(new long[] {d, pos + RecordFormat.HEADER, n});
                            pos += RecordFormat.HEADER + n;
                        } else if (r.getInt(0) == JournalFormat.MAGIC) {
                            int n = r.getInt(16);
                            structures.get("journal").add(new long[] {d, pos, JournalFormat.HEADER + n});
                            pos += JournalFormat.HEADER + n;
                        } else {
                            break;
                        }
                    }
                }
            }
        }
        StringBuilder sb = new StringBuilder();
        structures.forEach((k, v) -> sb.append(' ').append(k).append('=').append(v.size()));
        System.out.println("device structures:" + sb);
    }

    private static ByteBuffer read(FileChannel ch, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining() && ch.read(b, pos + b.position()) > 0) {
            // fill
        }
        return b.flip();
    }

    @Test
    void everyKindExists() {
        for (String k : KINDS) {
            assertTrue(structures.get(k).size() > (k.equals("label") ? 1 : 10), k + ": " + structures.get(k).size());
        }
    }

    /** The baseline: recover from the sound devices rebuilds a pool that reads back everything. */
    @Test
    void recoverFromSoundDevicesReadsEverything() throws Exception {
        Path again = Files.createTempDirectory(base, "sound");
        pool.copyTo(again);
        var summary = PoolFixture.rebuildFromDevices(DamagePool.options(again).build());
        DamagePool.Outcome o = pool.checkRebuilt(again, "sound devices after recover");
        System.out.println("sound devices: recover: " + summary + "; " + o);
        assertTrue(o.errors == 0 && o.otherErrors == 0 && o.volumesMissing == 0 && o.scrub.clean(), o.toString());
        DamagePool.deleteTree(again);
    }

    /**
     * Not damage: a journal record written in part (its first page, then a page never written, as a
     * crash leaves it) with a whole chunk record after it (a concurrent append that completed): neither
     * was committed. recover walks on and rebuilds everything (it must not take the torn record for a
     * damaged one and refuse).
     */
    @Test
    void aTornRecordBeforeACompletedAppendIsNoDamage() throws Exception {
        Path again = Files.createTempDirectory(base, "torn");
        pool.copyTo(again);
        Path dev = DamagePool.devices(again).get(0);
        long[] at = null;
        try (FileChannel ch = FileChannel.open(dev)) {
            for (long slot = 1 << 20; slot < ch.size() && at == null; slot += 1 << 20) {
                ByteBuffer h = read(ch, slot, SlotHeader.SIZE);
                if (h.getInt(0) != SlotHeader.MAGIC || h.getInt(8) == 0) {
                    continue;
                }
                long pos = slot + SlotHeader.SIZE;
                while (true) {
                    ByteBuffer r = read(ch, pos, 32);
                    if (r.remaining() < 32 || r.getInt(0) != RecordFormat.MAGIC && r.getInt(0) != JournalFormat.MAGIC) {
                        break;
                    }
                    pos += r.getInt(0) == RecordFormat.MAGIC ? RecordFormat.HEADER + r.getInt(20)
                            : JournalFormat.HEADER + r.getInt(16);
                }
                if (pos + 3 * 4096 + 5000 < slot + (1 << 20)) {
                    at = new long[] {slot, pos};
                }
            }
        }
        assertTrue(at != null, "a container with room after its records");
        int payload = 2 * 4096; // spans at least one whole page that stays zeros
        ByteBuffer torn = ByteBuffer.allocate(JournalFormat.HEADER + payload);
        torn.putInt(JournalFormat.MAGIC).put((byte) 1).put((byte) JournalFormat.TYPE_CHANGES).putShort((short) 0)
                .putLong(1L << 40).putInt(payload).putInt(1).putInt(0).putInt(0x12345678);
        byte[] firstPart = PoolFixture.random(77, 100);
        torn.put(firstPart).clear();
        byte[] data = PoolFixture.random(78, 4096);
        byte[] rec = new byte[RecordFormat.HEADER + 4096];
        System.arraycopy(data, 0, rec, RecordFormat.HEADER, 4096);
        RecordFormat.seal(rec, (1L << 40) + 1, java.security.MessageDigest.getInstance("SHA-256").digest(data), 0,
                4096, 4096);
        try (FileChannel ch = FileChannel.open(dev, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(torn, at[1]);
            ch.write(ByteBuffer.wrap(rec), at[1] + JournalFormat.HEADER + payload);
        }
        var summary = PoolFixture.rebuildFromDevices(DamagePool.options(again).build());
        DamagePool.Outcome o = pool.checkRebuilt(again, "a torn journal record before a completed append");
        System.out.println("torn record before a completed append: recover: " + summary + "; " + o);
        assertTrue(o.errors == 0 && o.otherErrors == 0 && o.volumesMissing == 0 && o.scrub.clean(), o.toString());
        DamagePool.deleteTree(again);
    }

    @TestFactory
    Stream<DynamicTest> flippedBitsInEachKind() {
        int seeds = Integer.getInteger("flips.seeds", 1);
        long first = Long.getLong("flips.first", 1);
        List<DynamicTest> out = new ArrayList<>();
        for (String k : KINDS) {
            for (long s = first; s < first + seeds; s++) {
                long seed = s;
                out.add(DynamicTest.dynamicTest(k + " seed " + seed, () -> run(k, seed, false)));
            }
            out.add(DynamicTest.dynamicTest(k + " every one", () -> run(k, 0, true)));
        }
        return out.stream();
    }

    private static void run(String kind, long seed, boolean every) throws Exception {
        List<long[]> hit = new ArrayList<>(structures.get(kind));
        Random r = new Random(seed * 131 + kind.hashCode());
        if (!every) {
            java.util.Collections.shuffle(hit, r);
            hit = hit.subList(0, 1 + r.nextInt(Math.min(MAX_HITS, hit.size())));
        }
        long t0 = System.nanoTime();
        Path dir = Files.createTempDirectory(base, "case");
        pool.copyTo(dir);
        List<Path> devs = DamagePool.devices(dir);
        List<long[]> flips = new ArrayList<>();
        for (long[] s : hit) {
            flips.add(new long[] {s[0], s[1] + (long) r.nextInt((int) s[2]), r.nextInt(8)});
        }
        for (long[] f : flips) {
            DamagePool.flip(devs.get((int) f[0]), f[1], (int) f[2]);
        }
        // a second copy, damaged the same way, for recover (the first is opened, which may cut tails)
        Path again = Files.createTempDirectory(base, "recover");
        pool.copyTo(again);
        for (long[] f : flips) {
            DamagePool.flip(DamagePool.devices(again).get((int) f[0]), f[1], (int) f[2]);
        }
        String what = kind + (every ? " every one" : " seed " + seed) + " (" + hit.size() + " hit)";
        DamagePool.Outcome o = pool.check(dir, what, true, true);
        System.out.println(what + ": " + o);
        DamagePool.deleteTree(dir);

        String rebuilt;
        DamagePool.Outcome ro = null;
        try {
            var summary = PoolFixture.rebuildFromDevices(DamagePool.options(again).build());
            rebuilt = "recover: " + summary.volumes() + " volumes, " + summary.mappedBlocks() + " mapped blocks, "
                    + summary.lostBlocks() + " lost, " + summary.tornTails() + " torn tails";
            ro = pool.checkRebuilt(again, what + " after recover");
            rebuilt += "; " + ro;
        } catch (IOException e) {
            rebuilt = "recover refused: " + e;
            assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), what + ": recover failed without a reason");
        }
        System.out.printf("%s: %s [%.2f s]%n", what, rebuilt, (System.nanoTime() - t0) / 1e9);
        DamagePool.deleteTree(again);
        synchronized (table) {
            long[] t = table.computeIfAbsent(kind, k -> new long[10]);
            t[0]++;
            t[1] += hit.size();
            t[2] += o.good;
            t[3] += o.errors + o.otherErrors;
            t[4] += o.refused ? 1 : 0;
            t[5] += !o.refused && o.readOnlyReason != null ? 1 : 0;
            if (ro != null) {
                t[6] += ro.good;
                t[7] += ro.errors + ro.otherErrors;
                t[8] += ro.volumesMissing;
            } else {
                t[9]++;
            }
        }
    }

    @AfterAll
    static void printTable() {
        System.out.printf("%-14s %5s %5s %8s %7s %7s %9s | %-8s %8s %7s %8s %8s%n", "device damage", "cases", "hit",
                "GOOD", "MEDIUM", "refused", "read-only", "recover:", "GOOD", "MEDIUM", "vol lost", "refused");
        table.forEach((k, t) -> System.out.printf("%-14s %5d %5d %8d %7d %7d %9d | %-8s %8d %7d %8d %8d%n", k, t[0], t[1],
                t[2], t[3], t[4], t[5], "", t[6], t[7], t[8], t[9]));
    }
}
