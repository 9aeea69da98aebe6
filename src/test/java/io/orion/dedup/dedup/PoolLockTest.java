package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One pool, one owner: while a server (another process) has the pool open, a second open is
 * refused before it reads or writes anything of the pool (its flushed state, the metadata file and
 * the devices stay as the first left them); once the first process dies (kill -9), the pool opens
 * and reads back what was written. A second open in the same process is refused too.
 */
class PoolLockTest {
    @TempDir
    Path dir;

    /** Child: opens the pool, writes block 0, flushes, says OPEN, and holds the pool until killed. */
    public static final class Holder {
        public static void main(String[] args) throws Exception {
            DedupPool pool = PoolFixture.open(Path.of(args[0]));
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            v.write(0, ByteBuffer.wrap(PoolFixture.random(7, 4096)), true);
            System.out.println("OPEN");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    @Test
    void aSecondServerIsRefusedBeforeItTouchesThePool() throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(javaBin, "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Holder.class.getName(), dir.toString())).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = r.readLine()) != null && !line.equals("OPEN")) {
                // the child's other output
            }
            assertEquals("OPEN", line, "the holder opened the pool");
            Path meta = dir.resolve("meta");
            byte[] flushed = Files.readAllBytes(meta.resolve("flushed.meta"));
            long mdbChanged = changeTime(meta.resolve("data.mdb"));
            long devChanged = changeTime(dir.resolve("data/dev0.img"));
            DedupPool.PoolRefusedException e = assertThrows(DedupPool.PoolRefusedException.class,
                    () -> PoolFixture.open(dir));
            assertTrue(e.getMessage().contains("open in another server"), e.getMessage());
            assertArrayEquals(flushed, Files.readAllBytes(meta.resolve("flushed.meta")),
                    "the first server's power-loss state is untouched");
            assertEquals(mdbChanged, changeTime(meta.resolve("data.mdb")));
            assertEquals(devChanged, changeTime(dir.resolve("data/dev0.img")));
        } finally {
            p.destroyForcibly();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
        // the kernel released the dead holder's lock: the pool opens, with what the holder flushed
        try (DedupPool pool = PoolFixture.open(dir)) {
            ByteBuffer b = ByteBuffer.allocate(4096);
            pool.openVolume("lun").orElseThrow().read(0, b);
            assertArrayEquals(PoolFixture.random(7, 4096), b.array());
        }
    }

    @Test
    void aSecondOpenInTheSameProcessIsRefusedAndTheFirstGoesOn() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            assertThrows(DedupPool.PoolRefusedException.class, () -> PoolFixture.open(dir));
            v.write(0, ByteBuffer.wrap(PoolFixture.random(3, 4096)), true);
            ByteBuffer b = ByteBuffer.allocate(4096);
            v.read(0, b);
            assertArrayEquals(PoolFixture.random(3, 4096), b.array());
        }
        try (DedupPool again = PoolFixture.open(dir)) {
            assertEquals(1, again.volumes().size(), "closing released the lock");
        }
    }

    private static long changeTime(Path f) throws Exception {
        return ((java.nio.file.attribute.FileTime) Files.getAttribute(f, "unix:ctime")).to(TimeUnit.NANOSECONDS);
    }
}
