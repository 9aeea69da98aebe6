package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Soak}'s "flat" verdict: what grows beyond its bound, or falls, is named; the rest passes. */
class SoakJudgeTest {

    private static Soak.Sample s(int i, long commands, double heap, double cache, long fds, long threads) {
        return new Soak.Sample(i, 60, commands, commands * 4096, heap, cache, fds, threads, 1000, 0, 0);
    }

    private static List<String> judge(Soak.Sample... samples) {
        Soak soak = new Soak(new Soak.Options(1, 1, 1, 32, 60, 0, 0, 10, Path.of("/nonexistent")),
                new PrintStream(PrintStream.nullOutputStream()));
        List<String> problems = new ArrayList<>();
        soak.judge(List.of(samples), problems);
        return problems;
    }

    @Test
    void steadyFiguresAndFillingCachesAreFlat() {
        assertEquals(List.of(), judge(s(1, 100_000, 420, 370, 68, 47), s(2, 90_000, 530, 465, 80, 60),
                s(3, 51_000, 560, 460, 88, 67)));
    }

    @Test
    void eachGrowthBeyondItsBoundIsNamed() {
        List<String> p = judge(s(1, 100_000, 420, 370, 68, 47), s(2, 49_000, 420 + 65, 370, 89, 68));
        assertEquals(4, p.size(), p.toString());
        assertTrue(p.get(0).startsWith("file descriptors grew: 68 -> 89"), p.get(0));
        assertTrue(p.get(1).startsWith("threads grew: 47 -> 68"), p.get(1));
        assertTrue(p.get(2).startsWith("heap after GC outside the caches grew: 50.0 -> 115.0 MiB"), p.get(2));
        assertTrue(p.get(3).startsWith("throughput fell"), p.get(3));
    }

    @Test
    void largeBaselinesUseTheRelativeBound() {
        // 1000 fds: +10 % is the bound (1100), not +20; 400 MiB of other heap: +25 % (500)
        assertEquals(List.of(), judge(s(1, 1000, 400, 0, 1000, 300), s(2, 1000, 500, 0, 1100, 330)));
        assertEquals(3, judge(s(1, 1000, 400, 0, 1000, 300), s(2, 1000, 501, 0, 1101, 331)).size());
    }

    @Test
    void errorsAndWrongReadsFailEvenWhenFlat() {
        Soak soak = new Soak(new Soak.Options(1, 1, 1, 32, 60, 0, 0, 10, Path.of("/nonexistent")),
                new PrintStream(PrintStream.nullOutputStream()));
        soak.error("session 3 WRITE lun 1 block 7: status 0x02 sense 3/0c/00");
        List<String> problems = new ArrayList<>();
        soak.judge(List.of(s(1, 1000, 100, 0, 50, 40)), problems);
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("1 errors, e.g. session 3 WRITE lun 1 block 7"), problems.get(0));
        List<String> none = new ArrayList<>();
        Soak empty = new Soak(new Soak.Options(1, 1, 1, 32, 60, 0, 0, 10, Path.of("/nonexistent")),
                new PrintStream(PrintStream.nullOutputStream()));
        empty.judge(List.of(), none);
        assertEquals(List.of("no interval completed"), none);
    }
}
