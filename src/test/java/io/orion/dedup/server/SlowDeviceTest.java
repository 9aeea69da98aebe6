package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.PoolFaults;
import io.orion.dedup.iscsi.PipelinedSession;
import io.orion.dedup.containers.BackingDevice;
import io.orion.dedup.containers.DeviceFaults;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Slow devices never stall other LUNs' reads beyond a bound (issue 14, "Failing devices").
 *
 * <p>The real server, in-process, over loopback sockets: one pool on two backing devices; LUN 0
 * (A) has its data on one device, LUN 1 (B) on the other. The first device then answers 2 s late
 * (reads; writes and fsyncs; writes only, with small writes that may run on a transport thread),
 * and A gets more commands stuck on it, from several sessions, than the server has block I/O
 * threads. Meanwhile B's reads, from a session of their own, must each answer within {@link
 * #BOUND_MILLIS} with their data; and A's commands must complete once the device has answered,
 * A's reads with A's data, A's writes reading back.
 */
class SlowDeviceTest {
    private static final String IQN = "iqn.2026-12.io.orion:slow";
    private static final int BS = 4096;
    private static final int BLOCKS = 16; // each LUN's data: 64 KiB, written in one command (one record run)
    private static final long DELAY_MILLIS = 2000;
    /**
     * B's slowest read while A's commands are stuck: the executor's own bound (about 260 ms after
     * the slow device's oldest operation began) with room for a loaded 2-core machine; before the
     * fix, about DELAY_MILLIS.
     */
    private static final long BOUND_MILLIS = 750;
    /** More of A's commands than the server has block I/O threads (max(8, 4 x cores)). */
    private static final int STUCK = Math.max(8, 4 * Runtime.getRuntime().availableProcessors()) + 4;
    private static final int A_SESSIONS = 3;

    @TempDir
    Path dir;
    private OrionServer server;
    private DedupPool pool;
    private BackingDevice slow;
    private byte[] dataA;
    private byte[] dataB;
    private final List<PipelinedSession> sessions = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        Path targets = Files.createDirectories(dir.resolve("targets"));
        Files.writeString(targets.resolve("slow.toml"), "iqn = \"" + IQN + "\"\n\n[attributes]\ndemo_mode = true\n"
                + lun(0, "lun-a") + lun(1, "lun-b"));
        Path conf = dir.resolve("dedup.toml");
        Path data = dir.resolve("data");
        Files.writeString(conf, "[deduplication]\ncache_size = \"16MB\"\nhash_cache_size = \"16MB\"\n\n"
                + "[metrics]\nenabled = false\n\n[pool]\n"
                + "[[pool.devices]]\npath = \"" + data.resolve("store/dev0") + "\"\n"
                + "[[pool.devices]]\npath = \"" + data.resolve("store/dev1") + "\"\n");
        server = OrionServer.start(OrionConfig.load(conf), conf, targets, data,
                List.of(new InetSocketAddress("127.0.0.1", 0)));
        pool = server.volumes().openPool().orElseThrow();
        DedupVolume a = (DedupVolume) server.liveTargets().get(0).devices().get(0);
        DedupVolume b = (DedupVolume) server.liveTargets().get(0).devices().get(1);

