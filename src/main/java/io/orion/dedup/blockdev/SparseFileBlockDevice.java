package io.orion.dedup.blockdev;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * A thin {@link BlockDevice} backed by a sparse file: block {@code n} lives at byte offset
 * {@code n × blockSize}. Never-written regions are holes and read as zeros.
 *
 * <p>Provisioning: Java cannot punch holes (fallocate) without native code, so UNMAP writes zeros
 * over the blocks that are not already zero (holes stay holes), and {@link #status} reports a block
 * as deallocated exactly when it reads as zeros — which is what an initiator can observe of a
 * thin LUN with LBPRZ set (SBC-4 §4.7.4.5).
 *
 * <p>Durability: writes go through the page cache; FUA and {@link #flush()} call
 * {@link FileChannel#force}. Identity: a random UUID is stored beside the file in
 * {@code <file>.uuid} when the device is first created and read back on every open.
 *
 * <p>Concurrency: positional I/O on one channel; an {@link LbaRangeLock} makes every data call
 * atomic per range, which {@link #compareAndWrite} needs.
 */
public final class SparseFileBlockDevice implements BlockDevice {

    private static final int SCAN_CHUNK_BLOCKS = 256;

    private final Path file;
    private final FileChannel channel;
    private final int blockSize;
    private volatile long blockCount;
    private final String uuid;
    private final LbaRangeLock locks = new LbaRangeLock();

    private SparseFileBlockDevice(Path file, FileChannel channel, int blockSize, long blockCount, String uuid) {
        this.file = file;
        this.channel = channel;
        this.blockSize = blockSize;
        this.blockCount = blockCount;
        this.uuid = uuid;
    }

    /**
     * The image's file system is the store: what the LUN may still allocate is the smaller of its
     * capacity and the file system's usable space (how much of the sparse file is allocated is not
     * known to Java, so usage is reported as unknown).
     */
    @Override
    public Provisioning provisioning() throws IOException {
        long cap = blockCount * blockSize;
        long free = java.nio.file.Files.getFileStore(file.toAbsolutePath()).getUsableSpace();
        return new Provisioning(cap, -1, Math.min(cap, free), 0, true);
    }

    /**
     * Opens (creating if needed) {@code file} as a device of {@code blockCount} blocks. An existing
     * file keeps its data and identity; its length is set to the requested capacity.
     */
    public static SparseFileBlockDevice open(Path file, int blockSize, long blockCount) throws IOException {
        if (blockSize != 512 && blockSize != 4096) {
            throw new IllegalArgumentException("block size must be 512 or 4096: " + blockSize);
        }
        if (blockCount < 1) {
            throw new IllegalArgumentException("block count must be positive: " + blockCount);
        }
        Path abs = file.toAbsolutePath();
        if (abs.getParent() != null) {
            PrivateFiles.createDirectories(abs.getParent());
        }
        String id = loadOrCreateUuid(uuidPath(abs));
        FileChannel ch = PrivateFiles.open(abs, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            long want = Math.multiplyExact(blockCount, (long) blockSize);
            if (ch.size() != want) {
                setLength(ch, want);
                ch.force(true);
            }
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return new SparseFileBlockDevice(abs, ch, blockSize, blockCount, id);
    }

    private static Path uuidPath(Path file) {
        return file.resolveSibling(file.getFileName() + ".uuid");
    }

    private static String loadOrCreateUuid(Path idFile) throws IOException {
        if (Files.exists(idFile)) {
            String s = Files.readString(idFile, StandardCharsets.US_ASCII).trim();
            UUID.fromString(s);
            return s;
        }
        String s = UUID.randomUUID().toString();
        Path tmp = idFile.resolveSibling(idFile.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.wrap((s + "\n").getBytes(StandardCharsets.US_ASCII)));
            ch.force(true);
        }
        try {
            Files.move(tmp, idFile, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, idFile, StandardCopyOption.REPLACE_EXISTING);
        }
        return s;
    }

    private static void setLength(FileChannel ch, long want) throws IOException {
        if (ch.size() > want) {
            ch.truncate(want);
        } else if (ch.size() < want) {
            ch.write(ByteBuffer.allocate(1), want - 1);
        }
    }

    /** The backing file. */
    public Path file() {
        return file;
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

    @Override
    public void read(long lba, ByteBuffer dst) throws IOException {
        int n = dst.remaining() / blockSize;
        try (LbaRangeLock.Range r = locks.lock(lba, n)) {
            readFully(lba, dst);
        }
    }

    private void readFully(long lba, ByteBuffer dst) throws IOException {
        long pos = lba * blockSize;
        while (dst.hasRemaining()) {
            int got = channel.read(dst, pos);
            if (got < 0) {
                throw new IOException("short read at byte " + pos + " of " + file);
            }
            pos += got;
        }
    }

    private void writeFully(long lba, ByteBuffer src) throws IOException {
        long pos = lba * blockSize;
        while (src.hasRemaining()) {
            pos += channel.write(src, pos);
        }
    }

    @Override
    public void write(long lba, ByteBuffer src, boolean fua) throws IOException {
        int n = src.remaining() / blockSize;
        try (LbaRangeLock.Range r = locks.lock(lba, n)) {
            writeFully(lba, src);
        }
        if (fua) {
            channel.force(false);
        }
    }

    @Override
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public void unmap(long lba, long count) throws IOException {
        try (LbaRangeLock.Range r = locks.lock(lba, count)) {
            fillUnlocked(lba, count, new byte[blockSize], true);
        }
    }

    /** Writes {@code pattern} to each block; with {@code skipEqual} leaves blocks already equal to it. */
    private void fillUnlocked(long lba, long count, byte[] pattern, boolean skipEqual) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocate(SCAN_CHUNK_BLOCKS * blockSize);
        long done = 0;
        while (done < count) {
            int n = (int) Math.min(SCAN_CHUNK_BLOCKS, count - done);
            long at = lba + done;
            if (skipEqual) {
                chunk.clear().limit(n * blockSize);
                readFully(at, chunk);
                for (int i = 0; i < n; i++) {
                    if (!blockEquals(chunk, i * blockSize, pattern)) {
                        writeFully(at + i, ByteBuffer.wrap(pattern));
                    }
                }
            } else {
                chunk.clear().limit(n * blockSize);
                for (int i = 0; i < n; i++) {
                    chunk.put(pattern);
                }
                chunk.flip();
                writeFully(at, chunk);
            }
            done += n;
        }
    }

    private boolean blockEquals(ByteBuffer buf, int off, byte[] pattern) {
        for (int i = 0; i < blockSize; i++) {
            if (buf.get(off + i) != pattern[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void writeSame(long lba, long count, ByteBuffer pattern, boolean unmap) throws IOException {
        byte[] p = new byte[blockSize];
        pattern.get(p);
        boolean zero = RamBlockDevice.isZero(p);
        try (LbaRangeLock.Range r = locks.lock(lba, count)) {
            fillUnlocked(lba, count, p, zero);
        }
    }

    @Override
    public long compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data, boolean fua) throws IOException {
        int n = expected.remaining() / blockSize;
        try (LbaRangeLock.Range r = locks.lock(lba, n)) {
            ByteBuffer current = ByteBuffer.allocate(n * blockSize);
            readFully(lba, current);
            current.flip();
            long mismatch = RamBlockDevice.firstMismatch(current, expected);
            if (mismatch >= 0) {
                return mismatch;
            }
            writeFully(lba, data);
        }
        if (fua) {
            channel.force(false);
        }
        return -1;
    }

    @Override
    public LbaStatus status(long lba, long maxBlocks) throws IOException {
        long end = Math.min(blockCount, lba + Math.max(1, maxBlocks));
        ByteBuffer chunk = ByteBuffer.allocate(SCAN_CHUNK_BLOCKS * blockSize);
        byte[] zero = new byte[blockSize];
        Boolean mapped = null;
        long at = lba;
        while (at < end) {
            int n = (int) Math.min(SCAN_CHUNK_BLOCKS, end - at);
            chunk.clear().limit(n * blockSize);
            readFully(at, chunk);
            for (int i = 0; i < n; i++) {
                boolean m = !blockEquals(chunk, i * blockSize, zero);
                if (mapped == null) {
                    mapped = m;
                } else if (m != mapped) {
                    return new LbaStatus(lba, at + i - lba, mapped);
                }
            }
            at += n;
        }
        return new LbaStatus(lba, end - lba, mapped != null && mapped);
    }

    @Override
    public synchronized void resize(long newBlockCount) throws IOException {
        if (newBlockCount < 1) {
            throw new IllegalArgumentException("block count must be positive: " + newBlockCount);
        }
        setLength(channel, Math.multiplyExact(newBlockCount, (long) blockSize));
        channel.force(true);
        blockCount = newBlockCount;
    }

    @Override
    public String uuid() {
        return uuid;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
