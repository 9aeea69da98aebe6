package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.admin.AdminClient;
import io.orion.dedup.iscsi.RawScsiSession;
import io.orion.dedup.iscsi.RawScsiSession.Result;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Power loss under the real server process, in the manner of dm-log-writes / CrashMonkey: the server
 * runs with the {@code powercut.c} LD_PRELOAD shim (src/test/c), which logs every change it makes to
 * the files of its data directory, and every fsync/fdatasync, in completion order. A workload of
 * unique, duplicate and zero 4 KiB blocks, overwrites, FUA writes, UNMAP and SYNCHRONIZE CACHE runs
 * through one iSCSI session; for each command the log's length is noted when it was sent and when
 * its answer arrived. Then the server is killed (-9) and, for each of several cut points in the log,
 * {@link PowerCutLog#buildImage} builds the data directory a power cut there could have left (what
 * was made durable, plus none, all, or a random 4 KiB-piece subset of what was not). The real
 * server opens that image after a simulated reboot (a fresh boot id through
 * {@code -Dorion.boot-id-file}) and every block must satisfy the contract:
 * <ul>
 *   <li>a write acknowledged before a SYNCHRONIZE CACHE answered by the cut, or a FUA write
 *   answered by the cut, reads back exactly — or a later write of that block sent before the cut
 *   does;</li>
 *   <li>any other block reads one of the values written to it before the cut, or zeros when no
 *   write of it was made durable; never anything else (no torn 4 KiB block, no other block's data).</li>
 * </ul>
 * The pool must open, take a new write, and a scrub must find it clean.
 *
 * <p>Deterministic given {@code -Dpowerloss.seed} (printed); {@code -Dpowerloss.cuts} and
 * {@code -Dpowerloss.commands} size it (scripts/powerloss runs it long).
 */
class PowerLossIT {

    private static final int BLOCK = 4096;
    private static final int SECTOR = 512;
    private static final int BLOCKS = 8192;                 // the LUN: 32 MiB
    private static final int HOT = 256;                     // the first 1 MiB takes most overwrites
    private static final int DUPS = 8;                      // values 1..8: shared (duplicate) content
    private static final String IQN = "iqn.2026-12.io.orion:powerloss";
    private static final String INITIATOR = "iqn.2026-12.io.orion:powerloss-initiator";

    private static final long SEED = Long.getLong("powerloss.seed", System.nanoTime());
    private static final int CUTS = Integer.getInteger("powerloss.cuts", 10);
    private static final int COMMANDS = Integer.getInteger("powerloss.commands", 2500);

    /** One command of the workload: what it wrote, and the log's length when sent and answered. */
    private record Cmd(int kind, int first, long[] values, long sent, long done) {
    }

    private static final int WRITE = 0, FUA = 1, UNMAP = 2, SYNC = 3;

    @Test
    void acknowledgedFlushedWritesSurvivePowerLoss(@TempDir Path dir) throws Exception {
        System.out.println("PowerLossIT: seed " + SEED + " (-Dpowerloss.seed=" + SEED + "), " + CUTS + " cut points, "
                + COMMANDS + " commands");
        Path shim = compileShim();
        Path traced = Files.createDirectories(dir.resolve("traced"));
        Path log = dir.resolve("powercut.log");
        Path targets = Files.createDirectories(dir.resolve("targets"));
        Files.writeString(targets.resolve("powerloss.toml"), "iqn = \"" + IQN + "\"\n\n"
                + "[attributes]\nauthentication = false\ndemo_mode = true\n\n"
                + "[[portal_group]]\ntag = 1\nportals = []\n\n"
                + "[[lun]]\nid = 0\nvolume = \"powerloss\"\nsize = \"" + (BLOCKS * BLOCK >> 20) + "MiB\"\n");
        Path config = AdminTools.config(dir, 0);
        int port = ServerProcess.freePort();
        Random rnd = new Random(SEED);

        // 1. the workload, under the shim
        List<Cmd> cmds = new ArrayList<>();
        ServerProcess server = ServerProcess.start(traced.resolve("data"), targets, config, port,
                Map.of("LD_PRELOAD", shim.toString(), "POWERCUT_DIR", traced.toString(), "POWERCUT_LOG", log.toString()),
                List.of("-Dorion.boot-id-file=" + Files.writeString(dir.resolve("boot-id-traced"), UUID.randomUUID() + "\n")));
        long t0 = System.nanoTime();
        try (RawScsiSession s = RawScsiSession.login(new InetSocketAddress("127.0.0.1", port), INITIATOR, IQN, 0x1L)) {
            s.clearAttentions(0);
            long[] nextUnique = {1000};
            int untilSync = 20 + rnd.nextInt(40);
            for (int i = 0; i < COMMANDS; i++) {
                cmds.add(--untilSync <= 0 ? sync(s, log) : command(s, log, rnd, nextUnique));
                if (untilSync <= 0) {
                    untilSync = 20 + rnd.nextInt(40);
                }
                if (i % 800 == 799) {
                    // reference cleanup between commands: its relocations and frees are in the log too
                    try (AdminClient admin = AdminClient.connect(traced.resolve("data").resolve("control.sock"))) {
                        admin.referenceCleanup();
                    }
                }
            }
        } finally {
            server.kill();
        }
        long workMs = (System.nanoTime() - t0) / 1_000_000;

        // 2. the cut points
        PowerCutLog pl = PowerCutLog.read(log);
        assertEquals(null, pl.unsupported(), "the server did something the shim cannot model");
        int from = pl.recordsAt(cmds.get(0).sent());
        List<Integer> syncs = new ArrayList<>();
        for (int i = from; i < pl.size(); i++) {
            if (pl.get(i).type() == PowerCutLog.SYNC || pl.get(i).type() == PowerCutLog.SYNCALL) {
                syncs.add(i);
            }
        }
        System.out.println("PowerLossIT: " + cmds.size() + " commands in " + workMs + " ms; log " + Files.size(log)
                + " bytes, " + pl.size() + " records " + pl.census() + "; workload from record " + from + ", "
                + syncs.size() + " SYNC records in it");
        assertTrue(syncs.size() >= 2, "the workload made fewer than 2 SYNC records: " + pl.census());
        TreeSet<Integer> picked = new TreeSet<>();
        List<int[]> cuts = new ArrayList<>();              // {k, mode, where}
        for (int c = 0; c < CUTS; c++) {
            int where = c % 3;                              // 0 right after a SYNC, 1 right before, 2 anywhere
            int k = 0;
            for (int attempt = 0; attempt < 100; attempt++) {
                k = where == 2 ? from + rnd.nextInt(pl.size() - from + 1)
                        : syncs.get(rnd.nextInt(syncs.size())) + (where == 0 ? 1 : 0);
                if (!picked.contains(k)) {
                    break;
                }
            }
            picked.add(k);
            cuts.add(new int[] {k, (c / 3 + c) % 3, where});
        }

        // 3. each cut point: build the image, open it after a "reboot", check every block
        List<String> failures = new ArrayList<>();
        String[] whereName = {"after SYNC", "before SYNC", "random"};
        for (int c = 0; c < cuts.size(); c++) {
            int k = cuts.get(c)[0];
            PowerCutLog.Mode mode = PowerCutLog.Mode.values()[cuts.get(c)[1]];
            long c0 = System.nanoTime();
            // in place: data.mdb keeps its inode, as on the disk the power was cut under
            PowerCutLog.Image built = pl.buildImage(k, mode, SEED + c, traced);
            String verdict;
            int[] counts = new int[2];
            try {
                verdict = check(traced.resolve("data"), targets, config, port, cmds, pl.offsetOf(k), counts, dir, c);
            } catch (Throwable e) {
                verdict = "FAILED: " + e;
            }
            String line = String.format("cut %d: record %d of %d (%s, log byte %d), mode %s, image: %d durable, %d kept,"
                    + " %d dropped changes; %d durable writes checked, %d blocks, %d ms: %s", c, k, pl.size(),
                    whereName[cuts.get(c)[2]], pl.offsetOf(k), mode, built.durable(), built.kept(), built.dropped(),
                    counts[0], counts[1], (System.nanoTime() - c0) / 1_000_000, verdict);
            System.out.println("PowerLossIT: " + line);
            if (!verdict.equals("ok")) {
                failures.add(line);
            }
        }
        assertTrue(failures.isEmpty(), "seed " + SEED + ": " + failures.size() + " of " + cuts.size()
                + " cut points broke the contract:\n" + String.join("\n", failures));
    }

    /** Compiles src/test/c/powercut.c with gcc into target/ (gcc missing is a failure, not a skip). */
    static Path compileShim() throws IOException, InterruptedException {
        return compileShim("powercut");
    }

    /** Compiles the LD_PRELOAD shim src/test/c/{@code name}.c with gcc into target/{@code name}.so. */
    static Path compileShim(String name) throws IOException, InterruptedException {
        Path out = Path.of("target", name + ".so").toAbsolutePath();
        ExternalTool.Result r;
        try {
            r = ExternalTool.run(Duration.ofMinutes(2), "gcc", "-shared", "-fPIC", "-O1", "-U_FORTIFY_SOURCE", "-Wall",
                    "-Werror", "-o", out.toString(), "src/test/c/" + name + ".c", "-ldl", "-lpthread");
        } catch (IOException e) {
            throw new AssertionError("gcc is needed to build the " + name + " shim (scripts/test installs it): " + e, e);
        }
        assertEquals(0, r.exitCode(), "gcc: " + r.output());
        return out;
    }

    // ---- the workload ----

    private static Cmd sync(RawScsiSession s, Path log) throws IOException {
        long sent = Files.size(log);
        Result r = s.run(0, new byte[] {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, null, 0);
        long done = Files.size(log);
        assertEquals(0, r.status(), "SYNCHRONIZE CACHE: " + r.sense());
        return new Cmd(SYNC, 0, new long[0], sent, done);
    }

    private static Cmd command(RawScsiSession s, Path log, Random rnd, long[] nextUnique) throws IOException {
        int p = rnd.nextInt(100);
        if (p < 6) {
            int n = 1 + rnd.nextInt(32);
            int first = rnd.nextInt(BLOCKS - n + 1);
            ByteBuffer list = ByteBuffer.allocate(24);
            list.putShort((short) 22).putShort((short) 16).putInt(0);
            list.putLong((long) first * (BLOCK / SECTOR)).putInt(n * (BLOCK / SECTOR)).putInt(0);
            byte[] cdb = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0};
            long sent = Files.size(log);
            Result r = s.run(0, cdb, list.array(), 0);
            long done = Files.size(log);
            assertEquals(0, r.status(), "UNMAP: " + r.sense());
            return new Cmd(UNMAP, first, new long[n], sent, done);
        }
        boolean fua = p < 16;
        int n = 1 + rnd.nextInt(fua ? 4 : 8);
        int first = rnd.nextInt(10) < 3 ? rnd.nextInt(HOT - n + 1) : rnd.nextInt(BLOCKS - n + 1);
        long[] values = new long[n];
        byte[] data = new byte[n * BLOCK];
        for (int b = 0; b < n; b++) {
            int kind = rnd.nextInt(100);
            values[b] = kind < 50 ? nextUnique[0]++ : kind < 85 ? 1 + rnd.nextInt(DUPS) : 0;
            System.arraycopy(content(values[b]), 0, data, b * BLOCK, BLOCK);
        }
        long lba = (long) first * (BLOCK / SECTOR);
        int sectors = n * (BLOCK / SECTOR);
        byte[] cdb = {0x2a, (byte) (fua ? 0x08 : 0), (byte) (lba >>> 24), (byte) (lba >>> 16), (byte) (lba >>> 8),
            (byte) lba, 0, (byte) (sectors >>> 8), (byte) sectors, 0};
        long sent = Files.size(log);
        Result r = s.run(0, cdb, data, 0);
        long done = Files.size(log);
        assertEquals(0, r.status(), "WRITE: " + r.sense());
        return new Cmd(fua ? FUA : WRITE, first, values, sent, done);
    }

    /** The 4 KiB content of value {@code v}: zeros for 0, else v then bytes drawn from v. */
    static byte[] content(long v) {
        byte[] b = new byte[BLOCK];
        if (v == 0) {
            return b;
        }
        SplittableRandom r = new SplittableRandom(v * 0x9E3779B97F4A7C15L);
        for (int i = 8; i < BLOCK; i += 8) {
            long x = r.nextLong();
            for (int j = 0; j < 8; j++) {
                b[i + j] = (byte) (x >>> (8 * j));
            }
        }
        ByteBuffer.wrap(b).putLong(0, v);
        return b;
    }

    /** The value a block read back holds: 0 for zeros, -1 for anything that is no value's content. */
    static long valueOf(byte[] b, int at) {
        long v = ByteBuffer.wrap(b, at, BLOCK).getLong();
        byte[] want = content(v);
        return Arrays.equals(b, at, at + BLOCK, want, 0, BLOCK) ? v : -1;
    }

    // ---- the check of one cut point ----

    /**
     * Opens the image's data directory with the real server after a simulated reboot and checks
     * every block against the commands before log position {@code cut}; "ok" or what went wrong.
     * counts[0]: blocks whose value was required durable; counts[1]: blocks checked.
     */
    private static String check(Path data, Path targets, Path config, int port, List<Cmd> cmds, long cut, int[] counts,
                                Path dir, int c) throws Exception {
        // the last SYNCHRONIZE CACHE answered by the cut: every command before it was acknowledged
        int lastSync = -1;
        for (int i = 0; i < cmds.size(); i++) {
            if (cmds.get(i).kind() == SYNC && cmds.get(i).done() <= cut) {
                lastSync = i;
            }
        }
        // per block: the required value (index of its command) and the values allowed
        int[] required = new int[BLOCKS];
        Arrays.fill(required, -1);
        for (int i = 0; i < cmds.size(); i++) {
            Cmd x = cmds.get(i);
            boolean durable = i < lastSync || (x.kind() == FUA && x.done() <= cut);
            if (durable && x.kind() != SYNC) {
                for (int b = 0; b < x.values().length; b++) {
                    required[x.first() + b] = i;
                }
            }
        }
        List<Set<Long>> allowed = new ArrayList<>(BLOCKS);
        for (int b = 0; b < BLOCKS; b++) {
            Set<Long> a = new HashSet<>();
            if (required[b] < 0) {
                a.add(0L);
            } else {
                counts[0]++;
            }
            allowed.add(a);
        }
        for (int i = 0; i < cmds.size(); i++) {
            Cmd x = cmds.get(i);
            if (x.kind() == SYNC || x.sent() > cut) {
                continue;
            }
            for (int b = 0; b < x.values().length; b++) {
                if (i >= required[x.first() + b]) {
                    allowed.get(x.first() + b).add(x.values()[b]);
                }
            }
        }

        Path bootId = dir.resolve("boot-id-" + c);
        Files.writeString(bootId, UUID.randomUUID() + "\n");
        ServerProcess server;
        try {
            server = ServerProcess.start(data, targets, config, port, Map.of(),
                    List.of("-Dorion.boot-id-file=" + bootId, "-XX:TieredStopAtLevel=1"));
        } catch (AssertionError e) {
            return "the pool did not open: " + tail(e.getMessage());
        }
        String verdict;
        try {
            if (!server.output().contains("orion-dedup ready")) {  // start() returns when the output ends, too
                return "the pool did not open: " + tail(server.output());
            }
            verdict = verify(server, data, port, allowed, required, counts, c);
            return verdict;
        } finally {
            server.kill();                  // no clean stop needed: the next cut gets its own image
        }
    }

    private static String verify(ServerProcess server, Path data, int port, List<Set<Long>> allowed, int[] required,
                                 int[] counts, int c) throws Exception {
        try (RawScsiSession s = RawScsiSession.login(new InetSocketAddress("127.0.0.1", port), INITIATOR, IQN, 0x2L)) {
            s.clearAttentions(0);
            int wrong = 0;
            String first = null;
            int per = 64;                                    // 256 KiB per READ
            for (int b0 = 0; b0 < BLOCKS; b0 += per) {
                long lba = (long) b0 * (BLOCK / SECTOR);
                int sectors = per * (BLOCK / SECTOR);
                byte[] cdb = {0x28, 0, (byte) (lba >>> 24), (byte) (lba >>> 16), (byte) (lba >>> 8), (byte) lba, 0,
                    (byte) (sectors >>> 8), (byte) sectors, 0};
                Result r = s.run(0, cdb, null, per * BLOCK);
                if (r.status() != 0 || r.data().length != per * BLOCK) {
                    return "READ of blocks " + b0 + ".. answered status " + r.status() + " sense " + r.sense()
                            + " (" + r.data().length + " bytes)";
                }
                for (int j = 0; j < per; j++) {
                    int b = b0 + j;
                    counts[1]++;
                    long v = valueOf(r.data(), j * BLOCK);
                    if (!allowed.get(b).contains(v)) {
                        if (first == null) {
                            first = "block " + b + " reads " + (v < 0 ? "bytes of no value written" : "value " + v)
                                    + ", allowed " + allowed.get(b) + (required[b] >= 0 ? " (required: command "
                                    + required[b] + ")" : " (none required)");
                        }
                        wrong++;
                    }
                }
            }
            if (wrong > 0) {
                return wrong + " block(s) read wrong; first: " + first;
            }
            // the pool takes new writes
            byte[] fresh = content(Long.MAX_VALUE - c);
            byte[] wcdb = {0x2a, 0x08, 0, 0, 0, 0, 0, 0, 8, 0};
            Result w = s.run(0, wcdb, fresh, 0);
            if (w.status() != 0) {
                return "a new WRITE after recovery answered " + w.status() + " sense " + w.sense();
            }
            Result r = s.run(0, new byte[] {0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0}, null, BLOCK);
            if (r.status() != 0 || !Arrays.equals(fresh, r.data())) {
                return "a new WRITE after recovery did not read back (status " + r.status() + ")";
            }
        }
        try (AdminClient admin = AdminClient.connect(data.resolve("control.sock"))) {
            Map<String, Object> scrub = admin.scrub();
            for (String key : List.of("crc_errors", "fingerprint_mismatches", "metadata_errors", "container_errors",
                    "map_errors")) {
                Object v = scrub.get(key);
                if (!(v instanceof Number n) || n.longValue() != 0) {
                    return "scrub is not clean: " + scrub;
                }
            }
        } catch (Exception e) {
            return "scrub failed: " + e;
        }
        return "ok";
    }

    /** The server's error lines and its last line, on one line. */
    private static String tail(String s) {
        if (s == null) {
            return "";
        }
        List<String> keep = new ArrayList<>();
        String[] lines = s.split("\n");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains(" ERROR ") || lines[i].contains(" WARN ") || i == lines.length - 1) {
                keep.add(lines[i].replaceFirst("^\\S+Z ", ""));
            }
        }
        return String.join(" | ", keep);
    }
}
