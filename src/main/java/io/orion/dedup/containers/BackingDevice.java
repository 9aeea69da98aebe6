package io.orion.dedup.containers;

import io.orion.dedup.blockdev.DeviceWaits;
import io.orion.dedup.blockdev.PrivateFiles;
import java.io.Closeable;
import java.io.EOFException;
import io.orion.dedup.blockdev.OutOfSpaceException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.TreeSet;

/**
 * One backing device of a pool: a plain file or a raw block device, used with positional I/O
 * ({@code pread}/{@code pwrite}) and {@code fdatasync}. The device is cut into equal container
 * slots; slot {@code i} spans {@code [i * slotSize, (i + 1) * slotSize)}. The device tracks which
 * slots are in use; freed slots are reused lowest first, and a plain file is truncated when its
 * top slots become free, so the file shrinks.
 *
 * <p>Threads: reads, writes and {@link #force()} may run concurrently (positional channel I/O is
 * thread-safe); slot allocation is guarded by this object's monitor.
 */
public final class BackingDevice implements Closeable {
    private final int index;
    private final Path path;
    private final FileChannel channel;
    private final boolean regularFile;
    private final long slotSize;
    private final long maxSlots;
    private final TreeSet<Integer> freeBelowTop = new TreeSet<>();
    private int top;
    /** False once allocation ({@link #allocate}) turned out unavailable here: nothing is preallocated. */
    private volatile boolean preallocates;
    /** The pool whose label this device carries at byte 0 once {@link #label} was called, else null. */
    private java.util.UUID labelPool;
    /** The first failed {@link #force()}: every later one fails with it. */
    private volatile IOException forceFailure;
    /** Faults a test injects ({@link #injectFaults}); none in production. */
    private volatile DeviceFaults faults = DeviceFaults.NONE;
    /** How long a device counts as slow after one of its reads or writes was ({@link #slowLately}). */
    public static final long SLOW_LATELY_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    /** When a read or write of this device last took {@link DeviceWaits#SLOW_NANOS} or more. */
    private volatile long slowTransferAt;
    private volatile boolean slowTransferSeen;

    private BackingDevice(int index, Path path, FileChannel channel, boolean regularFile, long slotSize,
                          long capacity) {
        this.index = index;
        this.path = path;
        this.channel = channel;
        this.regularFile = regularFile;
        this.slotSize = slotSize;
        this.preallocates = regularFile;
        this.maxSlots = capacity == Long.MAX_VALUE ? Integer.MAX_VALUE : Math.min(Integer.MAX_VALUE, capacity / slotSize);
    }

