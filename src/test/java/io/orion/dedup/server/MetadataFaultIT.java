package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.admin.AdminClient;
import io.orion.dedup.admin.StatusReport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults under the real server's metadata and backing devices (issue 14, "Failing devices"): the
 * server runs as its own process ({@code orion-dedup serve}) under the {@code faultinject.c}
 * LD_PRELOAD shim (src/test/c), which fails or delays the calls LMDB makes on {@code data.mdb}
 * (page and meta-page writes, fdatasync) and those the chunk store makes on its device file, while
 * a control file exists; qemu-io is the initiator, and its report of each CHECK CONDITION (sense
 * key, ASC/ASCQ) is what is asserted, with the bytes every read returns. Reads through LMDB's
 * mapping are not calls and cannot be failed this way (an EIO there would be a SIGBUS).
 */
class MetadataFaultIT {

    private static final Duration LIMIT = Duration.ofSeconds(60);
    private static final int K64 = 64 << 10;
    private static final long MIB = 1 << 20;
    /** How long a slowed fdatasync of data.mdb sleeps. */
    private static final int SLOW_MS = 4000;

    /** The shim's rules, in order (the index is what its log names); each is on while ctl/NAME exists. */
    private static final String[][] RULES = {
        {"meta-page-eio", "file=/meta/data.mdb,op=write,range=0-8192,errno=EIO"},
        // only the first: LMDB then writes the older meta page's transaction id back over it (with
        // the failed transaction's roots), and that write lands, as on a disk whose error passed
        {"meta-page-eio-once", "file=/meta/data.mdb,op=write,range=0-8192,errno=EIO,count=1"},
        {"meta-write-eio", "file=/meta/data.mdb,op=write,errno=EIO"},
        {"meta-write-enospc", "file=/meta/data.mdb,op=write,errno=ENOSPC"},
        {"meta-sync-eio", "file=/meta/data.mdb,op=sync,errno=EIO"},
        {"meta-sync-slow", "file=/meta/data.mdb,op=sync,delay=" + SLOW_MS},
        {"dev-write-eio", "file=/store/chunks.0,op=write,errno=EIO"},
        {"dev-sync-eio", "file=/store/chunks.0,op=sync,errno=EIO"},
    };

    private static Path shim;

    @BeforeAll
    static void buildShim() throws Exception {
        shim = PowerLossIT.compileShim("faultinject");
    }

    /** One CHECK CONDITION qemu reported: the command, the sense key and ASC/ASCQ (0x2707). */
    private record Sense(String command, int key, int ascq) {
    }

    private static final Pattern SENSE = Pattern.compile(
            "iSCSI (\\S+) failed[^\\n]*?SENSE KEY:[^\\n]*?\\((\\d+)\\) ASCQ:[^\\n]*?\\((0x[0-9a-fA-F]+)\\)");

    /** The real server under the shim, every fault off; a test switches one on by creating its control file. */
    private static final class Rig implements AutoCloseable {
        final Path data;
        final Path ctl;
        final Path faultLog;
        final Path targets;
        final Path config;
        final int port;
        final Map<String, String> env;
        ServerProcess server;

        Rig(Path dir) throws IOException {
            data = dir.resolve("data");
            ctl = Files.createDirectories(dir.resolve("ctl"));
            faultLog = dir.resolve("faults.log");
            targets = ServerProcess.copyTargets(dir);
            config = AdminTools.config(dir, 0);
            port = ServerProcess.freePort();
            StringBuilder rules = new StringBuilder();
            for (String[] r : RULES) {
                rules.append(r[1]).append(",while=").append(ctl.resolve(r[0])).append(';');
            }
            env = Map.of("LD_PRELOAD", shim.toString(), "FAULT_DIR", dir.toString(), "FAULT_RULES", rules.toString(),
                    "FAULT_LOG", faultLog.toString());
        }

        Rig start() throws IOException, InterruptedException {
            server = ServerProcess.start(data, targets, config, port, env, List.of());
            return this;
        }

        /** SIGTERM, then a new server on the same data, every fault off. */
        void restart() throws IOException, InterruptedException {
            off();
            server.stop(LIMIT);
            start();
        }

        void on(String fault) throws IOException {
            Files.writeString(ctl.resolve(fault), "");
        }

        void off() throws IOException {
            for (String[] r : RULES) {
                Files.deleteIfExists(ctl.resolve(r[0]));
            }
        }

