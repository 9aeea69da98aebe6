package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.iscsi.HostileInputFuzzer;
import io.orion.dedup.iscsi.RawInitiator;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input against the real server ({@code orion-dedup serve}): {@link HostileInputFuzzer}
 * sends {@code fuzz.count} inputs (50,000 by default; {@code scripts/fuzz} sends more) to two targets
 * of their own while a healthy session on the default target writes and reads back with
 * verification throughout. It must never be disturbed, the server must stay up, every answer must be
 * well-formed, and the server's log must show no ERROR and no exception.
 *
 * <p>Replay: the seed is printed; {@code -Dfuzz.seed=S -Dfuzz.from=K -Dfuzz.count=N} runs inputs K..K+N-1.
 */
class HostileInputIT {

    static final String CDB_IQN = "iqn.2026-11.io.orion:fuzz-cdb";
    static final String PDU_IQN = "iqn.2026-11.io.orion:fuzz-pdu";
    static final long CDB_LUN_BLOCKS = (64L << 20) / 512;

    /** A target file: {@code luns} thin LUNs 0.. of {@code size}, volumes {@code volume}-0... */
    static String target(String iqn, String volume, String size, int luns) {
        StringBuilder s = new StringBuilder("iqn = \"" + iqn + "\"\n\n[attributes]\nauthentication = false\n"
                + "demo_mode = true\nqueue_depth = 0\n\n[[portal_group]]\ntag = 1\nportals = []\n");
        for (int i = 0; i < luns; i++) {
            s.append("\n[[lun]]\nid = ").append(i).append("\nvolume = \"").append(volume).append('-').append(i)
                    .append("\"\nsize = \"").append(size).append("\"\nblock_size = 512\nread_only = false\nthin = true\n")
                    .append("backing = \"dedup\"\n");
        }
        return s.toString();
    }

