package io.orion.dedup.bench;

import io.orion.dedup.dedup.Fingerprint;
import io.orion.dedup.dedup.Hasher;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * The hashing stage on 4 KiB blocks: SHA-256 per block on two threads ({@code perThread}, one
 * digest per thread), and the batch splitter ({@code batch32}: one 128 KiB write fanned out over
 * the cores). Scores are operations (4 KiB blocks) per second; multiply by 4096 for bytes. Run:
 * {@code java -cp target/test-classes:$(cat cp.txt) io.orion.dedup.bench.HashingBenchmark}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 2, jvmArgsAppend = {"-Xmx1g"})
public class HashingBenchmark {
    private static final int BLOCK = 4096;

    /** Per-thread input: 256 distinct random blocks. */
    @State(Scope.Thread)
    public static class Blocks {
        ByteBuffer[] blocks = new ByteBuffer[256];
        int next;

        @Setup
        public void setup() {
            Random r = new Random(Thread.currentThread().getId());
            for (int i = 0; i < blocks.length; i++) {
                byte[] b = new byte[BLOCK];
                r.nextBytes(b);
                blocks[i] = ByteBuffer.wrap(b);
            }
        }
    }

    /** The shared hasher (its thread pool serves the batch benchmark). */
    @State(Scope.Benchmark)
    public static class Stage {
        Hasher hasher;

        @Setup(Level.Trial)
        public void setup() {
            hasher = new Hasher(Runtime.getRuntime().availableProcessors());
        }

        @TearDown(Level.Trial)
        public void close() {
            hasher.close();
        }
    }

    @Benchmark
    @Threads(2)
    public Fingerprint perThread(Blocks in, Stage stage) {
        ByteBuffer b = in.blocks[in.next++ & 255];
        return stage.hasher.hash(b);
    }

    @Benchmark
    @Threads(1)
    @OperationsPerInvocation(32)
    public Fingerprint[] batch32(Blocks in, Stage stage) {
        ByteBuffer[] batch = new ByteBuffer[32];
        int base = in.next;
        in.next += 32;
        for (int i = 0; i < 32; i++) {
            batch[i] = in.blocks[(base + i) & 255];
        }
        Fingerprint[] out = new Fingerprint[32];
        stage.hasher.hashAll(batch, null, out);
        return out;
    }

    public static void main(String[] args) throws Exception {
        new Runner(new OptionsBuilder().include(HashingBenchmark.class.getSimpleName()).build()).run();
    }
}
