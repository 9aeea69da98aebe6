package io.orion.dedup.blockdev;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A thin-provisioned {@link BlockDevice} in memory, for tests and scratch LUNs. Only written regions
 * take memory; unmapped blocks read as zeros (LBPRZ, SBC-4 §4.7.4). A block written with zeros stays
 * mapped, as on a real thin device; UNMAP and WRITE SAME with UNMAP deallocate.
 *
 * <p>Layout: 256 KiB chunks of direct (off-heap) memory, allocated on first write and freed when
 * their last block is unmapped, each with a bitmap of mapped blocks. Off-heap chunks keep large RAM
 * LUNs from turning into garbage-collector work.
 *
 * <p>Concurrency: every data call takes an {@link LbaRangeLock} on its blocks, which makes
 * {@link #compareAndWrite} atomic against overlapping reads and writes. Changes to one chunk's
 * bitmap and its allocation run inside {@link ConcurrentMap#compute} for that chunk; the bitmap
 * itself is guarded by the chunk's monitor.
 */
public final class RamBlockDevice implements BlockDevice {

    private static final int CHUNK_BYTES = 256 << 10;
    private static final byte[] ZEROS = new byte[CHUNK_BYTES];

    private final int blockSize;
    private final int chunkBlocks;
    private volatile long blockCount;
    private final ConcurrentMap<Long, Chunk> chunks = new ConcurrentHashMap<>();
    private final AtomicLong mapped = new AtomicLong();
    private final LbaRangeLock locks = new LbaRangeLock();
    private final String uuid = UUID.randomUUID().toString();

    /** One chunk: its bytes and which of its blocks are mapped. */
    private static final class Chunk {
        final ByteBuffer data;
        final long[] bits;
        int mappedCount;

        Chunk(int bytes, int blocks) {
            data = ByteBuffer.allocateDirect(bytes);
            bits = new long[(blocks + 63) / 64];
        }

        boolean isMapped(int i) {
            return (bits[i >>> 6] & (1L << i)) != 0;
        }

        /** Sets block i's mapped bit; returns +1, -1 or 0 as the mapped count changed. */
        int setMapped(int i, boolean on) {
            boolean was = isMapped(i);
            if (was == on) {
                return 0;
            }
            if (on) {
                bits[i >>> 6] |= 1L << i;
                mappedCount++;
                return 1;
            }
            bits[i >>> 6] &= ~(1L << i);
            mappedCount--;
            return -1;
        }
    }

    public RamBlockDevice(int blockSize, long blockCount) {
        if (blockSize != 512 && blockSize != 4096) {
            throw new IllegalArgumentException("block size must be 512 or 4096: " + blockSize);
        }
        if (blockCount < 1) {
            throw new IllegalArgumentException("block count must be positive: " + blockCount);
        }
        this.blockSize = blockSize;
        this.chunkBlocks = CHUNK_BYTES / blockSize;
        this.blockCount = blockCount;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public long blockCount() {
        return blockCount;
    }

    @Override
    public boolean thin() {
        return true;
    }

    /**
     * Atomic: a write copies its blocks under the range lock that every read and write of them
     * takes, so no reader sees part of it, and nothing of a RAM LUN survives a crash to be torn.
     */
    @Override
    public boolean atomicWrites() {
        return true;
    }

    /** Memory is the store: the capacity, the mapped blocks as used, no soft threshold. */
    @Override
    public Provisioning provisioning() {
        long cap = blockCount * blockSize;
        long used = mapped.get() * blockSize;
        return new Provisioning(cap, used, Math.max(0, cap - used), 0, true);
    }

    /** Number of blocks that currently hold data. */
    public long mappedBlocks() {
        return mapped.get();
    }

    @Override
    public void read(long lba, ByteBuffer dst) throws IOException {
        int n = dst.remaining() / blockSize;
        try (LbaRangeLock.Range r = locks.lock(lba, n)) {
            readUnlocked(lba, dst, n);
        }
    }

    /** One stretch of blocks inside one chunk: chunk index, first block in it, block count. */
    @FunctionalInterface
    private interface Piece {
        void visit(long idx, int first, int count);
    }

    /** Cuts {@code [lba, lba + n)} at chunk boundaries and visits the pieces in order. */
    private void pieces(long lba, long n, Piece piece) {
        long done = 0;
        while (done < n) {
            long at = lba + done;
            int first = (int) (at % chunkBlocks);
            int count = (int) Math.min(n - done, chunkBlocks - first);
            piece.visit(at / chunkBlocks, first, count);
            done += count;
        }
    }

    private void readUnlocked(long lba, ByteBuffer dst, int n) {
        pieces(lba, n, (idx, first, count) -> {
            int bytes = count * blockSize;
            Chunk c = chunks.get(idx);
            if (c == null) {
                dst.put(ZEROS, 0, bytes);
            } else {
                ByteBuffer from = c.data.duplicate();
                from.position(first * blockSize).limit(first * blockSize + bytes);
                dst.put(from);
            }
        });
    }

    @Override
    public void write(long lba, ByteBuffer src, boolean fua) throws IOException {
        int n = src.remaining() / blockSize;
        try (LbaRangeLock.Range r = locks.lock(lba, n)) {
            writeUnlocked(lba, src, n);
        }
    }

    private void writeUnlocked(long lba, ByteBuffer src, int n) {
        pieces(lba, n, (idx, first, count) -> {
            ByteBuffer part = src.slice();
            part.limit(count * blockSize);
            src.position(src.position() + count * blockSize);
            chunks.compute(idx, (k, c) -> {
                Chunk ch = c == null ? new Chunk(CHUNK_BYTES, chunkBlocks) : c;
                ByteBuffer to = ch.data.duplicate();
                to.position(first * blockSize);
                to.put(part);
                int delta = 0;
                synchronized (ch) {
                    for (int i = 0; i < count; i++) {
                        delta += ch.setMapped(first + i, true);
                    }
                }
                mapped.addAndGet(delta);
                return ch;
            });
        });
    }

    @Override
    public void flush() {
        // Memory is as durable as this device gets.
    }

    @Override
    public void unmap(long lba, long count) throws IOException {
        try (LbaRangeLock.Range r = locks.lock(lba, count)) {
            unmapUnlocked(lba, count);
        }
    }

    private void unmapUnlocked(long lba, long count) {
        pieces(lba, count, (idx, first, n) -> {
            chunks.computeIfPresent(idx, (k, c) -> {
                int delta = 0;
                boolean empty;
                synchronized (c) {
                    for (int i = 0; i < n; i++) {
                        delta += c.setMapped(first + i, false);
                    }
                    empty = c.mappedCount == 0;
                }
                mapped.addAndGet(delta);
                if (empty) {
                    return null;
                }
                ByteBuffer z = c.data.duplicate();
                z.position(first * blockSize);
                z.put(ZEROS, 0, n * blockSize);
                return c;
            });
        });
    }

    @Override
    public void writeSame(long lba, long count, ByteBuffer pattern, boolean unmap) throws IOException {
        byte[] p = new byte[blockSize];
        pattern.get(p);
        boolean zero = isZero(p);
        try (LbaRangeLock.Range r = locks.lock(lba, count)) {
            if (unmap && zero) {
                unmapUnlocked(lba, count);
                return;
            }
            int batch = chunkBlocks;
            ByteBuffer buf = ByteBuffer.allocate(batch * blockSize);
            for (int i = 0; i < batch; i++) {
                buf.put(p);
            }
            long done = 0;
            while (done < count) {
                int n = (int) Math.min(batch, count - done);
                buf.clear().limit(n * blockSize);
                writeUnlocked(lba + done, buf, n);
                done += n;
            }
        }
    }

    @Override
    public long compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data, boolean fua) throws IOException {
        int n = expected.remaining() / blockSize;
        try (LbaRangeLock.Range r = locks.lock(lba, n)) {
            ByteBuffer current = ByteBuffer.allocate(n * blockSize);
            readUnlocked(lba, current, n);
            current.flip();
            long mismatch = firstMismatch(current, expected);
            if (mismatch >= 0) {
                return mismatch;
            }
            writeUnlocked(lba, data, n);
            return -1;
        }
    }

    private boolean isMapped(long lba) {
        Chunk c = chunks.get(lba / chunkBlocks);
        if (c == null) {
            return false;
        }
        synchronized (c) {
            return c.isMapped((int) (lba % chunkBlocks));
        }
    }

    @Override
    public LbaStatus status(long lba, long maxBlocks) {
        boolean m = isMapped(lba);
        long end = Math.min(blockCount, lba + Math.max(1, maxBlocks));
        long n = 1;
        while (lba + n < end) {
            long at = lba + n;
            if (!m && at % chunkBlocks == 0 && !chunks.containsKey(at / chunkBlocks)) {
                n += Math.min(chunkBlocks, end - at);
                continue;
            }
            if (isMapped(at) != m) {
                break;
            }
            n++;
        }
        return new LbaStatus(lba, Math.min(n, end - lba), m);
    }

    @Override
    public synchronized void resize(long newBlockCount) throws IOException {
        if (newBlockCount < 1) {
            throw new IllegalArgumentException("block count must be positive: " + newBlockCount);
        }
        long old = blockCount;
        if (newBlockCount < old) {
            try (LbaRangeLock.Range r = locks.lock(newBlockCount, old - newBlockCount)) {
                unmapUnlocked(newBlockCount, old - newBlockCount);
            }
        }
        blockCount = newBlockCount;
    }

    @Override
    public String uuid() {
        return uuid;
    }

    @Override
    public void close() {
        chunks.clear();
        mapped.set(0);
    }

    static boolean isZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    /** Byte offset of the first difference between the remaining bytes of a and b, or -1. */
    static long firstMismatch(ByteBuffer a, ByteBuffer b) {
        int n = Math.min(a.remaining(), b.remaining());
        return Arrays.mismatch(slice(a, n), slice(b, n));
    }

    private static byte[] slice(ByteBuffer buf, int n) {
        byte[] out = new byte[n];
        buf.duplicate().get(out);
        return out;
    }
}