    /** A free port of the range this test may use (3500-3599). */
    static int port() throws IOException {
        for (int p = 3500 + new Random().nextInt(100), n = 0; n < 100; n++, p = 3500 + (p - 3500 + 1) % 100) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress("127.0.0.1", p));
                return p;
            } catch (IOException busy) {
                // next
            }
        }
        return ServerProcess.freePort();
    }

    /** Writes and reads back 4 KiB blocks with verification until told to stop; any disturbance is kept. */
    static final class Healthy implements Runnable {
        final RawInitiator c;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicReference<String> failure = new AtomicReference<>();
        final AtomicLong writes = new AtomicLong();
        final AtomicLong reads = new AtomicLong();
        final byte[][] model = new byte[256][];
        final Random random = new Random(7);

        Healthy(RawInitiator c) {
            this.c = c;
        }

        static byte[] rw(int op, long lba, int blocks) {
            byte[] cdb = new byte[10];
            cdb[0] = (byte) op;
            ByteBuffer.wrap(cdb).putInt(2, (int) lba).putShort(7, (short) blocks);
            return cdb;
        }

        void check(RawInitiator.Outcome o, String what) {
            if (o.status() != 0) {
                throw new IllegalStateException(what + ": " + o.describe());
            }
        }

        @Override
        public void run() {
            try {
                for (int i = 0; !stop.get(); i++) {
                    int slot = random.nextInt(model.length);
                    if (model[slot] == null || random.nextBoolean()) {
                        byte[] data = new byte[4096];
                        random.nextBytes(data);
                        check(c.scsi(0, rw(0x2a, slot * 8L, 8), data, 0), "WRITE(10) of slot " + slot);
                        model[slot] = data;
                        writes.incrementAndGet();
                    }
                    RawInitiator.Outcome o = c.scsi(0, rw(0x28, slot * 8L, 8), null, 4096);
                    check(o, "READ(10) of slot " + slot);
                    reads.incrementAndGet();
                    if (!Arrays.equals(model[slot], o.data())) {
                        throw new IllegalStateException("READ(10) of slot " + slot + " returned other data");
                    }
                    if (i % 64 == 63) {
                        Thread.sleep(1); // keep a healthy pace, not a benchmark
                    }
                }
                for (int slot = 0; slot < model.length; slot++) {
                    if (model[slot] != null) {
                        RawInitiator.Outcome o = c.scsi(0, rw(0x28, slot * 8L, 8), null, 4096);
                        check(o, "final READ(10) of slot " + slot);
                        if (!Arrays.equals(model[slot], o.data())) {
                            throw new IllegalStateException("final READ(10) of slot " + slot + " returned other data");
                        }
                    }
                }
            } catch (Exception | AssertionError e) {
                failure.compareAndSet(null, e.toString());
            }
        }
    }

    /** Log lines that an undisturbed server must not have: errors and stack traces. */
    static List<String> badLogLines(String log) {
        List<String> bad = new ArrayList<>();
        for (String line : log.split("\n")) {
            if (line.contains(" ERROR ") || line.contains("Exception") && !line.contains("PduFormatException")
                    || line.contains("after an error") || line.contains("LEAK")) {
                bad.add(line.length() > 600 ? line.substring(0, 600) + "..." : line);
            }
        }
        return bad;
    }

    @Test
    void hostileInputNeverDisturbsTheServerOrAHealthySession(@TempDir Path dir) throws Exception {
        long seed = Long.getLong("fuzz.seed", new Random().nextLong());
        long from = Long.getLong("fuzz.from", 0L);
        long count = Long.getLong("fuzz.count", 50_000L);
        int lanes = Integer.getInteger("fuzz.lanes", 4);
        System.out.printf("hostile input: seed %d, inputs %d..%d on %d lanes (replay: -Dfuzz.seed=%d -Dfuzz.from=K)%n",
                seed, from, from + count - 1, lanes, seed);
        Path targets = ServerProcess.copyTargets(dir);
        Files.writeString(targets.resolve("fuzz-cdb.toml"), target(CDB_IQN, "fuzz-cdb", "64MiB", lanes));
        Files.writeString(targets.resolve("fuzz-pdu.toml"), target(PDU_IQN, "fuzz-pdu", "16MiB", 1));
        int port = port();
        Path data = dir.resolve("data");
        // the metrics endpoint off: its fixed port may be taken by another server on this machine
        Path config = dir.resolve("dedup.toml");
        String conf = Files.readString(Path.of("conf/dedup.toml"));
        String noMetrics = conf.replaceFirst("(?m)^(\\[metrics\\][^\\[]*?)^enabled = true$", "$1enabled = false");
        assertTrue(!noMetrics.equals(conf), "no 'enabled = true' under [metrics] in conf/dedup.toml");
        Files.writeString(config, noMetrics);
        // -Dfuzz.serverLog=DEBUG: the server logs at that level (for a failure's replay)
        String level = System.getProperty("fuzz.serverLog", "");
        List<String> jvm = level.isEmpty() ? List.of() : List.of("-Dorion.log.level=" + level);
        try (ServerProcess server = ServerProcess.start(data, targets, config, port, java.util.Map.of(), jvm)) {
            InetSocketAddress portal = new InetSocketAddress("127.0.0.1", port);
            RawInitiator healthyConn = new RawInitiator(portal);
            String healthyName = "iqn.2026-11.test:healthy-" + Long.toHexString(new Random().nextLong());
            assertEquals(0, healthyConn.login(healthyName, ServerProcess.DEFAULT_IQN, 0x23d0000fffffL, 0, 0, ""));
            healthyConn.scsi(0, new byte[6], null, 0); // the power-on unit attention
            Healthy healthy = new Healthy(healthyConn);
            Thread t = new Thread(healthy, "healthy-session");
            t.start();
            long start = System.nanoTime();
            HostileInputFuzzer.Stats stats = HostileInputFuzzer.run(portal, CDB_IQN, PDU_IQN, CDB_LUN_BLOCKS, seed, from,
                    count, lanes, () -> healthy.failure.get() == null && server.alive());
            double seconds = (System.nanoTime() - start) / 1e9;
            healthy.stop.set(true);
            t.join(60_000);
            healthyConn.close();
            System.out.printf("hostile input: seed %d, %.1f s%n  %s%n  healthy session: %d writes, %d reads, %s%n",
                    seed, seconds, stats.summary(), healthy.writes.get(), healthy.reads.get(),
                    healthy.failure.get() == null ? "undisturbed" : "DISTURBED: " + healthy.failure.get());
            Path log = Path.of("target", "hostile-input-server.log").toAbsolutePath();
            Files.writeString(log, server.output()); // what the server said, for a failure's replay
            assertTrue(stats.failures.isEmpty(), "seed " + seed + ": " + String.join("\n", stats.failures)
                    + "\n(the server's log: " + log + ")");
            assertTrue(server.alive(), "the server died:\n" + tail(server.output()));
            assertEquals(null, healthy.failure.get(), "seed " + seed + ": the healthy session was disturbed");
            assertTrue(healthy.reads.get() > 0, "the healthy session did not run");
            // still serving: a new session logs in and reads
            try (RawInitiator after = new RawInitiator(portal)) {
                assertEquals(0, after.login("iqn.2026-11.test:after", ServerProcess.DEFAULT_IQN, 0x23d0000ffff1L, 0, 0,
                        ""));
            }
            List<String> bad = badLogLines(server.output());
            assertTrue(bad.isEmpty(), "seed " + seed + ": the server logged errors:\n" + String.join("\n", bad));
            assertEquals(0, server.stop(java.time.Duration.ofSeconds(60)), "a clean stop after the fuzzing");
        }
    }

    static String tail(String s) {
        return s.length() > 5000 ? s.substring(s.length() - 5000) : s;
    }
}