        // B's data first, in one write: one record run on one device, the healthy one
        dataB = random(2, BLOCKS * BS);
        b.write(0, ByteBuffer.wrap(dataB), false);
        int healthy = deviceOfAll(b);
        // A's data in one write too, until it lands on the other device. Appends take the devices
        // in turn, and a write appends its record run and then its journal record, so the next
        // write lands where the last one did; a write of a zero block (a journal record only)
        // shifts the turn. Each attempt has other content, so it cannot dedup onto the last one.
        int slowIndex = -1;
        for (int attempt = 0; attempt < 8 && slowIndex < 0; attempt++) {
            if (attempt > 0) {
                a.write(BLOCKS + attempt, ByteBuffer.allocate(BS), false);
            }
            dataA = random(100 + attempt, BLOCKS * BS);
            a.write(0, ByteBuffer.wrap(dataA), false);
            int d = deviceOfAll(a);
            slowIndex = d != healthy ? d : -1;
        }
        assertTrue(slowIndex >= 0, "A's data never landed on the other device");
        pool.flush();
        slow = PoolFaults.device(pool, slowIndex);
        assertNotEquals(healthy, slow.index());
    }

    @AfterEach
    void stop() throws Exception {
        if (slow != null) {
            slow.injectFaults(DeviceFaults.NONE);
        }
        for (PipelinedSession s : sessions) {
            s.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static String lun(int id, String volume) {
        return "\n[[lun]]\nid = " + id + "\nvolume = \"" + volume + "\"\nsize = \"16MiB\"\nblock_size = 4096\n"
                + "dedup_block_size = 4096\n";
    }

    private static byte[] random(long seed, int len) {
        byte[] out = new byte[len];
        new Random(seed).nextBytes(out);
        return out;
    }

    /** The device that holds every block of {@code v}'s data (fails if they are on several). */
    private int deviceOfAll(DedupVolume v) throws Exception {
        int d = PoolFaults.deviceOf(pool, v, 0);
        for (int i = 1; i < BLOCKS; i++) {
            assertEquals(d, PoolFaults.deviceOf(pool, v, i), "block " + i + " of " + v.name() + " is on another device");
        }
        return d;
    }

    /** A session of its own initiator, past the unit attention (POWER ON, RESET) of {@code lun}. */
    private PipelinedSession login(int n, int lun) throws Exception {
        PipelinedSession s = PipelinedSession.login(server.portals().get(0), "iqn.2026-12.io.orion:host" + n, IQN,
                0x400001480000L + n);
        sessions.add(s);
        for (int i = 0; s.submit(lun, new byte[6], null, 0).get(10, TimeUnit.SECONDS).status() != 0; i++) {
            assertTrue(i < 3, "TEST UNIT READY keeps failing");
        }
        return s;
    }

    private static byte[] read16(long lba, int blocks) {
        return ByteBuffer.allocate(16).put((byte) 0x88).put((byte) 0).putLong(lba).putInt(blocks).array();
    }

    private static byte[] write16(long lba, int blocks) {
        return ByteBuffer.allocate(16).put((byte) 0x8a).put((byte) 0).putLong(lba).putInt(blocks).array();
    }

    private static byte[] synchronizeCache10() {
        return new byte[] {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    }

    private static byte[] blockOf(byte[] data, int i) {
        byte[] out = new byte[BS];
        System.arraycopy(data, i * BS, out, 0, BS);
        return out;
    }

    /**
     * B reads its blocks one at a time from its own session, each at least once and on for {@code
     * millis}; every read must be GOOD with B's bytes. Returns the slowest read's latency in ms.
     */
    private long readB(PipelinedSession b, long millis) throws Exception {
        pool.flushCaches(); // B's reads go to its device, not the block cache
        long max = 0;
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        int reads = 0;
        for (int i = 0; reads < BLOCKS || System.nanoTime() < end; i = (i + 1) % BLOCKS) {
            long t0 = System.nanoTime();
            PipelinedSession.Result r = b.submit(1, read16(i, 1), null, BS).get(30, TimeUnit.SECONDS);
            max = Math.max(max, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
            assertEquals(0, r.status(), "B's read of block " + i + ": " + r.describe());
            assertArrayEquals(blockOf(dataB, i), r.data(), "B's block " + i);
            reads++;
        }
        return max;
    }

    private static boolean anyDone(List<CompletableFuture<PipelinedSession.Result>> fs) {
        return fs.stream().anyMatch(CompletableFuture::isDone);
    }

    @Test
    void readsOfAnotherLunAnswerWhileASlowDevicesReadsAreStuck() throws Exception {
        List<PipelinedSession> as = new ArrayList<>();
        for (int s = 0; s < A_SESSIONS; s++) {
            as.add(login(s, 0));
        }
        PipelinedSession b = login(99, 1);
        readB(b, 0); // B's session works before the device turns slow
        pool.flushCaches();
        slow.injectFaults(DeviceFaults.slow(DeviceFaults.Op.READ, DELAY_MILLIS));
        long t0 = System.nanoTime();
        List<CompletableFuture<PipelinedSession.Result>> stuck = new ArrayList<>();
        for (int k = 0; k < STUCK; k++) {
            stuck.add(as.get(k % A_SESSIONS).submit(0, read16(k % BLOCKS, 1), null, BS));
        }
        Thread.sleep(200); // A's reads reach the device and wait there
        long maxB = readB(b, 800);
        boolean overlapped = !anyDone(stuck);
        long sinceSlow = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        for (int k = 0; k < STUCK; k++) {
            PipelinedSession.Result r = stuck.get(k).get(30, TimeUnit.SECONDS);
            assertEquals(0, r.status(), "A's read " + k + ": " + r.describe());
            assertArrayEquals(blockOf(dataA, k % BLOCKS), r.data(), "A's read " + k + " returns A's block");
        }
        long allA = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        System.out.printf("slow reads: %d of A's reads stuck for %d ms (all answered after %d ms); B's slowest read"
                + " %d ms (bound %d ms)%n", STUCK, DELAY_MILLIS, allA, maxB, BOUND_MILLIS);
        assertTrue(maxB < BOUND_MILLIS, "B's slowest read took " + maxB + " ms while A's reads were stuck");
        assertTrue(overlapped, "B's reads ran while A's were stuck (" + sinceSlow + " ms after the device turned slow)");
        assertTrue(allA >= DELAY_MILLIS, "A's reads waited for the slow device: " + allA + " ms");
    }

    @Test
    void readsOfAnotherLunAnswerWhileASlowDevicesWritesAndFsyncsAreStuck() throws Exception {
        List<PipelinedSession> as = new ArrayList<>();
        for (int s = 0; s < A_SESSIONS; s++) {
            as.add(login(s, 0));
        }
        PipelinedSession b = login(99, 1);
        readB(b, 0);
        slow.injectFaults((op, pos, length) -> {
            if (op != DeviceFaults.Op.READ) {
                DeviceFaults.slow(op, DELAY_MILLIS).before(op, pos, length);
            }
        });
        long t0 = System.nanoTime();
        List<CompletableFuture<PipelinedSession.Result>> stuck = new ArrayList<>();
        byte[] newA = random(7, 32 * BS);
        for (int k = 0; k < STUCK; k++) {
            // 128 KiB writes (appended to the devices in turn: half of them to the slow one) and
            // SYNCHRONIZE CACHEs (each waits for the slow device's fsync)
            PipelinedSession s = as.get(k % A_SESSIONS);
            stuck.add(k % 2 == 0 ? s.submit(0, write16(BLOCKS + 32L * k, 32), newA, 0)
                    : s.submit(0, synchronizeCache10(), null, 0));
        }

        Thread.sleep(200);
        long maxB = readB(b, 800);
        boolean overlapped = stuck.stream().anyMatch(f -> !f.isDone());
        slow.injectFaults(DeviceFaults.NONE); // what waits now still gets its 2 s; the rest is quick
        for (int k = 0; k < stuck.size(); k++) {
            PipelinedSession.Result r = stuck.get(k).get(60, TimeUnit.SECONDS);
            assertEquals(0, r.status(), "A's command " + k + ": " + r.describe());
        }
        long allA = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        for (int k = 0; k < STUCK; k += 2) {
            PipelinedSession.Result r = as.get(0).submit(0, read16(BLOCKS + 32L * k, 32), null, 32 * BS)
                    .get(30, TimeUnit.SECONDS);
            assertEquals(0, r.status(), r.describe());
            assertArrayEquals(newA, r.data(), "A's write " + k + " reads back");
        }
        System.out.printf("slow writes and fsyncs: %d writes and %d SYNCHRONIZE CACHEs of A answered after %d ms;"
                + " B's slowest read %d ms (bound %d ms)%n", (STUCK + 1) / 2, STUCK / 2, allA, maxB, BOUND_MILLIS);
        assertTrue(maxB < BOUND_MILLIS, "B's slowest read took " + maxB + " ms while A's writes and fsyncs were stuck");
        assertTrue(overlapped, "B's reads ran while A's commands were stuck");
    }

    /**
     * Small non-FUA writes run on the transport thread that decoded them (light writes), and that
     * thread serves other connections too. Once a device read or write was slow, they go to the
     * block I/O threads instead, so B's session, sharing a transport thread with one of A's, is not
     * stuck behind A's writes. The first write that meets the slow device still waits where it
     * runs: nothing knew yet.
     */
    @Test
    void afterASlowDeviceWriteSmallWritesLeaveTheTransportThreads() throws Exception {
        int loops = 2 * Runtime.getRuntime().availableProcessors(); // Netty's default number of event loops
        List<PipelinedSession> as = new ArrayList<>();
        for (int s = 0; s < loops; s++) {
            as.add(login(s, 0)); // one of A's sessions on every event loop
        }
        PipelinedSession b = login(99, 1); // on the same event loop as one of A's
        readB(b, 0);
        slow.injectFaults(DeviceFaults.slow(DeviceFaults.Op.WRITE, DELAY_MILLIS));
        byte[] newA = random(9, BLOCKS * BS);
        long t0 = System.nanoTime();
        // the write that finds out: its record run or its journal record is appended to the slow device
        PipelinedSession.Result first = as.get(0).submit(0, write16(BLOCKS, 1), blockOf(newA, 0), 0)
                .get(30, TimeUnit.SECONDS);
        assertEquals(0, first.status(), first.describe());
        long firstMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(firstMillis >= DELAY_MILLIS, "the first write met the slow device: " + firstMillis + " ms");
        List<CompletableFuture<PipelinedSession.Result>> stuck = new ArrayList<>();
        for (int k = 1; k < STUCK; k++) {
            stuck.add(as.get(k % loops).submit(0, write16(BLOCKS + k, 1), blockOf(newA, k % BLOCKS), 0));
        }
        Thread.sleep(200);
        long maxB = readB(b, 800);
        boolean overlapped = stuck.stream().anyMatch(f -> !f.isDone());
        slow.injectFaults(DeviceFaults.NONE);
        for (int k = 0; k < stuck.size(); k++) {
            PipelinedSession.Result r = stuck.get(k).get(60, TimeUnit.SECONDS);
            assertEquals(0, r.status(), "A's write " + (k + 1) + ": " + r.describe());
        }
        long allA = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        for (int k = 0; k < STUCK; k++) {
            PipelinedSession.Result r = as.get(0).submit(0, read16(BLOCKS + k, 1), null, BS).get(30, TimeUnit.SECONDS);
            assertEquals(0, r.status(), r.describe());
            assertArrayEquals(blockOf(newA, k % BLOCKS), r.data(), "A's write " + k + " reads back");
        }
        System.out.printf("slow writes, small: the first took %d ms, %d more of A answered after %d ms; B's slowest"
                + " read %d ms (bound %d ms)%n", firstMillis, STUCK - 1, allA, maxB, BOUND_MILLIS);
        assertTrue(maxB < BOUND_MILLIS, "B's slowest read took " + maxB + " ms while A's small writes were stuck");
        assertTrue(overlapped, "B's reads ran while A's writes were stuck");
    }
}
