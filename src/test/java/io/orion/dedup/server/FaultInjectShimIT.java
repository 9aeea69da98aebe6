package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault shim ({@code src/test/c/faultinject.c}) on known calls: dd writing four 4 KiB blocks
 * with write() and fsync()ing them, so that {@link MetadataFaultIT} cannot pass by a rule that
 * fails nothing or the wrong calls.
 */
class FaultInjectShimIT {

    private static Path shim;

    @BeforeAll
    static void buildShim() throws Exception {
        shim = PowerLossIT.compileShim("faultinject");
    }

    private record Run(int exit, String output, long ms) {
    }

    /** dd of four 4 KiB blocks of zeros into {@code dir/name}, with fsync, under {@code rules}. */
    private static Run dd(Path dir, String name, String rules) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("dd", "if=/dev/zero", "of=" + dir.resolve(name), "bs=4096", "count=4",
                "conv=fsync").redirectErrorStream(true);
        pb.environment().put("LD_PRELOAD", shim.toString());
        pb.environment().put("FAULT_DIR", dir.toString());
        pb.environment().put("FAULT_RULES", rules);
        pb.environment().put("FAULT_LOG", dir.resolve("faults.log").toString());
        long t0 = System.nanoTime();
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return new Run(p.exitValue(), out, (System.nanoTime() - t0) / 1_000_000);
    }

    private static List<String> log(Path dir) throws IOException {
        Path f = dir.resolve("faults.log");
        return Files.exists(f) ? Files.readAllLines(f) : List.of();
    }

    @Test
    void afterAndCountFailExactlyTheChosenWrite(@TempDir Path dir) throws Exception {
        Run r = dd(dir, "a.bin", "file=/a.bin,op=write,after=2,count=1,errno=ENOSPC");
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("No space left on device"), r.output());
        assertEquals(8192, Files.size(dir.resolve("a.bin")), "the first two writes passed, the third failed");
        assertEquals(List.of("fault 0 write " + dir.toRealPath().resolve("a.bin") + " 8192 4096 28 0"), log(dir));
    }

    @Test
    void aRangeFailsOnlyTheWritesThatTouchIt(@TempDir Path dir) throws Exception {
        Run r = dd(dir, "b.bin", "file=b.bin,op=write,range=4000-4097,errno=EIO");
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("Input/output error"), r.output());
        assertEquals(0, Files.size(dir.resolve("b.bin")), "the first block touches the range: nothing written");
        Run past = dd(dir, "c.bin", "file=c.bin,op=write,range=16384-20000,errno=EIO");
        assertEquals(0, past.exit(), past.output());
        assertEquals(16384, Files.size(dir.resolve("c.bin")));
    }

    @Test
    void syncsFailWithoutTheWritesAndOnlyWhileTheControlFileExists(@TempDir Path dir) throws Exception {
        Path ctl = dir.resolve("on");
        String rules = "file=d.bin,op=sync,errno=EIO,while=" + ctl + ";file=other.bin,op=write,errno=EIO";
        Run off = dd(dir, "d.bin", rules);
        assertEquals(0, off.exit(), "control file absent: no fault\n" + off.output());
        assertEquals(List.of(), log(dir));
        Files.writeString(ctl, "");
        Run on = dd(dir, "d.bin", rules);
        assertNotEquals(0, on.exit(), on.output());
        assertTrue(on.output().contains("Input/output error"), on.output());
        assertEquals(16384, Files.size(dir.resolve("d.bin")), "the writes passed, the fsync failed");
        assertEquals(1, log(dir).size(), log(dir).toString());
        assertTrue(log(dir).get(0).startsWith("fault 0 sync "), log(dir).toString());
        Run outside = dd(dir, "e.bin", rules);
        assertEquals(0, outside.exit(), "a file no rule names is not touched\n" + outside.output());
    }

    @Test
    void aDelayAnswersLateAndThenDoesTheCall(@TempDir Path dir) throws Exception {
        Run r = dd(dir, "f.bin", "file=f.bin,op=write,count=2,delay=300");
        assertEquals(0, r.exit(), r.output());
        assertEquals(16384, Files.size(dir.resolve("f.bin")));
        assertTrue(r.ms() >= 600, "two writes delayed 300 ms each, done in " + r.ms() + " ms");
        assertEquals(2, log(dir).size(), log(dir).toString());
    }
}
