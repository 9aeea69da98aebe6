package io.orion.dedup.dedup;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The hashing stage: SHA-256 fingerprints of dedup blocks, one {@link MessageDigest} per thread
 * (the JDK's SHA-256 uses the CPU's SHA extensions). A batch of blocks is cut into parts that the
 * calling thread and idle hashing threads (one per extra core) claim one by one, so one large write
 * uses every core, and a busy pool never delays a caller: it hashes whatever nobody else claimed.
 * Throughput is measured (bytes hashed, nanoseconds spent hashing, summed over threads).
 */
public final class Hasher implements AutoCloseable {
    private static final ThreadLocal<MessageDigest> DIGEST = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    });
    /** Blocks per parallel part below which splitting costs more than it saves. */
    private static final int MIN_PART = 4;

    private final ExecutorService pool;
    private final int parallelism;
    private final LongAdder bytes = new LongAdder();
    private final LongAdder nanos = new LongAdder();

    public Hasher(int parallelism) {
        this.parallelism = Math.max(1, parallelism);
        AtomicInteger n = new AtomicInteger();
        this.pool = this.parallelism == 1 ? null : Executors.newFixedThreadPool(this.parallelism - 1, r -> {
            Thread t = new Thread(r, "hasher-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** Fingerprint of {@code block}'s remaining bytes (position unchanged). */
    public Fingerprint hash(ByteBuffer block) {
        long t0 = System.nanoTime();
        MessageDigest md = DIGEST.get();
        md.update(block.duplicate());
        Fingerprint f = new Fingerprint(md.digest());
        nanos.add(System.nanoTime() - t0);
        bytes.add(block.remaining());
        return f;
    }

    /**
     * Fingerprints every non-null block whose {@code skip} flag is clear into {@code out}. A block
     * that is the same object as its predecessor reuses its fingerprint.
     */
    public void hashAll(ByteBuffer[] blocks, boolean[] skip, Fingerprint[] out) {
        int n = blocks.length;
        int parts = pool == null ? 1 : Math.min(parallelism * 2, n / MIN_PART);
        if (parts <= 1) {
            hashRange(blocks, skip, out, 0, n);
            return;
        }
        int per = (n + parts - 1) / parts;
        int count = (n + per - 1) / per;
        AtomicInteger next = new AtomicInteger();
        CountDownLatch finished = new CountDownLatch(count);
        Runnable worker = () -> {
            int p;
            while ((p = next.getAndIncrement()) < count) {
                try {
                    hashRange(blocks, skip, out, p * per, Math.min(n, p * per + per));
                } finally {
                    finished.countDown();
                }
            }
        };
        for (int i = 1; i < parallelism; i++) {
            pool.execute(worker);
        }
        worker.run();
        try {
            finished.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while hashing", e);
        }
    }

    private void hashRange(ByteBuffer[] blocks, boolean[] skip, Fingerprint[] out, int from, int to) {
        for (int i = from; i < to; i++) {
            if (blocks[i] == null || (skip != null && skip[i])) {
                continue;
            }
            if (i > from && blocks[i] == blocks[i - 1] && out[i - 1] != null) {
                out[i] = out[i - 1];
                continue;
            }
            out[i] = hash(blocks[i]);
        }
    }

    /** Total bytes hashed. */
    public long bytesHashed() {
        return bytes.sum();
    }

    /** Hashing throughput per busy thread in MB/s (bytes per microsecond of hashing time). */
    public double megabytesPerSecond() {
        long ns = nanos.sum();
        return ns == 0 ? 0 : bytes.sum() * 1000.0 / ns;
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
