package io.orion.dedup.iscsi;

import java.io.File;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.Txn;

/**
 * {@code scripts/bench scale N --iscsi}: the ingest of {@code ScaleBench} through a running server
 * over iSCSI. {@code sessions} sessions (one thread each, one command in flight per session) send
 * 128 KiB WRITE(16) commands with immediate data to LUN 0, block {@code g} of the same unique,
 * compressible content as the engine bench. One line per tenth: blocks/s of the tenth, LMDB bytes
 * per unique chunk and per mapped block (read from the server's {@code data.mdb} through a
 * read-only LMDB environment of this process, as LMDB allows), the server's stored bytes (from
 * its control socket, as {@code orion-dedup stats}), its resident memory and CPU seconds per 1000 blocks
 * ({@code /proc/PID}), and the load average.
 *
 * <p>Usage: {@code IscsiScaleBench HOST:PORT IQN BLOCKS SESSIONS SERVER_PID DATA_DIR}.
 */
public final class IscsiScaleBench {
    private static final int BLOCK = 4096;
    private static final int IO = 128 * 1024;
    private static final int PER_IO = IO / BLOCK;
    private static final String KEYS = "ImmediateData=Yes\0FirstBurstLength=262144\0MaxBurstLength=1048576\0"
            + "MaxRecvDataSegmentLength=262144\0";

    private IscsiScaleBench() {
    }

