package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The powercut shim and its replay on known file operations of a JVM ({@link PowerCutChild}): what
 * the log holds, the images a cut leaves in each mode, a torn last record, and a shared writable
 * mapping refused (so {@link PowerLossIT} cannot pass by missing writes it does not see).
 */
class PowerCutShimIT {

    private static PowerCutLog run(Path dir, String... extra) throws IOException, InterruptedException {
        Path shim = PowerLossIT.compileShim();
        Path traced = Files.createDirectories(dir.resolve("traced"));
        Path log = dir.resolve("log");
        String[] cmd = new String[4 + extra.length];
        cmd[0] = "java";
        cmd[1] = "-cp";
        cmd[2] = "target/test-classes";
        cmd[3] = PowerCutChild.class.getName();
        String[] args = new String[1 + extra.length];
        args[0] = traced.toString();
        System.arraycopy(extra, 0, args, 1, extra.length);
        ProcessBuilder pb = new ProcessBuilder(java.util.stream.Stream.concat(Arrays.stream(cmd, 0, 4),
                Arrays.stream(args)).toList()).redirectErrorStream(true);
        pb.environment().putAll(Map.of("LD_PRELOAD", shim.toString(), "POWERCUT_DIR", traced.toString(),
                "POWERCUT_LOG", log.toString()));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return PowerCutLog.read(log);
    }

    private static byte[] expectedKeep() {
        byte[] a = new byte[8192 + 120];
        Arrays.fill(a, 0, 4096, (byte) 1);
        Arrays.fill(a, 4096, 8192, (byte) 2);
        Arrays.fill(a, 8192, 8292, (byte) 3);
        Arrays.fill(a, 8292, 8312, (byte) 4);
        return a;
    }

    @Test
    void logAndImagesOfKnownOperations(@TempDir Path dir) throws Exception {
        PowerCutLog log = run(dir);
        assertNull(log.unsupported());
        Map<String, Integer> c = log.census();
        assertEquals(4, c.get("WRITE"), c.toString());                  // pwrite64, pwrite64, writev, write
        assertEquals(1, c.get("SYNC"), c.toString());
        assertEquals(2, c.get("TRUNCATE"), c.toString());               // ftruncate, O_TRUNC
        assertEquals(1, c.get("RENAME"), c.toString());

        Path keep = Files.createDirectories(dir.resolve("keep"));
        log.buildImage(log.size(), PowerCutLog.Mode.KEEP, 1, keep);
        assertArrayEquals(expectedKeep(), Files.readAllBytes(keep.resolve("a.bin")));
        assertArrayEquals(PowerCutChild.filled(10, 5), Files.readAllBytes(keep.resolve("t.json")));
        assertFalse(Files.exists(keep.resolve("t.tmp")));

        // only the fdatasync'ed first 8 KiB is durable; t.json's content never was
        Path drop = Files.createDirectories(dir.resolve("drop"));
        Files.writeString(drop.resolve("stray"), "not in the image");
        log.buildImage(log.size(), PowerCutLog.Mode.DROP, 1, drop);
        assertArrayEquals(PowerCutChild.filled(8192, 1), Files.readAllBytes(drop.resolve("a.bin")));
        assertEquals(0, Files.size(drop.resolve("t.json")));
        assertFalse(Files.exists(drop.resolve("stray")), "a file the image lacks is deleted");

        // random subsets: every 4 KiB piece is old or new, never a mix, and both happen across seeds
        boolean sawOld = false, sawNew = false;
        for (int seed = 0; seed < 16; seed++) {
            Path r = Files.createDirectories(dir.resolve("random-" + seed));
            log.buildImage(log.size(), PowerCutLog.Mode.RANDOM, seed, r);
            byte[] a = Files.readAllBytes(r.resolve("a.bin"));
            assertTrue(a.length >= 8192);
            assertArrayEquals(PowerCutChild.filled(4096, 1), Arrays.copyOfRange(a, 0, 4096));
            byte[] second = Arrays.copyOfRange(a, 4096, 8192);
            boolean old = Arrays.equals(second, PowerCutChild.filled(4096, 1));
            boolean nu = Arrays.equals(second, PowerCutChild.filled(4096, 2));
            assertTrue(old || nu, "seed " + seed + ": a torn 4 KiB piece");
            sawOld |= old;
            sawNew |= nu;
        }
        assertTrue(sawOld && sawNew);

        // a cut before the fdatasync: nothing of a.bin is durable
        int firstSync = 0;
        while (log.get(firstSync).type() != PowerCutLog.SYNC) {
            firstSync++;
        }
        Path before = Files.createDirectories(dir.resolve("before"));
        log.buildImage(firstSync, PowerCutLog.Mode.DROP, 1, before);
        assertEquals(0, Files.size(before.resolve("a.bin")));
        Path after = Files.createDirectories(dir.resolve("after"));
        log.buildImage(firstSync + 1, PowerCutLog.Mode.DROP, 1, after);
        assertArrayEquals(PowerCutChild.filled(8192, 1), Files.readAllBytes(after.resolve("a.bin")));
    }

    @Test
    void aTornLastRecordIsLeftOut(@TempDir Path dir) throws Exception {
        PowerCutLog log = run(dir);
        Path whole = dir.resolve("log");
        Path torn = dir.resolve("torn");
        byte[] b = Files.readAllBytes(whole);
        Files.write(torn, Arrays.copyOf(b, b.length - 3));
        PowerCutLog t = PowerCutLog.read(torn);
        assertEquals(log.size() - 1, t.size());
        assertEquals(log.offsetOf(log.size() - 1), t.offsetOf(t.size()));
        assertEquals(t.size(), t.recordsAt(b.length - 3));
    }

    @Test
    void aSharedWritableMappingMakesTheReplayFail(@TempDir Path dir) throws Exception {
        PowerCutLog log = run(dir, "map");
        assertNotNull(log.unsupported());
        assertTrue(log.unsupported().contains("shared writable mapping of a.bin"), log.unsupported());
        Path img = Files.createDirectories(dir.resolve("img"));
        IOException e = assertThrows(IOException.class,
                () -> log.buildImage(log.size(), PowerCutLog.Mode.KEEP, 1, img));
        assertTrue(e.getMessage().contains("shared writable mapping"), e.getMessage());
    }
}