        /** The lines of the shim's log for the rule named {@code fault}: each a call it failed or delayed. */
        List<String> faults(String fault) throws IOException {
            int index = 0;
            while (!RULES[index][0].equals(fault)) {
                index++;
            }
            String prefix = "fault " + index + " ";
            return !Files.exists(faultLog) ? List.of()
                    : Files.readAllLines(faultLog).stream().filter(l -> l.startsWith(prefix)).toList();
        }

        StatusReport status() throws Exception {
            try (AdminClient admin = AdminClient.connect(data.resolve("control.sock"))) {
                return admin.status();
            }
        }

        void assertAlive() {
            assertTrue(server.alive(), "the server must stay up:\n" + server.output());
        }

        String url() {
            return server.url(0);
        }

        /** qemu-io on LUN 0; mode "rw" (SYNCHRONIZE CACHE at the end), "unsafe" (never), "ro" (read only). */
        ExternalTool.Result io(String mode, String... commands) throws IOException, InterruptedException {
            List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
            if (mode.equals("ro")) {
                cmd.add("-r");
            } else if (mode.equals("unsafe")) {
                cmd.addAll(List.of("-t", "unsafe"));
            }
            for (String c : commands) {
                cmd.add("-c");
                cmd.add(c);
            }
            cmd.add(url());
            return ExternalTool.run(LIMIT, cmd.toArray(String[]::new));
        }

        /** Writes a 64 KiB pattern and flushes it in the same session: both GOOD. */
        void writeFlushed(int pattern, long off) throws Exception {
            ExternalTool.Result r = io("rw", "write -P " + pattern + " " + off + " " + K64, "flush").assertOk();
            assertTrue(r.output().contains("wrote " + K64 + "/" + K64) && senses(r).isEmpty(), r.output());
        }

        /** Writes a 64 KiB pattern, GOOD, with no SYNCHRONIZE CACHE (qemu-io -t unsafe). */
        void writeUnflushed(int pattern, long off) throws Exception {
            ExternalTool.Result r = io("unsafe", "write -P " + pattern + " " + off + " " + K64).assertOk();
            assertTrue(r.output().contains("wrote " + K64 + "/" + K64) && senses(r).isEmpty(), r.output());
        }

        /** True when [off, off+64 KiB) reads GOOD with every byte {@code pattern}. */
        boolean holds(int pattern, long off) throws Exception {
            ExternalTool.Result r = io("ro", "read -P " + pattern + " " + off + " " + K64);
            return r.exitCode() == 0 && r.output().contains("read " + K64 + "/" + K64)
                    && !r.output().contains("verification failed") && senses(r).isEmpty();
        }

        void reads(int pattern, long off, String why) throws Exception {
            if (!holds(pattern, off)) {
                ExternalTool.Result r = io("ro", "read -P " + pattern + " " + off + " " + K64);
                throw new AssertionError(why + ": [" + off + ", +64 KiB) must read pattern " + pattern + ":\n"
                        + r.output() + "\nserver:\n" + problems(server));
            }
        }

        void readsOrZeros(int pattern, long off, String why) throws Exception {
            assertTrue(holds(pattern, off) || holds(0, off), why + ": [" + off + ", +64 KiB) reads pattern " + pattern
                    + " or zeros, never other bytes");
        }

        @Override
        public void close() throws Exception {
            if (server != null) {
                server.close();
            }
        }
    }

    private static List<Sense> senses(ExternalTool.Result r) {
        List<Sense> out = new ArrayList<>();
        Matcher m = SENSE.matcher(r.output());
        while (m.find()) {
            out.add(new Sense(m.group(1), Integer.parseInt(m.group(2)), Integer.decode(m.group(3))));
        }
        return out;
    }

    private static boolean has(ExternalTool.Result r, String command, int key, int ascq) {
        return senses(r).stream().anyMatch(s -> s.command().startsWith(command) && s.key() == key && s.ascq() == ascq);
    }

    private static String problems(ServerProcess server) {
        StringBuilder b = new StringBuilder();
        server.output().lines().filter(l -> !l.contains(" INFO ")).limit(30)
                .forEach(l -> b.append(l, 0, Math.min(l.length(), 400)).append('\n'));
        return b.toString();
    }