    /** Opens (creating a plain file if absent) the device described by {@code spec}. */
    public static BackingDevice open(int index, DeviceSpec spec, long slotSize) throws IOException {
        Path p = spec.path();
        boolean exists = Files.exists(p);
        boolean regular = !exists || Files.isRegularFile(p);
        if (!exists) {
            Path parent = p.toAbsolutePath().getParent();
            if (parent != null) {
                PrivateFiles.createDirectories(parent);
            }
        }
        FileChannel ch = regular
                ? PrivateFiles.open(p, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
        // an interrupted thread must not close the device for everyone (and fail its fsync)
        io.orion.dedup.blockdev.UninterruptibleChannels.apply(ch);
        long capacity;
        if (regular) {
            capacity = spec.sizeLimit() > 0 ? spec.sizeLimit() : Long.MAX_VALUE;
        } else {
            long size = blockDeviceSize(p);
            if (size <= 0 && spec.sizeLimit() <= 0) {
                ch.close();
                throw new IOException("cannot determine the size of block device " + p + "; give it a size limit");
            }
            capacity = size <= 0 ? spec.sizeLimit() : (spec.sizeLimit() > 0 ? Math.min(size, spec.sizeLimit()) : size);
        }
        if (capacity < slotSize) {
            ch.close();
            throw new IOException("backing device " + p + " holds less than one container slot (" + slotSize + " bytes)");
        }
        return new BackingDevice(index, p, ch, regular, slotSize, capacity);
    }

    private static long blockDeviceSize(Path p) {
        try {
            Path real = p.toRealPath();
            Path sys = Path.of("/sys/class/block", real.getFileName().toString(), "size");
            if (Files.exists(sys)) {
                return Long.parseLong(Files.readString(sys).trim()) * 512L;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    public int index() {
        return index;
    }

    public Path path() {
        return path;
    }

    public boolean regularFile() {
        return regularFile;
    }

    public long slotSize() {
        return slotSize;
    }

    /** Capacity in bytes the pool may use on this device ({@code Long.MAX_VALUE}-like when unlimited). */
    public long capacityBytes() {
        return maxSlots == Integer.MAX_VALUE ? Long.MAX_VALUE : maxSlots * slotSize;
    }

    /** Byte offset of a slot's first byte. */
    public long slotBase(int slot) {
        return slot * slotSize;
    }

    /** Marks a slot as used while loading existing containers. */
    public synchronized void markUsed(int slot) {
        if (slot >= top) {
            for (int s = top; s < slot; s++) {
                freeBelowTop.add(s);
            }
            top = slot + 1;
        } else {
            freeBelowTop.remove(slot);
        }
    }

    /** Allocates the lowest free slot, or returns -1 when the device is full. */
    public synchronized int allocateSlot() {
        Integer low = freeBelowTop.pollFirst();
        if (low != null) {
            return low;
        }
        if (top >= maxSlots) {
            return -1;
        }
        return top++;
    }

    /**
     * Returns a slot; a plain file is truncated past its highest used slot, and a freed slot below
     * it has its blocks punched out (given back to the file system).
     */
    public synchronized void freeSlot(int slot) throws IOException {
        freeBelowTop.add(slot);
        while (top > 0 && freeBelowTop.contains(top - 1)) {
            freeBelowTop.remove(top - 1);
            top--;
        }
        if (regularFile) {
            long keep = top * slotSize;
            if (channel.size() > keep) {
                channel.truncate(keep);
            }
            if (slot < top) {
                // below the top the slot keeps its place; its blocks go back to the file system
                HolePunch.punch(path, slotBase(slot), slotSize);
            }
        }
        if (labelPool != null && (slot == 0 || top == 0)) {
            writeLabel(); // slot 0 holds no container now (freed, or the file cut back to nothing)
        }
    }

    /**
     * Makes this device carry the label of device {@link #index()} of {@code pool} (docs/on-disk-format.md,
     * "Device label"): the slot header at byte 0. A container in slot 0 carries it in its own header;
     * while slot 0 holds none (now, or after it is freed) a label-only header (container id 0) is
     * written there. Call after the pool's containers are loaded.
     */
    public synchronized void label(java.util.UUID pool) throws IOException {
        labelPool = pool;
        if (top == 0 || freeBelowTop.contains(0)) {
            writeLabel();
        }
    }

    /**
     * Cuts a plain file back to its highest used slot: the bytes past it belong to no container the
     * metadata knows (containers whose metadata never committed, or that a restored backup does not
     * know), so they are free. Call after the pool's containers are loaded.
     *
     * @return bytes cut
     */
    public synchronized long trimPastTop() throws IOException {
        long keep = top * slotSize;
        long size = channel.size();
        if (!regularFile || size <= keep) {
            return 0;
        }
        channel.truncate(keep);
        return size - keep;
    }

    private void writeLabel() throws IOException {
        write(SlotHeader.encode(0, 0, index, labelPool), 0);
    }

    public synchronized int usedSlots() {
        return top - freeBelowTop.size();
    }

    public synchronized long freeSlots() {
        return maxSlots == Integer.MAX_VALUE ? Long.MAX_VALUE : (maxSlots - top) + freeBelowTop.size();
    }

    /**
     * Writes all of {@code src} at {@code pos}. A full file system (ENOSPC, EDQUOT) is reported as
     * {@link OutOfSpaceException} naming the device, so the initiator gets DATA PROTECT, SPACE
     * ALLOCATION FAILED WRITE PROTECT rather than a MEDIUM ERROR.
     */
    public void write(ByteBuffer src, long pos) throws IOException {
        long t0 = System.nanoTime();
        boolean waits = DeviceWaits.begin();
        try {
            faults.before(DeviceFaults.Op.WRITE, pos, src.remaining());
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
        } catch (IOException e) {
            if (!(e instanceof OutOfSpaceException) && OutOfSpaceException.isNoSpace(e)) {
                throw new OutOfSpaceException("backing device " + path + ": " + e.getMessage(), e);
            }
            throw e;
        } finally {
            DeviceWaits.end(waits);
            noteTransfer(t0);
        }
    }

    /**
     * Makes sure the blocks of {@code [pos, pos + length)} are allocated, so that writes there
     * cannot fail for want of space (a plain file on a file system that can preallocate; the file
     * grows to cover the range). A raw block device has all its blocks: nothing to do.
     *
     * @return true when the range is allocated now (or needs no allocation), false when this
     *     device cannot preallocate (writes may still find the file system full)
     * @throws OutOfSpaceException when the file system has no room for the range
     */
    public boolean allocate(long pos, long length) throws OutOfSpaceException {
        if (!regularFile) {
            return true;
        }
        if (!preallocates) {
            return false;
        }
        if (length <= 0) {
            return true;
        }
        int r = HolePunch.allocate(path, pos, length);
        if (r == 0) {
            return true;
        }
        if (r == HolePunch.ENOSPC || r == HolePunch.EDQUOT) {
            throw new OutOfSpaceException("backing device " + path + ": No space left on device (allocating "
                    + length + " bytes at " + pos + ")");
        }
        preallocates = false;
        org.slf4j.LoggerFactory.getLogger(BackingDevice.class).warn(
                "{}: the file system cannot preallocate (fallocate): no journal reserve is kept on this device", path);
        return false;
    }

    /**
     * Gives back the blocks of slot {@code slot} from byte {@code from} (slot-relative) on: the top
     * slot of a plain file is cut there, a slot below it has the whole pages past {@code from}
     * punched out. Used at close for the blocks {@link #allocate} took ahead of a container's end.
     */
    public synchronized void releaseTail(int slot, long from) throws IOException {
        if (!regularFile) {
            return;
        }
        long at = slotBase(slot) + from;
        if (slot == top - 1) {
            truncate(at);
        } else if (slot < top) {
            long page = (at + 4095) & ~4095L;
            long to = slotBase(slot) + slotSize;
            if (page < to) {
                HolePunch.punch(path, page, to - page);
            }
        }
    }

    /** True while this device preallocates the journal reserve ({@link #allocate}). */
    public boolean preallocates() {
        return !regularFile || preallocates;
    }

    /** Fills {@code dst} from {@code pos}; throws {@link EOFException} when the device ends first. */
    public void read(ByteBuffer dst, long pos) throws IOException {
        long t0 = System.nanoTime();
        boolean waits = DeviceWaits.begin();
        try {
            faults.before(DeviceFaults.Op.READ, pos, dst.remaining());
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) {
                    throw new EOFException(path + " ends at " + pos + " (data truncated)");
                }
                pos += n;
            }
        } finally {
            DeviceWaits.end(waits);
            noteTransfer(t0);
        }
    }

    private void noteTransfer(long t0) {
        long now = System.nanoTime();
        if (now - t0 >= DeviceWaits.SLOW_NANOS) {
            slowTransferAt = now;
            slowTransferSeen = true;
        }
    }

    /**
     * True if a read or write of this device took {@link DeviceWaits#SLOW_NANOS} or more within the
     * last {@link #SLOW_LATELY_NANOS} (a slow or failing disk; an fsync's time, which grows with
     * the data it flushes, does not count).
     */
    public boolean slowLately() {
        return slowTransferSeen && System.nanoTime() - slowTransferAt < SLOW_LATELY_NANOS;
    }

    /** Current length of the file (for a block device: whatever the channel reports). */
    public long length() throws IOException {
        return channel.size();
    }

    /** Truncates a plain file to {@code size} if it is longer; no-op on block devices. */
    public void truncate(long size) throws IOException {
        if (regularFile && channel.size() > size) {
            channel.truncate(size);
        }
    }

    /**
     * Makes every completed write durable ({@code fdatasync}). Once one failed, every later call
     * fails with it: after a failed fsync the kernel may have dropped the pages it could not write
     * and the next fsync reports success, so no later flush may vouch for the writes the failed one
     * covered (until the device is opened again, at a restart).
     */
    public void force() throws IOException {
        // one fsync at a time, the failure checked and set under the same lock: Linux reports a
        // writeback error to only one of several fsyncs running together on a file, so an fsync
        // beside the one that got the error could return success before the failure was noted
        // (several threads flush at once since flushes run on their callers' threads)
        synchronized (forceLock) {
            IOException failed = forceFailure;
            if (failed != null) {
                throw new IOException("an earlier fsync of " + path + " failed (" + failed.getMessage()
                        + "): no later flush can make up for it until a restart", failed);
            }
            boolean waits = DeviceWaits.begin();
            try {
                faults.before(DeviceFaults.Op.FORCE, 0, 0);
                channel.force(false);
            } catch (IOException | RuntimeException e) {
                forceFailure = e instanceof IOException io ? io : new IOException(e);
                throw e;
            } finally {
                DeviceWaits.end(waits);
            }
        }
    }

    private final Object forceLock = new Object();

    /**
     * Tests only: from now on every read, write and force first asks {@code f} (which may fail or
     * delay it, as a failing or slow disk would); {@link DeviceFaults#NONE} clears them.
     */
    public void injectFaults(DeviceFaults f) {
        this.faults = f == null ? DeviceFaults.NONE : f;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
