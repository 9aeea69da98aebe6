package io.orion.dedup.server;

import io.orion.dedup.iscsi.PipelinedSession;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The long-load test ({@code scripts/soak MINUTES}, {@link SoakIT} for one minute): a server started
 * for the run on loopback with 4 thin dedup LUNs, {@code sessions} iSCSI sessions each keeping
 * {@code depth} commands in flight ({@link PipelinedSession}) with a mix of READ(16) (checked
 * against the model), WRITE(16) of unique, duplicate and zero 4 KiB blocks, UNMAP, COMPARE AND WRITE
 * (compared against the model; one in eight with a deliberately wrong compare buffer, which must
 * answer MISCOMPARE and change nothing) and EXTENDED COPY between two LUNs; meanwhile the real CLI
 * creates and deletes a 5th scratch LUN (written and read back through its own session), adds and
 * removes an ACL, runs reference cleanup and a scrub.
 *
 * <p>The model: every 4 KiB block of every LUN has one owner session (session s owns the s-th slice
 * of each LUN), and a session never has two commands in flight on one block, so the expected content
 * of every block is exact at every instant: a seed (0 = zeros, else {@link #content}). At the end
 * every block of every LUN is read back and compared.
 *
 * <p>Every interval (a minute in the long run) one line: commands/s, MiB/s, the server's heap live
 * after a forced full GC and the block and fingerprint caches' share of it ({@link #heapAfterGc}),
 * its open file descriptors ({@code /proc/PID/fd}), threads and RSS ({@code /proc/PID/status}).
 * "Flat" is judged against the first interval: file descriptors and threads at most max(+10 %, +20),
 * heap after GC outside the caches (which fill up to their configured size) at most
 * max(+25 %, +64 MiB), every
 * interval's throughput at least half the first's; and 0 errors, 0 wrong reads, nothing outstanding
 * at the end (a hang), the server stops cleanly.
 */
public final class Soak {

    static final String IQN = "iqn.2026-12.io.orion:soak";
    static final int BLOCK = 4096;
    static final int SECTORS = BLOCK / 512;
    static final int LUNS = 4;
    static final int SCRATCH_LUN = 4;
    static final int MAX_BLOCKS = 16;
    static final long DUP_SEEDS = 256;

    /** What to run. */
    record Options(double minutes, int sessions, int depth, int lunMiB, int intervalSeconds, int port,
            int metricsPort, int adminSeconds, Path work) {
    }

    /** One interval's figures. */
    record Sample(int index, double seconds, long commands, long bytes, double heapMiB, double cacheMiB, long fds,
            long threads, double rssMiB, long errors, long wrongReads) {
        /** Heap after GC outside the block and fingerprint caches (bounded by their configured size). */
        double otherHeapMiB() {
            return heapMiB - cacheMiB;
        }

        double iops() {
            return commands / seconds;
        }

        double mibs() {
            return bytes / seconds / (1 << 20);
        }
    }

    /** The outcome: the table and every reason it is not flat (empty: passed). */
    record Report(List<Sample> samples, List<String> problems, long commands, long verifiedBlocks, long adminActions) {
        boolean passed() {
            return problems.isEmpty();
        }
    }

    private final Options o;
    private final PrintStream out;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicLong commands = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong wrongReads = new AtomicLong();
    private final AtomicLong unitAttentions = new AtomicLong();
    private final AtomicLong miscompares = new AtomicLong();
    private final AtomicLong adminActions = new AtomicLong();
    private final AtomicLong uniqueSeeds = new AtomicLong(1_000_000);
    private final List<String> errorSamples = new ArrayList<>();
    private final byte[][] dupContent = new byte[(int) DUP_SEEDS + 1][];
    private long[][] model;
    private int blocksPerLun;
    private byte[][] naa;

    Soak(Options o, PrintStream out) {
        this.o = o;
        this.out = out;
        for (int s = 1; s <= DUP_SEEDS; s++) {
            dupContent[s] = generate(s);
        }
    }

    /** The 4 KiB content of {@code seed}: zeros for 0, else bytes of a generator seeded with it. */
    byte[] content(long seed) {
        if (seed == 0) {
            return new byte[BLOCK];
        }
        if (seed <= DUP_SEEDS) {
            return dupContent[(int) seed];
        }
        return generate(seed);
    }

    private static byte[] generate(long seed) {
        byte[] b = new byte[BLOCK];
        new SplittableRandom(seed * 0x9E3779B97F4A7C15L).nextBytes(b);
        ByteBuffer.wrap(b).putLong(0, seed);
        return b;
    }

    void error(String what) {
        errors.incrementAndGet();
        synchronized (errorSamples) {
            if (errorSamples.size() < 20) {
                errorSamples.add(what);
            }
        }
    }

    // ---- one session's load --------------------------------------------------------------------

    /** A session's driver: keeps {@code depth} commands in flight on blocks it owns. */
    final class Worker {
        final int id;
        final PipelinedSession session;
        final Semaphore slots;
        final SplittableRandom rnd;
        final int first;
        final int count;
        /** Blocks with a command in flight, per LUN, relative to {@link #first}. */
        final boolean[][] busy;

        Worker(int id, PipelinedSession session) {
            this.id = id;
            this.session = session;
            this.slots = new Semaphore(o.depth());
            this.rnd = new SplittableRandom(0x50A4L * 31 + id);
            this.count = blocksPerLun / o.sessions();
            this.first = id * count;
            this.busy = new boolean[LUNS][count];
        }

        /** A free run of 1..max blocks on {@code lun}, marked busy; -1 if none found quickly. */
        private int claim(int lun, int n) {
            for (int tries = 0; tries < 16; tries++) {
                int start = rnd.nextInt(count - n + 1);
                boolean free = true;
                for (int i = 0; i < n && free; i++) {
                    free = !busy[lun][start + i];
                }
                if (free) {
                    for (int i = 0; i < n; i++) {
                        busy[lun][start + i] = true;
                    }
                    return start;
                }
            }
            return -1;
        }

        private void release(int lun, int start, int n) {
            for (int i = 0; i < n; i++) {
                busy[lun][start + i] = false;
            }
        }

        /** Commands chosen under the lock, sent by this worker's thread outside it (never by the reader). */
        final java.util.concurrent.ConcurrentLinkedQueue<Runnable> outbox = new java.util.concurrent.ConcurrentLinkedQueue<>();

        /** Sends what is queued. */
        void pump() {
            Runnable r;
            while ((r = outbox.poll()) != null) {
                r.run();
            }
        }

        void run() {
            try {
                while (!stop.get()) {
                    pump();
                    if (!slots.tryAcquire(20, TimeUnit.MILLISECONDS)) {
                        continue;
                    }
                    boolean sent;
                    synchronized (this) {
                        sent = issue();
                    }
                    if (!sent) {
                        slots.release();
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** Sends queued retries until nothing is in flight; false after {@code seconds}. */
        boolean drain(int seconds) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (System.nanoTime() < end) {
                pump();
                if (slots.availablePermits() == o.depth() && outbox.isEmpty()) {
                    return true;
                }
                Thread.sleep(5);
            }
            return false;
        }

        /** Chooses and sends one command; false if no free range was found. */
        private boolean issue() {
            int pick = rnd.nextInt(100);
            int lun = rnd.nextInt(LUNS);
            {
                if (pick < 5) {
                    int n = 1 + rnd.nextInt(8);
                    int other = (lun + 1 + rnd.nextInt(LUNS - 1)) % LUNS;
                    int src = claim(lun, n);
                    if (src < 0) {
                        return false;
                    }
                    int dst = claim(other, n);
                    if (dst < 0) {
                        release(lun, src, n);
                        return false;
                    }
                    xcopy(lun, src, other, dst, n);
                    return true;
                }
                int n = pick < 13 ? 1 : 1 + rnd.nextInt(MAX_BLOCKS);
                int start = claim(lun, n);
                if (start < 0) {
                    return false;
                }
                if (pick < 13) {
                    compareAndWrite(lun, start, rnd.nextInt(8) == 0);
                } else if (pick < 19) {
                    unmap(lun, start, n);
                } else if (pick < 55) {
                    read(lun, start, n);
                } else {
                    long[] seeds = new long[n];
                    int kind = rnd.nextInt(10);
                    for (int i = 0; i < n; i++) {
                        seeds[i] = kind < 5 ? uniqueSeeds.incrementAndGet() : kind < 9 ? 1 + rnd.nextLong(DUP_SEEDS) : 0;
                    }
                    write(lun, start, seeds);
                }
                return true;
            }
        }

        private long lba(int start) {
            return (long) (first + start) * SECTORS;
        }

        /** Sends {@code cdb}, retrying on unit attentions, then runs {@code done} with the result under the lock. */
        private void send(int lun, byte[] cdb, byte[] dataOut, int readLength, String what,
                java.util.function.Consumer<PipelinedSession.Result> done, Runnable release, int attempt) {
            outbox.add(() -> session.submit(lun, cdb, dataOut, readLength).whenComplete((r, e) -> {
                if (e == null && r.status() == 2 && r.key() == 6 && attempt < 8) {
                    unitAttentions.incrementAndGet();           // a LUN or ACL change: the command was not run
                    send(lun, cdb, dataOut, readLength, what, done, release, attempt + 1);
                    return;
                }
                synchronized (this) {
                    try {
                        if (e != null) {
                            error("session " + id + " " + what + ": " + e);
                        } else {
                            commands.incrementAndGet();
                            done.accept(r);
                        }
                    } catch (RuntimeException x) {
                        error("session " + id + " " + what + ": " + x);
                    } finally {
                        release.run();
                    }
                }
                slots.release();
            }));
        }

        private void read(int lun, int start, int n) {
            byte[] cdb = rw(0x88, lba(start), n);
            send(lun, cdb, null, n * BLOCK, "READ lun " + lun + " block " + (first + start), r -> {
                if (r.status() != 0) {
                    error("session " + id + " READ lun " + lun + " block " + (first + start) + ": " + r.describe());
                    return;
                }
                bytes.addAndGet((long) n * BLOCK);
                check(lun, start, n, r.data(), 0);
            }, () -> release(lun, start, n), 0);
        }

        private void write(int lun, int start, long[] seeds) {
            int n = seeds.length;
            byte[] data = new byte[n * BLOCK];
            for (int i = 0; i < n; i++) {
                System.arraycopy(content(seeds[i]), 0, data, i * BLOCK, BLOCK);
            }
            byte[] cdb = rw(0x8a, lba(start), n);
            send(lun, cdb, data, 0, "WRITE lun " + lun + " block " + (first + start), r -> {
                if (r.status() != 0) {
                    forget(lun, start, n);
                    error("session " + id + " WRITE lun " + lun + " block " + (first + start) + ": " + r.describe());
                    return;
                }
                bytes.addAndGet((long) n * BLOCK);
                for (int i = 0; i < n; i++) {
                    model[lun][first + start + i] = seeds[i];
                }
            }, () -> release(lun, start, n), 0);
        }

        private void unmap(int lun, int start, int n) {
            ByteBuffer p = ByteBuffer.allocate(24);
            p.putShort((short) 22).putShort((short) 16).putInt(0).putLong(lba(start)).putInt(n * SECTORS).putInt(0);
            byte[] cdb = new byte[10];
            cdb[0] = 0x42;
            cdb[8] = 24;
            send(lun, cdb, p.array(), 0, "UNMAP lun " + lun + " block " + (first + start), r -> {
                if (r.status() != 0) {
                    forget(lun, start, n);
                    error("session " + id + " UNMAP lun " + lun + ": " + r.describe());
                    return;
                }
                for (int i = 0; i < n; i++) {
                    model[lun][first + start + i] = 0;
                }
            }, () -> release(lun, start, n), 0);
        }

        private void compareAndWrite(int lun, int start, boolean wrong) {
            long expected = model[lun][first + start];
            if (expected < 0) {
                release(lun, start, 1);
                slots.release();
                return;
            }
            long seed = uniqueSeeds.incrementAndGet();
            byte[] data = new byte[2 * BLOCK];
            System.arraycopy(content(expected), 0, data, 0, BLOCK);
            System.arraycopy(content(seed), 0, data, BLOCK, BLOCK);
            int at = rnd.nextInt(BLOCK);
            if (wrong) {
                data[at] ^= 0x5a;
            }
            byte[] cdb = new byte[16];
            cdb[0] = (byte) 0x89;
            ByteBuffer.wrap(cdb).putLong(2, lba(start));
            cdb[13] = SECTORS;
            send(lun, cdb, data, 0, "COMPARE AND WRITE lun " + lun + " block " + (first + start), r -> {
                if (wrong) {
                    if (r.status() == 2 && r.key() == 0x0e && r.asc() == 0x1d) {
                        miscompares.incrementAndGet();
                    } else {
                        if (r.status() == 0) {
                            model[lun][first + start] = seed;
                        }
                        error("session " + id + " COMPARE AND WRITE with a wrong byte at " + at + " on lun " + lun
                                + " block " + (first + start) + " answered " + r.describe() + ", not MISCOMPARE");
                    }
                    return;
                }
                if (r.status() != 0) {
                    boolean miscompare = r.key() == 0x0e;
                    if (miscompare) {
                        wrongReads.incrementAndGet();
                    }
                    error("session " + id + " COMPARE AND WRITE against the model on lun " + lun + " block "
                            + (first + start) + " (seed " + expected + "): " + r.describe());
                    if (!miscompare) {
                        forget(lun, start, 1);
                    }
                    return;
                }
                bytes.addAndGet(BLOCK);
                model[lun][first + start] = seed;
            }, () -> release(lun, start, 1), 0);
        }

        private void xcopy(int from, int src, int to, int dst, int n) {
            ByteBuffer list = ByteBuffer.allocate(16 + 64 + 28);
            list.put((byte) 0).put((byte) 0x18).putShort((short) 64).putInt(0).putInt(28).putInt(0);
            list.put(cscd(naa[from])).put(cscd(naa[to]));
            list.put((byte) 0x02).put((byte) 0).putShort((short) 0x18).putShort((short) 0).putShort((short) 1)
                    .putShort((short) 0).putShort((short) (n * SECTORS)).putLong(lba(src)).putLong(lba(dst));
            byte[] cdb = new byte[16];
            cdb[0] = (byte) 0x83;
            ByteBuffer.wrap(cdb).putInt(10, list.capacity());
            send(from, cdb, list.array(), 0, "EXTENDED COPY lun " + from + "->" + to, r -> {
                if (r.status() != 0) {
                    forget(to, dst, n);
                    error("session " + id + " EXTENDED COPY lun " + from + " block " + (first + src) + " -> lun " + to
                            + " block " + (first + dst) + " x" + n + ": " + r.describe());
                    return;
                }
                bytes.addAndGet((long) n * BLOCK);
                for (int i = 0; i < n; i++) {
                    model[to][first + dst + i] = model[from][first + src + i];
                }
            }, () -> {
                release(from, src, n);
                release(to, dst, n);
            }, 0);
        }

        /** After a failed change the block's content is unknown: it is no longer checked. */
        private void forget(int lun, int start, int n) {
            for (int i = 0; i < n; i++) {
                model[lun][first + start + i] = -1;
            }
        }

        /** Compares {@code n} blocks read at {@code start} with the model. */
        private void check(int lun, int start, int n, byte[] data, int offset) {
            for (int i = 0; i < n; i++) {
                long seed = model[lun][first + start + i];
                if (seed < 0) {
                    continue;
                }
                byte[] want = content(seed);
                if (!Arrays.equals(data, offset + i * BLOCK, offset + (i + 1) * BLOCK, want, 0, BLOCK)) {
                    wrongReads.incrementAndGet();
                    long got = ByteBuffer.wrap(data, offset + i * BLOCK, 8).getLong();
                    error("wrong read: lun " + lun + " block " + (first + start + i) + " expected seed " + seed
                            + ", got a block starting with seed field " + got);
                }
            }
        }

        /** Reads back every block this session owns and compares; returns the blocks checked. */
        long verifyAll() throws InterruptedException {
            long checked = 0;
            for (int lun = 0; lun < LUNS; lun++) {
                for (int start = 0; start < count; start += MAX_BLOCKS) {
                    int n = Math.min(MAX_BLOCKS, count - start);
                    while (!slots.tryAcquire(5, TimeUnit.MILLISECONDS)) {
                        pump();
                    }
                    pump();
                    synchronized (this) {
                        for (int i = 0; i < n; i++) {
                            busy[lun][start + i] = true;
                        }
                        read(lun, start, n);
                    }
                    checked += n;
                }
            }
            return checked;
        }

    }

    static byte[] rw(int op, long lba, int blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) op;
        ByteBuffer.wrap(c).putLong(2, lba).putInt(10, blocks * SECTORS);
        return c;
    }

    private static byte[] cscd(byte[] id) {
        byte[] c = new byte[32];
        c[0] = (byte) 0xe4;
        c[4] = 0x01;
        c[5] = 0x03;
        c[7] = (byte) id.length;
        System.arraycopy(id, 0, c, 8, id.length);
        c[30] = 512 >> 8;
        c[31] = 0;
        return c;
    }

    // ---- the run -------------------------------------------------------------------------------

    Report run() throws Exception {
        Path dir = Files.createDirectories(o.work());
        Path targets = Files.createDirectories(dir.resolve("targets"));
        StringBuilder t = new StringBuilder("iqn = \"" + IQN + "\"\n\n[attributes]\nauthentication = false\n"
                + "demo_mode = true\nqueue_depth = 0\n\n[[portal_group]]\ntag = 1\nportals = []\n");
        for (int l = 0; l < LUNS; l++) {
            t.append("\n[[lun]]\nid = ").append(l).append("\nvolume = \"soak-").append(l).append("\"\nsize = \"")
                    .append(o.lunMiB()).append("MiB\"\nblock_size = 512\nread_only = false\nthin = true\n"
                            + "backing = \"dedup\"\n");
        }
        Files.writeString(targets.resolve("soak.toml"), t);
        Path config = AdminTools.config(dir, o.metricsPort());
        Path data = dir.resolve("data");
        blocksPerLun = (int) ((long) o.lunMiB() * (1 << 20) / BLOCK);
        model = new long[LUNS][blocksPerLun];
        List<Sample> samples = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        long verified = 0;
        out.printf("soak: %d sessions x queue depth %d over %d dedup LUNs of %d MiB, %.1f min, a line every %d s,"
                + " admin change every %d s, work dir %s%n", o.sessions(), o.depth(), LUNS, o.lunMiB(), o.minutes(),
                o.intervalSeconds(), o.adminSeconds(), dir);
        ServerProcess server = ServerProcess.start(data, targets, config, o.port());
        List<PipelinedSession> sessions = new ArrayList<>();
        try {
            long pid = server.pid();
            InetSocketAddress portal = new InetSocketAddress("127.0.0.1", o.port());
            List<Worker> workers = new ArrayList<>();
            for (int s = 0; s < o.sessions(); s++) {
                PipelinedSession ps = PipelinedSession.login(portal, "iqn.2026-12.io.orion:soak-initiator-" + s, IQN,
                        0x400000000000L + s);
                sessions.add(ps);
                for (int l = 0; l < LUNS; l++) {
                    for (int k = 0; k < 8 && ps.submit(l, new byte[6], null, 0).get(30, TimeUnit.SECONDS).status() != 0; k++) {
                        // the unit attentions after login
                    }
                }
                workers.add(new Worker(s, ps));
            }
            if (2 * MAX_BLOCKS * BLOCK > sessions.get(0).maxSendSegment) {
                throw new IllegalStateException("the target's MaxRecvDataSegmentLength " + sessions.get(0).maxSendSegment
                        + " is below a " + MAX_BLOCKS * BLOCK + "-byte write");
            }
            naa = new byte[LUNS][];
            for (int l = 0; l < LUNS; l++) {
                PipelinedSession.Result r = sessions.get(0).submit(l, new byte[] {0x12, 1, (byte) 0x83, 0, (byte) 255, 0},
                        null, 255).get(30, TimeUnit.SECONDS);
                if (r.status() != 0 || (r.data()[5] & 0x0f) != 0x03) {
                    throw new IllegalStateException("INQUIRY page 83h of LUN " + l + ": " + r.describe());
                }
                naa[l] = Arrays.copyOfRange(r.data(), 8, 8 + (r.data()[7] & 0xff));
            }
            List<Thread> threads = new ArrayList<>();
            for (Worker w : workers) {
                Thread th = new Thread(w::run, "soak-" + w.id);
                th.start();
                threads.add(th);
            }
            Thread admin = new Thread(() -> admin(server, portal), "soak-admin");
            admin.start();
            out.printf("%6s %10s %9s %11s %10s %6s %8s %9s %7s %6s%n", "min", "cmds/s", "MiB/s", "heapGC MiB",
                    "cache MiB", "fds", "threads", "RSS MiB", "errors", "wrong");
            long end = System.nanoTime() + (long) (o.minutes() * 60e9);
            long lastCommands = 0;
            long lastBytes = 0;
            long lastT = System.nanoTime();
            int index = 0;
            while (System.nanoTime() < end && server.alive()) {
                long next = Math.min(end, lastT + o.intervalSeconds() * 1_000_000_000L);
                TimeUnit.NANOSECONDS.sleep(Math.max(0, next - System.nanoTime()));
                long now = System.nanoTime();
                long c = commands.get();
                long b = bytes.get();
                double secs = (now - lastT) / 1e9;
                if (secs < o.intervalSeconds() / 2.0 && index > 0) {
                    break;                                          // a stub interval at the end is not a figure
                }
                index++;
                double[] heap = heapAfterGc(pid);
                Sample s = new Sample(index, secs, c - lastCommands, b - lastBytes, heap[0], heap[1],
                        fds(pid), status(pid, "Threads"), status(pid, "VmRSS") / 1024.0, errors.get(), wrongReads.get());
                samples.add(s);
                out.printf("%6.2f %10.0f %9.1f %11.1f %10.1f %6d %8d %9.1f %7d %6d%n", index * o.intervalSeconds() / 60.0,
                        s.iops(), s.mibs(), s.heapMiB(), s.cacheMiB(), s.fds(), s.threads(), s.rssMiB(), s.errors(), s.wrongReads());
                lastCommands = c;
                lastBytes = b;
                lastT = now;
            }
            stop.set(true);
            admin.join(TimeUnit.MINUTES.toMillis(3));
            for (Thread th : threads) {
                th.join(60_000);
            }
            for (Worker w : workers) {
                if (!w.drain(60)) {
                    problems.add("hang: session " + w.id + " still has " + w.session.outstanding()
                            + " commands unanswered 60 s after the load stopped");
                }
            }
            long before = wrongReads.get();
            for (Worker w : workers) {
                verified += w.verifyAll();
            }
            for (Worker w : workers) {
                if (!w.drain(120)) {
                    problems.add("hang: the final read-back of session " + w.id + " did not finish in 120 s");
                }
            }
            out.printf("end: %,d commands (%,d unit attentions retried, %,d deliberate miscompares answered),"
                    + " %,d admin changes, every block read back: %,d blocks, %,d wrong%n", commands.get(),
                    unitAttentions.get(), miscompares.get(), adminActions.get(), verified, wrongReads.get() - before);
        } finally {
            stop.set(true);
            for (PipelinedSession ps : sessions) {
                ps.close();
            }
            int exit = server.alive() ? server.stop(Duration.ofMinutes(2)) : -1;
            if (exit != 0) {
                problems.add("the server did not stop cleanly: exit " + exit);
            }
        }
        judge(samples, problems);
        for (String p : problems) {
            out.println("NOT FLAT: " + p);
        }
        out.println(problems.isEmpty() ? "soak: flat (fds and threads within max(+10 %, +20) of the first interval,"
                + " heap after GC outside the caches within max(+25 %, +64 MiB), throughput never below half the first interval's,"
                + " 0 errors, 0 wrong reads)" : "soak: FAILED");
        return new Report(samples, problems, commands.get(), verified, adminActions.get());
    }

    void judge(List<Sample> samples, List<String> problems) {
        synchronized (errorSamples) {
            if (errors.get() > 0) {
                problems.add(0, errors.get() + " errors, e.g. " + String.join("; ", errorSamples));
            }
        }
        if (wrongReads.get() > 0) {
            problems.add(0, wrongReads.get() + " wrong reads");
        }
        if (samples.isEmpty()) {
            problems.add("no interval completed");
            return;
        }
        Sample base = samples.get(0);
        for (Sample s : samples.subList(1, samples.size())) {
            if (s.fds() > Math.max(base.fds() * 1.10, base.fds() + 20)) {
                problems.add("file descriptors grew: " + base.fds() + " -> " + s.fds() + " at interval " + s.index());
            }
            if (s.threads() > Math.max(base.threads() * 1.10, base.threads() + 20)) {
                problems.add("threads grew: " + base.threads() + " -> " + s.threads() + " at interval " + s.index());
            }
            if (!(s.otherHeapMiB() <= Math.max(base.otherHeapMiB() * 1.25, base.otherHeapMiB() + 64))) {
                problems.add(String.format("heap after GC outside the caches grew: %.1f -> %.1f MiB at interval %d",
                        base.otherHeapMiB(), s.otherHeapMiB(), s.index()));
            }
            if (s.iops() < base.iops() / 2) {
                problems.add(String.format("throughput fell: %.0f -> %.0f commands/s at interval %d", base.iops(),
                        s.iops(), s.index()));
            }
        }
    }

    // ---- admin changes during the load ---------------------------------------------------------

    private void admin(ServerProcess server, InetSocketAddress portal) {
        int step = 0;
        long nextAt = System.nanoTime();
        while (!stop.get()) {
            long wait = nextAt - System.nanoTime();
            if (wait > 0) {
                try {
                    TimeUnit.NANOSECONDS.sleep(Math.min(wait, 200_000_000L));
                } catch (InterruptedException e) {
                    return;
                }
                continue;
            }
            nextAt = System.nanoTime() + o.adminSeconds() * 1_000_000_000L;
            try {
                switch (step++ % 4) {
                    case 0 -> scratchLun(server, portal);
                    case 1 -> {
                        cli(server, "acl", "add", IQN, "iqn.2026-12.io.orion:soak-guest");
                        cli(server, "acl", "remove", IQN, "iqn.2026-12.io.orion:soak-guest");
                    }
                    case 2 -> cli(server, "dedup-reference-cleanup");
                    default -> cli(server, "scrub");
                }
            } catch (Exception e) {
                error("admin: " + e);
            }
        }
    }

    private void cli(ServerProcess server, String... args) throws IOException, InterruptedException {
        ExternalTool.Result r = AdminTools.cli(server, args);
        adminActions.incrementAndGet();
        if (r.exitCode() != 0) {
            error("orion-dedup " + String.join(" ", args) + " exited " + r.exitCode() + ": " + r.output().strip());
        }
    }

    /** Creates LUN 4, writes and reads back 64 KiB through a session of its own, deletes it. */
    private void scratchLun(ServerProcess server, InetSocketAddress portal) throws Exception {
        cli(server, "lun", "create", IQN, "--lun", String.valueOf(SCRATCH_LUN), "--size", "16MiB");
        try (PipelinedSession s = PipelinedSession.login(portal, "iqn.2026-12.io.orion:soak-scratch", IQN,
                0x500000000000L + adminActions.get())) {
            for (int k = 0; k < 8 && s.submit(SCRATCH_LUN, new byte[6], null, 0).get(30, TimeUnit.SECONDS).status() != 0; k++) {
                // unit attentions
            }
            byte[] data = new byte[MAX_BLOCKS * BLOCK];
            for (int i = 0; i < MAX_BLOCKS; i++) {
                System.arraycopy(content(uniqueSeeds.incrementAndGet()), 0, data, i * BLOCK, BLOCK);
            }
            PipelinedSession.Result w = s.submit(SCRATCH_LUN, rw(0x8a, 0, MAX_BLOCKS), data, 0).get(60, TimeUnit.SECONDS);
            PipelinedSession.Result r = s.submit(SCRATCH_LUN, rw(0x88, 0, MAX_BLOCKS), null, data.length)
                    .get(60, TimeUnit.SECONDS);
            if (w.status() != 0 || r.status() != 0) {
                error("scratch LUN: write " + w.describe() + ", read " + r.describe());
            } else if (!Arrays.equals(r.data(), data)) {
                wrongReads.incrementAndGet();
                error("wrong read on the scratch LUN");
            }
        }
        cli(server, "lun", "delete", IQN, String.valueOf(SCRATCH_LUN), "--force", "--destroy");
    }

    // ---- the server's figures ------------------------------------------------------------------

    private final HttpClient http = HttpClient.newHttpClient();

    /**
     * Heap live after a full GC and the caches' share of it, in MiB: {@code jcmd PID GC.run}, then from
     * the metrics endpoint {@code jvm_gc_live_data_size_bytes} (the old generation right after that
     * collection; the young generation refills within milliseconds under load, so the heap's
     * {@code used} is no figure of what stays) and the sum of {@code orion_dedup_cache_weight_bytes}.
     */
    double[] heapAfterGc(long pid) {
        try {
            ExternalTool.run(Duration.ofMinutes(1), "jcmd", String.valueOf(pid), "GC.run").assertOk();
            Thread.sleep(500);                                      // the GC listener updates the gauge
            String m = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + o.metricsPort() + "/metrics"))
                    .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()).body();
            double live = sum(m, "jvm_gc_live_data_size_bytes(\\{[^}]*\\})?");
            double caches = sum(m, "orion_dedup_cache_weight_bytes\\{[^}]*\\}");
            if (Double.isNaN(live)) {
                throw new IOException("no jvm_gc_live_data_size_bytes in the metrics");
            }
            return new double[] {live / (1 << 20), Double.isNaN(caches) ? 0 : caches / (1 << 20)};
        } catch (Exception e) {
            error("heap figure: " + e);
            return new double[] {Double.NaN, Double.NaN};
        }
    }

    private static double sum(String metrics, String selector) {
        Matcher x = Pattern.compile("(?m)^" + selector + " ([0-9.eE+-]+)$").matcher(metrics);
        double sum = 0;
        boolean any = false;
        while (x.find()) {
            sum += Double.parseDouble(x.group(x.groupCount()));
            any = true;
        }
        return any ? sum : Double.NaN;
    }

    static long fds(long pid) {
        try (var s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return s.count();
        } catch (IOException e) {
            return -1;
        }
    }

    /** A number field of /proc/PID/status ("Threads", "VmRSS" in kB). */
    static long status(long pid, String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException e) {
            // gone
        }
        return -1;
    }

    /**
     * {@code Soak MINUTES [--sessions N] [--depth N] [--lun-mib N] [--interval S] [--admin S] [--port P]
     * [--metrics-port P] [--work DIR]}; exit 0 when flat, 1 otherwise.
     */
    public static void main(String[] args) throws Exception {
        double minutes = Double.parseDouble(args[0]);
        int sessions = 32;
        int depth = 32;
        int lunMiB = 256;
        int interval = 60;
        int adminS = 10;
        int port = 3600;
        int metricsPort = 3601;
        Path work = null;
        for (int i = 1; i < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--sessions" -> sessions = Integer.parseInt(v);
                case "--depth" -> depth = Integer.parseInt(v);
                case "--lun-mib" -> lunMiB = Integer.parseInt(v);
                case "--interval" -> interval = Integer.parseInt(v);
                case "--admin" -> adminS = Integer.parseInt(v);
                case "--port" -> port = Integer.parseInt(v);
                case "--metrics-port" -> metricsPort = Integer.parseInt(v);
                case "--work" -> work = Path.of(v);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (work == null) {
            work = Files.createTempDirectory("orion-soak");
        }
        Report r = new Soak(new Options(minutes, sessions, depth, lunMiB, interval, port, metricsPort, adminS, work),
                System.out).run();
        System.exit(r.passed() ? 0 : 1);
    }
}
