package io.orion.dedup.estimate;

import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.Fingerprint;
import io.orion.dedup.dedup.Hasher;
import io.orion.dedup.dedup.ZeroBlocks;
import io.orion.dedup.containers.Compression;
import io.orion.dedup.containers.RecordFormat;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;

/**
 * Reads an image once and works out, for every block size asked, what a pool would store: one
 * reader thread fills 4 MiB buffers in order, worker threads (one per core) take whole buffers.
 *
 * <p>Per buffer a worker finds the zero blocks of the smallest size ({@link ZeroBlocks}, as the
 * engine does) and fingerprints the others with the engine's {@link Hasher} (SHA-256). Larger
 * block sizes are multiples of the smallest (powers of two), and two larger blocks are equal
 * exactly when their sub-blocks are, so a larger block's fingerprint is the SHA-256 of its
 * sub-blocks' fingerprints (32 bytes per 4 KiB to hash instead of the data again). The first 64
 * bits of each fingerprint go into that size's {@link FingerprintTable}; the first time a block is
 * seen, its record size is found with the engine's own {@link Compression#tryCompress} at the
 * pool's level and threshold (60-byte header + LZ4 payload when that pays, else the raw bytes).
 *
 * <p>A partial block at the end of the image counts as a whole block padded with zeros, as the
 * engine stores a partly written block.
 */
public final class Estimator {
    /** Bytes per reader buffer (a multiple of the largest block size). */
    static final int BUFFER = 4 << 20;
    /** LMDB bytes per mapped dedup block (measured; docs/on-disk-format.md, "Metadata bytes"). */
    public static final double METADATA_PER_BLOCK = 4.3;
    /** LMDB bytes per unique chunk (its chunks and index entries; measured, same table). */
    public static final double METADATA_PER_CHUNK = 126.3;

    private final ImageSource source;
    private final EstimateSettings settings;
    private final int[] sizes;
    private final int base;
    private final FingerprintTable[] tables;
    private final LongAdder[] logicalBlocks;
    private final LongAdder[] zeroBlocks;
    private final Compression compression;
    private final Hasher hasher = new Hasher(1);
    private final AtomicLong bytesDone = new AtomicLong();
    private final byte[] zeroDigest;

    public Estimator(ImageSource source, EstimateSettings settings) {
        this.source = source;
        this.settings = settings;
        this.sizes = settings.blockSizes();
        this.base = sizes[0];
        this.tables = new FingerprintTable[sizes.length];
        this.logicalBlocks = new LongAdder[sizes.length];
        this.zeroBlocks = new LongAdder[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            tables[i] = new FingerprintTable(settings.memoryBytes() / sizes.length);
            logicalBlocks[i] = new LongAdder();
            zeroBlocks[i] = new LongAdder();
        }
        this.compression = new Compression(settings.compressionEnabled(), settings.compressionThreshold(),
                settings.compressionLevel());
        this.zeroDigest = hasher.hash(ByteBuffer.wrap(new byte[base])).bytes();
    }

    /** Bytes read and processed so far. */
    public long bytesDone() {
        return bytesDone.get();
    }

