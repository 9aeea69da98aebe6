package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of a writing JVM at random moments: after each restart every block written before the
 * last completed flush reads back as written, the scrub finds nothing, recovery is quick.
 */
class CrashRecoveryTest {
    @TempDir
    Path dir;

    @Test
    void survivesKillNineDuringConcurrentWrites() throws Exception {
        int blocks = 1024;
        int nextGen = 1;
        int roundsWithFlush = 0;
        for (int round = 0; round < 4; round++) {
            String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> cmd = new ArrayList<>(List.of(javaBin, "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                    "-cp", System.getProperty("java.class.path"), CrashWriter.class.getName(), dir.toString(),
                    Integer.toString(blocks), Integer.toString(nextGen)));
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            java.util.concurrent.atomic.AtomicInteger flushed = new java.util.concurrent.atomic.AtomicInteger(-1);
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        if (line.startsWith("FLUSHED ")) {
                            flushed.set(Integer.parseInt(line.substring(8)));
                        }
                    }
                } catch (java.io.IOException e) {
                    // the child died
                }
            });
            reader.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (flushed.get() < nextGen && System.nanoTime() < deadline && p.isAlive()) {
                Thread.sleep(10);
            }
            Thread.sleep(ThreadLocalRandom.current().nextInt(1500));
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            reader.join(10_000);
            int lastFlushed = flushed.get();
            try (DedupPool pool = PoolFixture.open(dir)) {
                assertNull(pool.readOnlyReason());
                assertTrue(pool.openReport().recoveryMillis() < 5000);
                if (lastFlushed >= 0) {
                    DedupVolume v = pool.openVolume("lun").orElseThrow();
                    for (long lba = 0; lba < blocks; lba++) {
                        int gen = lastFlushed;
                        while (gen >= nextGen && (lba + gen) % 3 == 0) {
                            gen--;
                        }
                        byte[] got = PoolFixture.read(v, lba, 1).array();
                        if (gen < nextGen) {
                            continue;
                        }
                        byte[] want = CrashWriter.content(lba, gen);
                        boolean newer = false;
                        if (!java.util.Arrays.equals(want, got)) {
                            for (int later = gen + 1; later <= lastFlushed + 2; later++) {
                                if (java.util.Arrays.equals(CrashWriter.content(lba, later), got)) {
                                    newer = true;
                                }
                            }
                        }
                        if (!newer) {
                            assertArrayEquals(want, got, "round " + round + " lba " + lba + " gen " + gen);
                        }
                    }
                    nextGen = lastFlushed + 3;
                    roundsWithFlush++;
                }
                ScrubResult s = pool.verify();
                assertTrue(s.clean(), s.toString());
            }
        }
        assertTrue(roundsWithFlush >= 2, "the writer completed flushes in at least two rounds");
    }
}