    public static void main(String[] args) throws Exception {
        String[] hp = args[0].split(":");
        InetSocketAddress portal = new InetSocketAddress(hp[0], Integer.parseInt(hp[1]));
        String iqn = args[1];
        long blocks = Long.parseLong(args[2]);
        int sessions = Integer.parseInt(args[3]);
        long pid = Long.parseLong(args[4]);
        Path data = Path.of(args[5]);
        long writes = (blocks + PER_IO - 1) / PER_IO;
        byte[] template = io.orion.dedup.bench.ScaleBench.template();
        long salt = System.nanoTime();
        AtomicLong next = new AtomicLong();
        AtomicLong done = new AtomicLong();
        long tenth = Math.max(1, writes / 10);
        // when the number of completed writes reached each tenth (set by the writer that completed it)
        AtomicLongArray crossed = new AtomicLongArray(11);
        Throwable[] failure = new Throwable[1];
        RawInitiator[] ini = new RawInitiator[sessions];
        for (int s = 0; s < sessions; s++) {
            ini[s] = new RawInitiator(portal);
            ini[s].socket.setSoTimeout(120_000);
            int st = ini[s].login("iqn.2026-11.io.orion:scale-bench-" + s, iqn, 0x400000000000L + s, 0, 0, KEYS);
            if (st != 0) {
                throw new IllegalStateException("login failed: status " + Integer.toHexString(st));
            }
            for (int i = 0; i < 5 && ini[s].scsi(0, new byte[6], null, 0).status() != 0; i++) {
                // unit attentions after login
            }
        }
        System.out.printf("scale bench over iSCSI: %,d unique 4 KiB blocks (%,d WRITE(16) of 128 KiB), %d sessions"
                + " with one command in flight each, server pid %d%n", writes * PER_IO, writes, sessions, pid);
        System.out.printf("%5s %12s %8s %9s %8s %8s %8s %8s %9s %7s %9s %7s %6s %6s%n", "tenth", "blocks", "secs",
                "blocks/s", "B/chunk", "B/block", "mdb/blk", "mdb MiB", "store MiB", "RSS MiB", "CPUms/kblk", "dirty",
                "load", "ratio");
        Thread[] ts = new Thread[sessions];
        for (int s = 0; s < sessions; s++) {
            RawInitiator r = ini[s];
            ts[s] = new Thread(() -> {
                byte[] buf = template.clone();
                ByteBuffer b = ByteBuffer.wrap(buf);
                long w;
                try {
                    while ((w = next.getAndIncrement()) < writes) {
                        io.orion.dedup.bench.ScaleBench.fill(b, w, salt);
                        byte[] cdb = ByteBuffer.allocate(16).put((byte) 0x8a).put((byte) 0).putLong(w * PER_IO)
                                .putInt(PER_IO).array();
                        RawInitiator.Outcome o = r.scsi(0, cdb, buf, 0);
                        if (o.status() != 0) {
                            throw new IllegalStateException("WRITE(16) at block " + w * PER_IO + ": " + o.describe());
                        }
                        long c = done.incrementAndGet();
                        if (c % tenth == 0 && c / tenth <= 10 || c == writes) {
                            crossed.set((int) Math.min(10, (c + tenth - 1) / tenth), System.nanoTime());
                        }
                    }
                } catch (Throwable e) {
                    synchronized (failure) {
                        failure[0] = e;
                    }
                    next.set(writes);
                }
            }, "iscsi-writer-" + s);
        }
        long t0 = System.nanoTime();
        for (Thread t : ts) {
            t.start();
        }
        long lastT = t0;
        long lastDone = 0;
        long lastCpu = cpuTicks(pid);
        double firstRate = 0;
        for (int k = 1; k <= 10; k++) {
            long target = k == 10 ? writes : k * tenth;
            while ((done.get() < target || crossed.get(k) == 0) && failure[0] == null) {
                Thread.sleep(20);
            }
            if (failure[0] != null) {
                throw new IllegalStateException("writer failed", failure[0]);
            }
            long now = crossed.get(k);
            long doneNow = k == 10 ? writes : k * tenth;
            double rate = (doneNow - lastDone) * PER_IO / ((now - lastT) / 1e9);
            if (k == 1) {
                firstRate = rate;
            }
            long[] m = metadata(data.resolve("meta"));
            long cpu = cpuTicks(pid);
            double cpuMsPerKblk = (cpu - lastCpu) * 10.0 / ((doneNow - lastDone) * PER_IO / 1000.0);
            System.out.printf("%5d %12d %8.1f %9.0f %8.1f %8.1f %8.1f %8d %9d %7d %9.1f %7d %6s %6.2f%n",
                    k, doneNow * PER_IO, (now - t0) / 1e9, rate, (double) (m[4] + m[5]) / Math.max(1, m[1]),
                    (double) m[3] / (doneNow * PER_IO), (double) m[6] / (doneNow * PER_IO), m[6] >> 20,
                    storeBytes(data) >> 20, rssKb(pid) >> 10, cpuMsPerKblk, dirtyMib(),
                    Files.readString(Path.of("/proc/loadavg")).split(" ")[0], rate / firstRate);
            lastT = now;
            lastDone = doneNow;
            lastCpu = cpu;
        }
        for (Thread t : ts) {
            t.join();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("total: %,d blocks in %.1f s = %.0f blocks/s%n", writes * PER_IO, secs, writes * PER_IO / secs);
        for (RawInitiator r : ini) {
            r.close();
        }
    }

    /**
     * {@code {blockEntries, chunkEntries, indexEntries, blockPages, chunkPages, indexPages, usedFileBytes}}
     * of the server's metadata, through a read-only environment (LMDB's lock file lets another
     * process read while the server writes).
     */
    static long[] metadata(Path meta) {
        long fileSize = new File(meta.toFile(), "data.mdb").length();
        try (Env<ByteBuffer> env = Env.create().setMapSize(Math.max(fileSize, 1L << 30) * 2).setMaxDbs(8)
                .setMaxReaders(4).open(meta.toFile(), EnvFlags.MDB_RDONLY_ENV)) {
            long[] out = new long[7];
            int i = 0;
            try (Txn<ByteBuffer> t = env.txnRead()) {
                // the block map: pages of 128 blocks (format 2); its entries are pages, not blocks
                for (String name : List.of(io.orion.dedup.meta.MetaStore.BLOCK_PAGES, io.orion.dedup.meta.MetaStore.CHUNK_GROUPS, io.orion.dedup.meta.MetaStore.FP_RUNS)) {
                    Dbi<ByteBuffer> d = env.openDbi(t, name.getBytes(), null, false);
                    org.lmdbjava.Stat st = d.stat(t);
                    out[i] = st.entries;
                    out[i + 3] = (st.branchPages + st.leafPages + st.overflowPages) * (long) st.pageSize;
                    i++;
                }
            }
            out[6] = (env.info().lastPageNumber + 1) * (long) env.stat().pageSize;
            return out;
        }
    }

    /** The pool's stored (record) bytes, as {@code orion-dedup stats} reports them. */
    static long storeBytes(Path data) throws Exception {
        try (io.orion.dedup.admin.AdminClient c = io.orion.dedup.admin.AdminClient.connect(
                data.resolve(io.orion.dedup.config.ControlSettings.SOCKET_NAME))) {
            return c.stats(false).pool().usedBytes();
        }
    }

    /** utime + stime of the process, clock ticks (1/100 s). */
    static long cpuTicks(long pid) throws java.io.IOException {
        String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    static long rssKb(long pid) throws java.io.IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    static long dirtyMib() throws java.io.IOException {
        long kb = 0;
        for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (l.startsWith("Dirty:") || l.startsWith("Writeback:")) {
                kb += Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return kb >> 10;
    }
}