    /**
     * Reads the whole source and returns the figures. {@code progress} is called on this thread about
     * every {@code progressMillis} with the bytes done so far.
     */
    public EstimateReport run(LongConsumer progress, long progressMillis) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        long size = source.size();
        int workers = settings.workers();
        BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(workers + 2);
        for (int i = 0; i < workers + 2; i++) {
            free.add(new byte[BUFFER]);
        }
        BlockingQueue<Work> work = new LinkedBlockingQueue<>(); // bounded by the buffers in use
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        Thread reader = new Thread(() -> {
            try {
                for (long off = 0; off < size && failure.get() == null; off += BUFFER) {
                    byte[] buf = free.take();
                    int len = (int) Math.min(BUFFER, size - off);
                    source.read(off, buf, 0, len);
                    int padded = roundUp(len, sizes[sizes.length - 1]);
                    Arrays.fill(buf, len, padded, (byte) 0);
                    work.put(new Work(buf, len));
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            } finally {
                for (int i = 0; i < workers; i++) {
                    work.offer(Work.END);
                }
            }
        }, "estimate-reader");
        threads.add(reader);
        for (int w = 0; w < workers; w++) {
            threads.add(new Thread(() -> {
                try {
                    while (true) {
                        Work job = work.take();
                        if (job == Work.END) {
                            return;
                        }
                        if (failure.get() == null) {
                            process(job.buffer, job.length);
                            bytesDone.addAndGet(job.length);
                        }
                        free.put(job.buffer);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    free.offer(new byte[BUFFER]); // the reader may be waiting for a buffer
                }
            }, "estimate-hash-" + (w + 1)));
        }
        threads.forEach(t -> t.setDaemon(true));
        threads.forEach(Thread::start);
        try {
            for (Thread t : threads) {
                while (t.isAlive()) {
                    t.join(progressMillis);
                    progress.accept(bytesDone.get());
                }
            }
        } catch (InterruptedException e) {
            failure.compareAndSet(null, e);
            threads.forEach(Thread::interrupt);
            throw e;
        }
        Throwable f = failure.get();
        if (f instanceof IOException io) {
            throw io;
        } else if (f instanceof InterruptedException ie) {
            throw new InterruptedIOException("interrupted: " + ie.getMessage());
        } else if (f instanceof RuntimeException re) {
            throw re;
        } else if (f instanceof Error er) {
            throw er;
        } else if (f != null) {
            throw new IOException(f);
        }
        progress.accept(bytesDone.get());
        return report((System.nanoTime() - t0) / 1e9);
    }

    private record Work(byte[] buffer, int length) {
        static final Work END = new Work(new byte[0], 0);
    }

    private static int roundUp(int n, int unit) {
        return (n + unit - 1) / unit * unit;
    }

    private static final ThreadLocal<MessageDigest> SHA = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    });

    /** Counts the blocks of one buffer ({@code length} bytes of data, zero-padded to the largest size). */
    private void process(byte[] buf, int length) {
        int nBase = roundUp(length, sizes[sizes.length - 1]) / base;
        boolean[] zero = new boolean[nBase];
        byte[][] digest = new byte[nBase][];
        for (int i = 0; i < nBase; i++) {
            ByteBuffer blk = ByteBuffer.wrap(buf, i * base, base);
            zero[i] = ZeroBlocks.isZero(blk);
            if (!zero[i]) {
                Fingerprint fp = hasher.hash(blk);
                digest[i] = fp.bytes();
            }
        }
        for (int s = 0; s < sizes.length; s++) {
            int bs = sizes[s];
            int per = bs / base;
            int blocks = (length + bs - 1) / bs;
            long[] keys = new long[blocks];
            boolean[] data = new boolean[blocks];
            int zeros = 0;
            for (int j = 0; j < blocks; j++) {
                boolean allZero = true;
                for (int k = j * per; k < (j + 1) * per && allZero; k++) {
                    allZero = zero[k];
                }
                if (allZero) {
                    zeros++;
                    continue;
                }
                data[j] = true;
                if (per == 1) {
                    keys[j] = ByteBuffer.wrap(digest[j]).getLong();
                } else {
                    MessageDigest md = SHA.get();
                    for (int k = j * per; k < (j + 1) * per; k++) {
                        md.update(zero[k] ? zeroDigest : digest[k]);
                    }
                    keys[j] = ByteBuffer.wrap(md.digest()).getLong();
                }
            }
            logicalBlocks[s].add(blocks);
            zeroBlocks[s].add(zeros);
            int[] results = new int[blocks];
            FingerprintTable table = tables[s];
            synchronized (table) {
                for (int j = 0; j < blocks; j++) {
                    results[j] = data[j] ? table.add(keys[j]) : FingerprintTable.SKIPPED;
                }
            }
            int[] stored = new int[blocks];
            boolean any = false;
            for (int j = 0; j < blocks; j++) {
                if (results[j] == FingerprintTable.NEW) {
                    byte[] packed = compression.tryCompress(ByteBuffer.wrap(buf, j * bs, bs));
                    stored[j] = RecordFormat.HEADER + (packed != null ? packed.length : bs);
                    any = true;
                }
            }
            if (any) {
                synchronized (table) {
                    for (int j = 0; j < blocks; j++) {
                        if (stored[j] != 0) {
                            table.setStored(keys[j], stored[j]);
                        }
                    }
                }
            }
        }
    }

    private EstimateReport report(double seconds) {
        List<SizeEstimate> out = new ArrayList<>();
        long refMax = settings.referenceMaxCount();
        for (int s = 0; s < sizes.length; s++) {
            int bs = sizes[s];
            FingerprintTable table = tables[s];
            long scale = 1L << table.shift();
            // per refcount bucket b (refs in (2^(b-1), 2^b]): chunks, chunk stored bytes, references, referenced stored bytes
            long[][] buckets = new long[64][4];
            long[] totals = new long[3]; // distinct blocks, chunks, stored bytes
            table.forEach((refs, stored) -> {
                totals[0]++;
                long full = refs / refMax;
                long rest = refs % refMax;
                if (full > 0) {
                    addBucket(buckets, refMax, full, stored);
                }
                if (rest > 0) {
                    addBucket(buckets, rest, 1, stored);
                }
                long chunks = full + (rest > 0 ? 1 : 0);
                totals[1] += chunks;
                totals[2] += chunks * stored;
            });
            long logical = logicalBlocks[s].sum();
            long zeros = zeroBlocks[s].sum();
            long unique = totals[1] * scale;
            long stored = totals[2] * scale;
            long logicalBytes = logical * bs;
            long uniqueBytes = unique * bs;
            List<HistogramRow> rows = new ArrayList<>();
            for (int b = 0; b < 64; b++) {
                if (buckets[b][0] > 0) {
                    long min = b == 0 ? 1 : (1L << (b - 1)) + 1;
                    long max = 1L << b;
                    rows.add(new HistogramRow(min, max, buckets[b][0] * scale, buckets[b][0] * scale * bs,
                            buckets[b][1] * scale, buckets[b][2] * scale, buckets[b][2] * scale * bs,
                            buckets[b][3] * scale));
                }
            }
            double distinct = (double) totals[0] * scale;
            long metadata = Math.round(logical * METADATA_PER_BLOCK + unique * METADATA_PER_CHUNK);
            out.add(new SizeEstimate(bs, logical, logicalBytes, zeros, unique, uniqueBytes, stored,
                    unique == 0 ? 1.0 : (double) logicalBytes / uniqueBytes,
                    unique == 0 ? 1.0 : (double) (logical - zeros) / unique,
                    stored == 0 ? 1.0 : (double) uniqueBytes / stored,
                    logicalBytes == 0 ? 0.0 : 100.0 * (1.0 - (double) stored / logicalBytes),
                    logicalBytes - stored, metadata, unique * DedupPool.FP_ENTRY_BYTES,
                    table.shift() == 0, scale, distinct * distinct / Math.pow(2, 65), rows));
        }
        Recommendation r = Recommendation.of(out);
        return new EstimateReport(source.describe(), source.size(), settings.compressionEnabled(),
                settings.compressionLevel(), settings.compressionThreshold(), refMax, seconds, out,
                r.blockSize(), r.text());
    }

    /** Adds {@code chunks} chunks of {@code refs} references each and {@code stored} record bytes each. */
    private static void addBucket(long[][] buckets, long refs, long chunks, int stored) {
        int b = refs == 1 ? 0 : 64 - Long.numberOfLeadingZeros(refs - 1);
        buckets[b][0] += chunks;
        buckets[b][1] += chunks * stored;
        buckets[b][2] += chunks * refs;
        buckets[b][3] += chunks * refs * stored;
    }
}