    /**
     * A slow fdatasync of data.mdb holds no read; ENOSPC on its writes answers DATA PROTECT, SPACE
     * ALLOCATION FAILED WRITE PROTECT and passes when the space is back, without a restart; EIO on
     * its page writes turns the pool read-only while reads go on; EIO on a meta-page write (LMDB's
     * fatal error); after each restart without the fault, everything flushed reads back exactly.
     */
    @Test
    void metadataWritesThatAreSlowFullOrFailing(@TempDir Path dir) throws Exception {
        try (Rig rig = new Rig(dir).start()) {
            rig.writeFlushed(0x11, 0);

            // a slow fdatasync of data.mdb (a SYNCHRONIZE CACHE from another session waits in it):
            // a READ of flushed data answers meanwhile (the committer holds writes behind a slow
            // flush by design; reads take no lock it holds)
            rig.on("meta-sync-slow");
            Process flusher = new ProcessBuilder("qemu-io", "-f", "raw", "-c", "write -P 0x12 " + MIB + " " + K64,
                    "-c", "flush", rig.url()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("flusher.out").toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (rig.faults("meta-sync-slow").isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertFalse(rig.faults("meta-sync-slow").isEmpty(), "no fdatasync of data.mdb was slowed");
            long t0 = System.nanoTime();
            rig.reads(0x11, 0, "a read while the flush waits in a slow fdatasync");
            long readMs = (System.nanoTime() - t0) / 1_000_000;
            System.out.println("MetadataFaultIT: a READ (qemu-io, its own session) during a " + SLOW_MS
                    + " ms fdatasync of data.mdb took " + readMs + " ms");
            assertTrue(readMs < SLOW_MS - 1000, "a READ from another session waited " + readMs
                    + " ms behind a " + SLOW_MS + " ms fdatasync of data.mdb");
            rig.off();
            assertTrue(flusher.waitFor(60, TimeUnit.SECONDS), "the slow flush ended");
            String flushed = Files.readString(dir.resolve("flusher.out"), StandardCharsets.UTF_8);
            assertEquals(0, flusher.exitValue(), flushed);
            rig.reads(0x12, MIB, "written and flushed through the slow fdatasync");

            // ENOSPC on data.mdb writes: writes that need space are refused with 07/27/07, the pool
            // stays writable, reads go on; once the space is back, writes pass without a restart
            rig.on("meta-write-enospc");
            ExternalTool.Result full = rig.io("rw", "write -P 0x21 " + 2 * MIB + " " + K64, "flush");
            assertNotEquals(0, full.exitCode(), full.output());
            assertTrue(has(full, "WRITE", 7, 0x2707), "DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT: "
                    + full.output());
            assertFalse(rig.faults("meta-write-enospc").isEmpty(), "the shim failed no write with ENOSPC");
            rig.assertAlive();
            assertNull(rig.status().poolReadOnlyReason(), "a full metadata file system is not a reason for read-only");
            rig.reads(0x11, 0, "reads go on while the metadata file system is full");
            rig.off();
            ExternalTool.Result again = null;
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            do {
                if (again != null) {
                    Thread.sleep(250);
                }
                again = rig.io("rw", "write -P 0x22 " + 2 * MIB + " " + K64, "flush");
            } while (again.exitCode() != 0 && System.nanoTime() < deadline);
            assertEquals(0, again.exitCode(), "writes pass again within 5 s once the file system has room, without a"
                    + " restart:\n" + again.output() + "\nserver:\n" + problems(rig.server));
            rig.reads(0x22, 2 * MIB, "written once the space was back");

            // EIO on data.mdb page writes: the commit fails, the write is refused (the pool turns
            // read-only with the reason: 07/27/00), reads go on
            rig.writeUnflushed(0x31, 3 * MIB);
            rig.on("meta-write-eio");
            ExternalTool.Result eio = rig.io("rw", "write -P 0x32 " + 4 * MIB + " " + K64, "flush");
            assertNotEquals(0, eio.exitCode(), eio.output());
            assertTrue(has(eio, "WRITE", 7, 0x2700), "a failed metadata commit: DATA PROTECT, WRITE PROTECTED: "
                    + eio.output());
            assertFalse(rig.faults("meta-write-eio").isEmpty(), "the shim failed no write of data.mdb");
            rig.assertAlive();
            String why = rig.status().poolReadOnlyReason();
            assertNotNull(why, "a failed metadata commit turns the pool read-only");
            assertTrue(why.contains("Input/output error"), why);
            rig.reads(0x11, 0, "reads go on after a failed metadata commit");
            rig.reads(0x22, 2 * MIB, "reads go on after a failed metadata commit");

            rig.restart();
            assertNull(rig.status().poolReadOnlyReason(), "writable again after a restart without the fault");
            rig.reads(0x11, 0, "flushed before the slow flush");
            rig.reads(0x12, MIB, "flushed through the slow flush");
            rig.reads(0x22, 2 * MIB, "flushed after the ENOSPC");
            rig.readsOrZeros(0x31, 3 * MIB, "written, never flushed");
            rig.reads(0, 4 * MIB, "the write whose commit failed is not there");

            // EIO on a write of LMDB's meta page (the last step of a commit): LMDB marks the
            // environment failed (MDB_PANIC) and refuses every later transaction, reads included.
            // The store is opened again read-only: the server stays up, the write is refused, reads
            // go on (before, they failed with 04/44/00 until a restart), a flush fails, and a
            // restart brings back everything flushed.
            rig.writeFlushed(0x41, 5 * MIB);
            rig.on("meta-page-eio");
            ExternalTool.Result panic = rig.io("rw", "write -P 0x42 " + 6 * MIB + " " + K64, "flush");
            assertNotEquals(0, panic.exitCode(), panic.output());
            assertTrue(has(panic, "WRITE", 7, 0x2700), panic.output());
            List<String> pageFaults = rig.faults("meta-page-eio");
            assertFalse(pageFaults.isEmpty(), "the shim failed no meta-page write");
            rig.off();
            rig.assertAlive();
            assertNotNull(rig.status().poolReadOnlyReason());
            rig.reads(0x41, 5 * MIB, "reads go on after a failed meta-page write");
            rig.reads(0x11, 0, "reads go on after a failed meta-page write");
            ExternalTool.Result refused = rig.io("rw", "write -P 0x44 " + 8 * MIB + " " + K64, "flush");
            assertTrue(has(refused, "WRITE", 7, 0x2700), "writes stay refused: " + refused.output());
            assertTrue(has(refused, "SYNCHRONIZECACHE", 3, 0x0c00), "no flush after LMDB failed: " + refused.output());
            rig.assertAlive();

            rig.restart();
            assertNull(rig.status().poolReadOnlyReason(), "writable again after a restart without the fault");
            rig.reads(0x11, 0, "flushed before the faults");
            rig.reads(0x22, 2 * MIB, "flushed after the ENOSPC");
            rig.reads(0x41, 5 * MIB, "flushed before the failed meta-page write");
            rig.readsOrZeros(0x42, 6 * MIB, "the write whose meta-page write failed");
            rig.writeFlushed(0x43, 7 * MIB);
            rig.reads(0x43, 7 * MIB, "a write after the restart");

            // the same with LMDB's own repair of the meta page landing: the file it leaves opens,
            // read-only at once and writable after a restart (before, its integrity check called
            // the repaired page's roots damage: reads failed and the restart refused the pool)
            rig.on("meta-page-eio-once");
            ExternalTool.Result once = rig.io("rw", "write -P 0x45 " + 9 * MIB + " " + K64, "flush");
            assertTrue(has(once, "WRITE", 7, 0x2700), once.output());
            assertEquals(1, rig.faults("meta-page-eio-once").size(), "the shim failed one meta-page write");
            rig.off();
            rig.reads(0x43, 7 * MIB, "reads go on after a failed meta-page write that LMDB repaired");
            rig.restart();
            assertNull(rig.status().poolReadOnlyReason(), "writable again after a restart without the fault");
            rig.reads(0x41, 5 * MIB, "flushed before the first failed meta-page write");
            rig.reads(0x43, 7 * MIB, "flushed before the second failed meta-page write");
            rig.readsOrZeros(0x45, 9 * MIB, "the write whose meta-page write failed");
            rig.writeFlushed(0x46, 10 * MIB);
            rig.reads(0x46, 10 * MIB, "a write after the second restart");
        }
    }

    /**
     * EIO on fdatasync, of data.mdb and of a backing device: SYNCHRONIZE CACHE fails, the pool turns
     * read-only with the reason, reads go on; and once the disk answers again a SYNCHRONIZE CACHE
     * must still fail until a restart (after a failed fsync the kernel may have dropped the pages it
     * could not write, and the next fsync reports success: a GOOD then would promise the writes the
     * failed one covered). EIO on device writes fails the write (03/0C/00) and nothing else. After
     * each restart everything flushed reads back exactly.
     */
    @Test
    void failedFlushesAndDeviceErrors(@TempDir Path dir) throws Exception {
        try (Rig rig = new Rig(dir).start()) {
            rig.writeFlushed(0x51, 0);
            rig.writeUnflushed(0x52, MIB);

            // fdatasync of data.mdb fails
            rig.on("meta-sync-eio");
            ExternalTool.Result sync = rig.io("rw", "write -P 0x53 " + 2 * MIB + " " + K64, "flush");
            assertTrue(has(sync, "SYNCHRONIZECACHE", 3, 0x0c00), "SYNCHRONIZE CACHE fails with MEDIUM ERROR, WRITE"
                    + " ERROR: " + sync.output());
            assertFalse(rig.faults("meta-sync-eio").isEmpty(), "the shim failed no fdatasync of data.mdb");
            rig.assertAlive();
            String why = rig.status().poolReadOnlyReason();
            assertNotNull(why, "a failed flush turns the pool read-only");
            assertTrue(why.contains("flush") && why.contains("Input/output error"), why);
            rig.reads(0x51, 0, "reads go on after a failed metadata flush");
            rig.off();
            ExternalTool.Result later = rig.io("rw", "write -P 0x54 " + 3 * MIB + " " + K64, "flush");
            assertTrue(has(later, "WRITE", 7, 0x2700), later.output());
            assertTrue(has(later, "SYNCHRONIZECACHE", 3, 0x0c00), "a SYNCHRONIZE CACHE after a failed fdatasync of"
                    + " data.mdb must not answer GOOD once the disk answers again:\n" + later.output());

            rig.restart();
            assertNull(rig.status().poolReadOnlyReason(), "writable again after a restart without the fault");
            rig.reads(0x51, 0, "flushed before the failed fdatasync");
            rig.readsOrZeros(0x52, MIB, "written, not flushed before the failed fdatasync");
            rig.readsOrZeros(0x53, 2 * MIB, "written, its flush failed");
            rig.reads(0, 3 * MIB, "refused while read-only");

            // EIO on device writes: the write fails, an overwrite leaves the old data, the pool
            // stays writable and writes pass once the device answers
            rig.writeFlushed(0x61, 4 * MIB);
            rig.on("dev-write-eio");
            ExternalTool.Result dw = rig.io("rw", "write -P 0x62 " + 4 * MIB + " " + K64, "flush");
            assertTrue(has(dw, "WRITE", 3, 0x0c00), "MEDIUM ERROR, WRITE ERROR: " + dw.output());
            assertFalse(rig.faults("dev-write-eio").isEmpty(), "the shim failed no device write");
            rig.assertAlive();
            assertNull(rig.status().poolReadOnlyReason(), "a failed device write leaves the pool writable");
            rig.off();
            rig.reads(0x61, 4 * MIB, "the failed overwrite left the old data");
            rig.writeFlushed(0x63, 5 * MIB);

            // EIO on device fsync: SYNCHRONIZE CACHE fails, read-only; still failing once it answers
            rig.on("dev-sync-eio");
            ExternalTool.Result ds = rig.io("rw", "write -P 0x64 " + 6 * MIB + " " + K64, "flush");
            assertTrue(has(ds, "SYNCHRONIZECACHE", 3, 0x0c00), ds.output());
            assertFalse(rig.faults("dev-sync-eio").isEmpty(), "the shim failed no device fsync");
            rig.assertAlive();
            why = rig.status().poolReadOnlyReason();
            assertNotNull(why, "a failed device fsync turns the pool read-only");
            assertTrue(why.contains("flush"), why);
            rig.reads(0x61, 4 * MIB, "reads go on after a failed device fsync");
            rig.reads(0x63, 5 * MIB, "reads go on after a failed device fsync");
            rig.off();
            later = rig.io("rw", "write -P 0x65 " + 7 * MIB + " " + K64, "flush");
            assertTrue(has(later, "WRITE", 7, 0x2700), later.output());
            assertTrue(has(later, "SYNCHRONIZECACHE", 3, 0x0c00), "a SYNCHRONIZE CACHE after a failed device fsync"
                    + " must not answer GOOD once the device answers again:\n" + later.output());

            rig.restart();
            assertNull(rig.status().poolReadOnlyReason(), "writable again after a restart without the fault");
            rig.reads(0x51, 0, "flushed before the faults");
            rig.reads(0x61, 4 * MIB, "flushed, and the failed overwrite left it");
            rig.reads(0x63, 5 * MIB, "flushed before the failed device fsync");
            rig.readsOrZeros(0x64, 6 * MIB, "written, its flush failed");
            rig.reads(0, 7 * MIB, "refused while read-only");
        }
    }
}
