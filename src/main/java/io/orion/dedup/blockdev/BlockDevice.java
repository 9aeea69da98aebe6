package io.orion.dedup.blockdev;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * The contract between the SCSI command layer and storage: a thin or thick array of fixed-size
 * logical blocks. Implemented by {@link RamBlockDevice}, {@link SparseFileBlockDevice} and the dedup
 * volume.
 *
 * <p>Threading: every method may be called concurrently from several I/O threads. Implementations
 * make {@link #compareAndWrite} atomic against every other mutating call that overlaps its blocks.
 *
 * <p>Buffers: {@code src}/{@code dst} are read or filled from their position to their limit; the
 * implementation may move their position. Lengths are always whole blocks; the caller (the SCSI
 * layer) has already range-checked every LBA against {@link #blockCount()}.
 *
 * <p>Durability: a write with {@code fua} is durable before the call returns; otherwise it is
 * durable after the next {@link #flush()} returns.
 */
public interface BlockDevice extends Closeable {

    /** Logical block size in bytes (512 or 4096). */
    int blockSize();

    /** Number of logical blocks (capacity). */
    long blockCount();

    /** True if the device is thin-provisioned: unmapped blocks take no space and read as zeros. */
    boolean thin();

    /**
     * The unit the device stores and deduplicates, in bytes: a multiple of {@link #blockSize()}
     * (READ CAPACITY(16) reports it as LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT; writes aligned to
     * it need no read-modify-write). The default is the logical block size.
     */
    default int physicalBlockSize() {
        return blockSize();
    }

    /**
     * True if every {@link #write} up to the maximum transfer length is atomic, also across a
     * crash: after it the blocks hold all old or all new data, never a mix, and no reader sees a
     * mix meanwhile. Only then does the SCSI layer offer WRITE ATOMIC(16) and report a MAXIMUM
     * ATOMIC TRANSFER LENGTH (VPD B0h). The default is false.
     */
    default boolean atomicWrites() {
        return false;
    }

    /**
     * The provisioning resources behind this device (the Logical Block Provisioning log page, the
     * soft threshold). The default: resources dedicated to the device, its whole capacity, usage
     * unknown, no threshold.
     */
    default Provisioning provisioning() throws IOException {
        long cap = blockCount() * blockSize();
        return new Provisioning(cap, -1, cap, 0, true);
    }

    /** Reads {@code dst.remaining() / blockSize()} blocks starting at {@code lba} into {@code dst}. */
    void read(long lba, ByteBuffer dst) throws IOException;

    /** Writes {@code src.remaining() / blockSize()} blocks starting at {@code lba}. */
    void write(long lba, ByteBuffer src, boolean fua) throws IOException;

    /**
     * {@link #write} that may complete later, on another thread: the returned future completes when
     * the write is complete (or fails with its {@link IOException}). The caller keeps {@code src}
     * unchanged until then. The default writes synchronously on the caller's thread.
     */
    default CompletableFuture<Void> writeAsync(long lba, ByteBuffer src, boolean fua) {
        return writeAsync(lba, src, fua, null);
    }

    /**
     * {@link #writeAsync(long, ByteBuffer, boolean)} run in {@code scope} (null: none), the {@link
     * IoBatch} scope of a burst of writes: the device may defer its metadata commit to the scope's
     * end, must run the scope's deferred actions before it waits for something, and in an {@link
     * IoBatch.Scope#inline() inline} scope must not wait at all ({@link IoBatch.Scope#handOff} the
     * write instead).
     */
    default CompletableFuture<Void> writeAsync(long lba, ByteBuffer src, boolean fua, IoBatch.Scope scope) {
        try {
            write(lba, src, fua);
            return CompletableFuture.completedFuture(null);
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * True when a non-FUA {@link #writeAsync} of {@code bytes} at {@code lba} cannot wait for
     * anything but short memory locks (it copies the data into memory or the page cache and leaves
     * its metadata to a commit that does not sync), so a transport may run it on its own thread
     * rather than hand it to an I/O thread. False by default.
     */
    default boolean quickWrite(long lba, long bytes) {
        return false;
    }

    /** Makes every previously completed write durable. */
    void flush() throws IOException;

    /** Deallocates blocks: afterwards they read as zeros. Thick devices write zeros. */
    void unmap(long lba, long blocks) throws IOException;

    /**
     * Writes {@code pattern} (exactly one block) to every block of the range. With {@code unmap}
     * set and an all-zero pattern, the device may deallocate instead of writing.
     */
    void writeSame(long lba, long blocks, ByteBuffer pattern, boolean unmap) throws IOException;

    /**
     * Atomically compares {@code expected} with the blocks at {@code lba}; if equal, writes
     * {@code data} (same length) there.
     *
     * @return -1 when the blocks matched and were written, else the byte offset of the first
     *     mismatching byte (nothing was written)
     */
    long compareAndWrite(long lba, ByteBuffer expected, ByteBuffer data, boolean fua) throws IOException;

    /**
     * Copies {@code blocks} blocks from {@code source} at {@code srcLba} to this device at
     * {@code dstLba}. Devices that can share data (dedup volumes of one pool) override this to copy
     * references instead of bytes. Source and destination may be the same device and may overlap.
     */
    default void copyFrom(BlockDevice source, long srcLba, long dstLba, long blocks) throws IOException {
        int bs = blockSize();
        long done = 0;
        int chunkBlocks = Math.max(1, (1 << 20) / bs);
        boolean backwards = source == this && srcLba < dstLba && dstLba < srcLba + blocks;
        while (done < blocks) {
            int n = (int) Math.min(chunkBlocks, blocks - done);
            long off = backwards ? blocks - done - n : done;
            ByteBuffer buf = ByteBuffer.allocate(n * bs);
            source.read(srcLba + off, buf);
            buf.flip();
            write(dstLba + off, buf, false);
            done += n;
        }
    }

    /**
     * Provisioning status of the extent that starts at {@code lba}: whether it is mapped, and how
     * many consecutive blocks (at least 1, at most {@code maxBlocks}) share that status.
     */
    LbaStatus status(long lba, long maxBlocks) throws IOException;

    /** Changes the capacity. Shrinking deallocates the blocks beyond the new end. */
    void resize(long newBlockCount) throws IOException;

    /** A stable identity for this device (used for the NAA designator and serial); never changes. */
    String uuid();
}
