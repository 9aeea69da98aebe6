package io.orion.dedup.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * A thin-provisioned {@link BlockDevice} in memory, for tests and scratch LUNs. Only written blocks
 * take memory; unmapped blocks read as zeros (LBPRZ, SBC-4 §4.7.4). A block written with all zeros
 * stays mapped, as on a real thin device; UNMAP and WRITE SAME with UNMAP deallocate.
 *
 * <p>Concurrency: every data call takes an {@link LbaRangeLock} on its blocks, which makes
 * {@link #compareAndWrite} atomic against overlapping reads and writes.
 */
public final class RamBlockDevice implements BlockDevice {

    private final int blockSize;
    private volatile long blockCount;
    private final ConcurrentMap<Long, byte[]> blocks = new ConcurrentHashMap<>();
    private final LbaRangeLock locks = new LbaRangeLock();
    private final String uuid = UUID.randomUUID().toString();

    public RamBlockDevice(int blockSize, long blockCount) {
        if (blockSize != 512 && blockSize != 4096) {
            throw new IllegalArgumentException("block size must be 512 or 4096: " + blockSize);
        }
        if (blockCount < 1) {
            throw new IllegalArgumentException("block count must be positive: " + blockCount);
        }
        this.blockSize = blockSize;
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

    /** Number of blocks that currently hold data. */
    public long mappedBlocks() {
        return blocks.size();
    }

    @Override
    public void read(long lba, ByteBuffer dst) throws IOException {
        int n = dst.remaining() / blockSize;
        try (LbaRangeLock.Range r = locks.lock(lba, n)) {
            readUnlocked(lba, dst, n);
        }
    }

    private void readUnlocked(long lba, ByteBuffer dst, int n) {
        byte[] zeros = null;
        for (int i = 0; i < n; i++) {
            byte[] b = blocks.get(lba + i);
            if (b == null) {
                if (zeros == null) {
                    zeros = new byte[blockSize];
                }
                b = zeros;
            }
            dst.put(b);
        }
    }

    @Override
    public void write(long lba, ByteBuffer src, boolean fua) throws IOException {
        int n = src.remaining() / blockSize;
        try (LbaRangeLock.Range r = locks.lock(lba, n)) {
            writeUnlocked(lba, src, n);
        }
    }

    private void writeUnlocked(long lba, ByteBuffer src, int n) {
        for (int i = 0; i < n; i++) {
            byte[] b = new byte[blockSize];
            src.get(b);
            blocks.put(lba + i, b);
        }
    }

    @Override
    public void flush() {
        // Memory is as durable as this device gets.
    }

    @Override
    public void unmap(long lba, long count) throws IOException {
        try (LbaRangeLock.Range r = locks.lock(lba, count)) {
            for (long i = 0; i < count; i++) {
                blocks.remove(lba + i);
            }
        }
    }

    @Override
    public void writeSame(long lba, long count, ByteBuffer pattern, boolean unmap) throws IOException {
        byte[] p = new byte[blockSize];
        pattern.get(p);
        boolean zero = isZero(p);
        try (LbaRangeLock.Range r = locks.lock(lba, count)) {
            for (long i = 0; i < count; i++) {
                if (unmap && zero) {
                    blocks.remove(lba + i);
                } else {
                    blocks.put(lba + i, p.clone());
                }
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

    @Override
    public LbaStatus status(long lba, long maxBlocks) {
        boolean mapped = blocks.containsKey(lba);
        long end = Math.min(blockCount, lba + Math.max(1, maxBlocks));
        long n = 1;
        while (lba + n < end && blocks.containsKey(lba + n) == mapped) {
            n++;
        }
        return new LbaStatus(lba, n, mapped);
    }

    @Override
    public synchronized void resize(long newBlockCount) {
        if (newBlockCount < 1) {
            throw new IllegalArgumentException("block count must be positive: " + newBlockCount);
        }
        if (newBlockCount < blockCount) {
            blocks.keySet().removeIf(k -> k >= newBlockCount);
        }
        blockCount = newBlockCount;
    }

    @Override
    public String uuid() {
        return uuid;
    }

    @Override
    public void close() {
        blocks.clear();
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
        int m = Arrays.mismatch(slice(a, n), slice(b, n));
        return m;
    }

    private static byte[] slice(ByteBuffer buf, int n) {
        byte[] out = new byte[n];
        buf.duplicate().get(out);
        return out;
    }
}
