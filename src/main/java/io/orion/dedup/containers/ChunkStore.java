package io.orion.dedup.containers;

import io.orion.dedup.blockdev.ChecksumMismatchException;
import io.orion.dedup.blockdev.OutOfSpaceException;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chunk store: append-only containers on one or more backing devices.
 *
 * <p>Writers call {@link #append} from any thread: the store picks a device round-robin (so new
 * unique chunks spread over the devices), reserves bytes in that device's open container under a
 * per-device lock, and writes the record with one positional write outside the lock. When a record
 * does not fit, the open container is sealed and a new one opened in the device's lowest free slot.
 * Reads are positional and lock-free. Slots are freed only by garbage collection, after the
 * metadata that stops referencing them is durable.
 */
public final class ChunkStore implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(ChunkStore.class);

    private final List<BackingDevice> devices;
    private final Container[] open;
    private final long slotSize;
    private final UUID pool;
    private final ConcurrentHashMap<Integer, Container> containers = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Container> created = new ConcurrentLinkedQueue<>();
    private final AtomicInteger nextContainerId;
    private final AtomicInteger roundRobin = new AtomicInteger();

    public ChunkStore(List<BackingDevice> devices, long slotSize, UUID pool, int nextContainerId) {
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("a pool needs at least one backing device");
        }
        this.devices = List.copyOf(devices);
        this.open = new Container[devices.size()];
        this.slotSize = slotSize;
        this.pool = pool;
        this.nextContainerId = new AtomicInteger(Math.max(1, nextContainerId));
    }

    public List<BackingDevice> devices() {
        return devices;
    }

    public long slotSize() {
        return slotSize;
    }

    /** Next container id to hand out (persisted by the committer with every commit). */
    public int nextContainerId() {
        return nextContainerId.get();
    }

    /**
     * Registers a container recorded in the metadata. Open containers get their tail checked:
     * bytes after the committed end (records whose metadata never committed, or a torn write) are
     * cut, and the container is sealed so new records go to a fresh container.
     *
     * @return bytes cut from the tail
     */
    public long load(int id, int deviceIndex, int slot, boolean sealed, long committedEnd, long liveBytes,
                     long liveCount, long records) throws IOException {
        return load(id, deviceIndex, slot, sealed, committedEnd, liveBytes, liveCount, records, 0);
    }

    /** As {@link #load(int, int, int, boolean, long, long, long, long)} with the container's journal bytes. */
    public long load(int id, int deviceIndex, int slot, boolean sealed, long committedEnd, long liveBytes,
                     long liveCount, long records, long journalBytes) throws IOException {
        if (deviceIndex < 0 || deviceIndex >= devices.size()) {
            throw new IOException("container " + id + " lives on device #" + deviceIndex
                    + " but the pool is configured with " + devices.size() + " device(s)");
        }
        BackingDevice dev = devices.get(deviceIndex);
        dev.markUsed(slot);
        Container c = new Container(id, dev, slot, committedEnd, true);
        c.restore(committedEnd, liveBytes, liveCount, records, journalBytes);
        containers.put(id, c);
        if (id >= nextContainerId.get()) {
            nextContainerId.set(id + 1);
        }
        long base = dev.slotBase(slot);
        long fileLength = dev.regularFile() ? dev.length() : Long.MAX_VALUE;
        if (fileLength < base + committedEnd) {
            String why = "container " + id + " on " + dev.path() + " is truncated: needs " + (base + committedEnd)
                    + " bytes, device has " + fileLength;
            c.damage(why);
            LOG.error("{}; its chunks will fail their reads with MEDIUM ERROR", why);
            return 0;
        }
        ByteBuffer hdr = ByteBuffer.allocate(SlotHeader.SIZE);
        dev.read(hdr, base);
        hdr.flip();
        String bad = SlotHeader.check(hdr, id, pool);
        if (bad != null) {
            c.damage("container " + id + ": " + bad);
            LOG.error("container {} on {}: {}", id, dev.path(), bad);
            if (!sealed) {
                created.add(c);
            }
            return 0; // not this container's slot, or a damaged one: nothing is cut or zeroed there
        }
        if (sealed) {
            // a container sealed in memory (full) before the records it took last were committed:
            // those records lie right at its committed end. Cut them too (their chunk ids and
            // journal sequence numbers were never committed and will be handed out again).
            if (!zeroAt(c, base, fileLength)) {
                return cutTail(c, base, fileLength);
            }
            return 0;
        }
        created.add(c);
        return cutTail(c, base, fileLength);
    }

    /** True when the first bytes after a container's committed end are zeros (or past the device's end). */
    private boolean zeroAt(Container c, long base, long fileLength) throws IOException {
        long end = c.committedEnd();
        long limit = Math.min(slotSize, fileLength == Long.MAX_VALUE ? slotSize : fileLength - base);
        int n = (int) Math.min(4096, limit - end);
        if (n <= 0) {
            return true;
        }
        ByteBuffer buf = ByteBuffer.allocate(n);
        c.device().read(buf, base + end);
        buf.flip();
        while (buf.hasRemaining()) {
            if (buf.get() != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Clears the slot headers of this pool found in slots no loaded container uses: containers
     * created by a run that ended before their first commit, or freed by cleanup just before a
     * crash. Their records were never committed (or are garbage), and a later run may hand out their
     * container ids again; clearing the headers keeps a rebuild from the devices ({@code recover})
     * from reading them. Called once at open, after {@link #load}, before the first append.
     *
     * @return the number of slot headers cleared
     */
    public int clearStaleSlots() throws IOException {
        int cleared = 0;
        for (BackingDevice dev : devices) {
            java.util.Set<Integer> used = new java.util.HashSet<>();
            for (Container c : containers.values()) {
                if (c.device() == dev) {
                    used.add(c.slot());
                }
            }
            long length = dev.length();
            long slots = (length + slotSize - 1) / slotSize;
            ByteBuffer hdr = ByteBuffer.allocate(SlotHeader.SIZE);
            for (int s = 0; s < slots; s++) {
                if (used.contains(s) || dev.slotBase(s) + SlotHeader.SIZE > length) {
                    continue;
                }
                hdr.clear();
                dev.read(hdr, dev.slotBase(s));
                hdr.flip();
                int id = hdr.getInt(8);
                if (s == 0 && id == 0) {
                    continue; // the device's label-only header (slot 0 holds no container)
                }
                if (SlotHeader.check(hdr, id, pool) == null) {
                    dev.write(ByteBuffer.allocate(SlotHeader.SIZE), dev.slotBase(s));
                    cleared++;
                    LOG.warn("slot {} of {}: cleared the header of container {}, which the metadata does not list",
                            s, dev.path(), id);
                }
            }
        }
        return cleared;
    }

    private long cutTail(Container c, long base, long fileLength) throws IOException {
        long end = c.committedEnd();
        long limit = Math.min(slotSize, fileLength == Long.MAX_VALUE ? slotSize : fileLength - base);
        if (limit <= end) {
            return 0;
        }
        long scan = end;
        long nonZero = -1;
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        while (scan < limit) {
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), limit - scan));
            c.device().read(buf, base + scan);
            buf.flip();
            for (int i = buf.limit() - 1; i >= 0; i--) {
                if (buf.get(i) != 0) {
                    nonZero = scan + i + 1;
                    break;
                }
            }
            scan += buf.limit();
        }
        if (nonZero <= end) {
            return 0;
        }
        long cut = nonZero - end;
        LOG.warn("container {} on {}: cut {} bytes after its committed end {} (uncommitted or torn records)",
                c.id(), c.device().path(), cut, end);
        if (c.device().regularFile() && fileLength <= base + slotSize) {
            c.device().truncate(base + end);
            return cut;
        }
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(cut, 1 << 20));
        long pos = end;
        while (pos < nonZero) {
            zeros.clear();
            zeros.limit((int) Math.min(zeros.capacity(), nonZero - pos));
            c.device().write(zeros, base + pos);
            pos += zeros.limit();
        }
        return cut;
    }

    /**
     * Appends one complete record and returns where it landed. The container's pending count is
     * raised; the committer lowers it (via {@link #release}) once the record's metadata committed.
     */
    public Location append(byte[] record, int length) throws IOException {
        return append(ByteBuffer.wrap(record, 0, length));
    }

    /** As {@link #append(byte[], int)} for the remaining bytes of {@code record} (position unchanged). */
    public Location append(ByteBuffer record) throws IOException {
        return append(record, false);
    }

    /**
     * Appends one journal record ({@link JournalFormat}): like a chunk record, but it may use the
     * last {@link #journalReserve()} bytes of a container that chunk records leave free, and the
     * {@link #journalReserve()} bytes kept allocated past the end of each open container, which
     * chunk records may not use either: a pool whose devices are full of chunks, or whose file
     * system is full, can still journal UNMAPs, deletions and cleanup (the operations that free
     * space). When even that room is gone the append fails with {@link OutOfSpaceException}.
     */
    public Location appendJournal(byte[] record) throws IOException {
        return append(ByteBuffer.wrap(record), true);
    }

    /**
     * Bytes at the end of each container that only journal records may use, and bytes kept
     * allocated on the file system past the end of each open container that only journal records
     * may use (see {@link #ensureAllocated}).
     */
    public long journalReserve() {
        return Math.min(64 * 1024, slotSize / 64);
    }

    /** How far ahead of what an append needs the blocks of an open container are allocated at once. */
    private long allocationStep() {
        return Math.min(1 << 20, slotSize / 16);
    }

    /**
     * Makes sure the first {@code need} bytes of container {@code c}'s slot are allocated on the
     * file system (a step ahead when it can, exactly {@code need} when the file system is nearly
     * full). Called under the device's monitor, before {@code c.end} moves, so a failed allocation
     * leaves no gap in the append stream.
     *
     * @throws OutOfSpaceException when the file system cannot give the space
     */
    private void ensureAllocated(Container c, long need) throws OutOfSpaceException {
        if (need <= c.allocatedTo) {
            return;
        }
        BackingDevice dev = c.device();
        long from = Math.max(c.allocatedTo, Math.min(c.end, need));
        long base = dev.slotBase(c.slot());
        long ahead = Math.min(slotSize, need + allocationStep());
        boolean done;
        try {
            done = dev.allocate(base + from, ahead - from);
        } catch (OutOfSpaceException e) {
            if (ahead == need) {
                throw e;
            }
            done = dev.allocate(base + from, need - from);
            ahead = need;
        }
        c.allocatedTo = done ? ahead : slotSize; // a device that cannot preallocate keeps no reserve
    }

    /** {@link #ensureAllocated} for the journal reserve after a journal append: best effort. */
    private void topUpReserve(Container c) {
        if (c.allocatedTo >= Math.min(slotSize, c.end + journalReserve())) {
            return;
        }
        try {
            ensureAllocated(c, Math.min(slotSize, c.end + journalReserve()));
        } catch (OutOfSpaceException e) {
            // still full: the rest of the reserve serves the next journal records
        }
    }

    private Location append(ByteBuffer record, boolean journal) throws IOException {
        int length = record.remaining();
        int n = devices.size();
        int start = Math.floorMod(roundRobin.getAndIncrement(), n);
        IOException last = null;
        for (int i = 0; i < n; i++) {
            int d = (start + i) % n;
            try {
                Location loc = tryAppend(d, record.duplicate(), length, journal);
                if (loc != null) {
                    return loc;
                }
            } catch (IOException e) {
                last = e;
                if (e instanceof OutOfSpaceException) {
                    LOG.debug("append to {} failed: {}", devices.get(d).path(), e.toString());
                } else {
                    LOG.warn("append to {} failed: {}", devices.get(d).path(), e.toString());
                }
            }
        }
        if (journal) {
            Location loc = appendToSpareRoom(record, length);
            if (loc != null) {
                return loc;
            }
        }
        if (last != null) {
            throw last;
        }
        throw new OutOfSpaceException("pool is full: no free container slot on any backing device");
    }

    /**
     * A journal record when no container is open and no slot is free: it goes into the room left at
     * the end of a sealed container (chunk records leave {@link #journalReserve()} bytes), newest
     * container first, never one cleanup chose to free.
     */
    private Location appendToSpareRoom(ByteBuffer record, int length) throws IOException {
        List<Container> all = new ArrayList<>(containers.values());
        all.sort((a, b) -> Integer.compare(b.id(), a.id()));
        for (Container c : all) {
            BackingDevice dev = c.device();
            long off;
            synchronized (dev) {
                if (c.condemned || c.holed || c.damage() != null || c.end + length > slotSize
                        || containers.get(c.id()) != c) {
                    continue;
                }
                try {
                    ensureAllocated(c, c.end + length);
                } catch (OutOfSpaceException e) {
                    continue; // its end is not allocated and the file system is full: another may be
                }
                off = c.end;
                c.end += length;
                c.pending.incrementAndGet();
            }
            try {
                dev.write(record.duplicate(), dev.slotBase(c.slot()) + off);
            } catch (IOException e) {
                c.pending.decrementAndGet();
                holed(devices.indexOf(dev), c, off, length, e);
                throw e;
            }
            return new Location(c.id(), (int) off, length);
        }
        return null;
    }

    /**
     * Marks a sealed container as about to be freed by cleanup, when no record is pending in it:
     * from then on nothing is appended to it. False (nothing marked) when records are pending.
     */
    public boolean condemn(Container c) {
        synchronized (c.device()) {
            if (c.pending() != 0 || !c.sealed()) {
                return false;
            }
            c.condemned = true;
            return true;
        }
    }

    /** Takes back {@link #condemn}: cleanup keeps the container after all. */
    public void spare(Container c) {
        c.condemned = false;
    }

    private Location tryAppend(int d, ByteBuffer record, int length, boolean journal) throws IOException {
        long limit = journal ? slotSize : slotSize - journalReserve();
        if (length > limit - SlotHeader.SIZE) {
            throw new IllegalArgumentException("record of " + length + " bytes exceeds the container size");
        }
        BackingDevice dev = devices.get(d);
        Container c;
        long off;
        synchronized (dev) {
            c = open[d];
            if (c == null || c.end + length > limit || (!journal && c.chunkFull)) {
                int slot = dev.allocateSlot();
                if (slot < 0) {
                    // no new slot: the open container stays open, so its journal reserve stays usable,
                    // but takes no chunk record any more (the pool is full for data)
                    if (c != null && !journal) {
                        c.chunkFull = true;
                    }
                    return null;
                }
                Container fresh = new Container(-1, dev, slot, 0, false); // from byte 0: the header too
                try {
                    // the header, this record and (for a chunk record) the journal reserve
                    ensureAllocated(fresh, SlotHeader.SIZE + length + (journal ? 0 : journalReserve()));
                } catch (OutOfSpaceException e) {
                    dev.freeSlot(slot);
                    throw e;
                }
                int id = nextContainerId.getAndIncrement();
                try {
                    dev.write(SlotHeader.encode(id, slot, d, pool), dev.slotBase(slot));
                } catch (IOException e) {
                    // the slot never became a container (a full file system, typically): give it back;
                    // the open container stays open
                    dev.freeSlot(slot);
                    throw e;
                }
                if (c != null) {
                    c.sealed = true;
                    created.add(c);
                }
                c = new Container(id, dev, slot, SlotHeader.SIZE, false);
                c.restore(SlotHeader.SIZE, 0, 0, 0);
                c.allocatedTo = fresh.allocatedTo;
                containers.put(id, c);
                created.add(c);
                open[d] = c;
            }
            // a chunk record leaves the journal reserve allocated past it; a journal record may use it
            ensureAllocated(c, c.end + length + (journal ? 0 : journalReserve()));
            off = c.end;
            c.end += length;
            c.pending.incrementAndGet();
            if (journal) {
                topUpReserve(c);
            }
        }
        try {
            dev.write(record, dev.slotBase(c.slot()) + off);
        } catch (IOException e) {
            c.pending.decrementAndGet();
            holed(d, c, off, length, e);
            throw e;
        }
        return new Location(c.id(), (int) off, length);
    }

    /**
     * A record of container {@code id} failed its check (damaged on the device): a walk of the
     * container ({@code recover}, cleanup) stops there as at a failed write's hole, so the container
     * takes no more records (sealed if it is the open one).
     */
    public void holed(int id) {
        Container c = containers.get(id);
        if (c == null) {
            return;
        }
        int d = devices.indexOf(c.device());
        synchronized (c.device()) {
            if (c.holed) {
                return;
            }
            c.holed = true;
            if (d >= 0 && open[d] == c) {
                c.sealed = true;
                created.add(c);
                open[d] = null;
            }
        }
        LOG.warn("container {} on {} holds a damaged record: sealed, later records go to another", id,
                c.device().path());
    }

    /**
     * After a failed record write at {@code [off, off + length)} of {@code c}: those bytes are a
     * hole (old or zero bytes, no valid record), and a walk of the container ({@code recover},
     * cleanup) stops there, so a record appended after it would be found by the metadata but never
     * by a walk. The container takes no more records: it is sealed when it was the open one, and no
     * journal record goes into its spare room.
     */
    private void holed(int d, Container c, long off, int length, IOException why) {
        BackingDevice dev = devices.get(d);
        synchronized (dev) {
            c.holed = true;
            if (open[d] == c) {
                c.sealed = true;
                created.add(c);
                open[d] = null;
            }
        }
        LOG.warn("container {} on {}: a record write at offset {} ({} bytes) failed ({}); the container is sealed,"
                + " later records go to another", c.id(), dev.path(), off, length, why.getMessage());
    }

    /** Lowers the pending count of the container that holds {@code loc}. */
    public void release(Location loc) {
        Container c = containers.get(loc.containerId());
        if (c != null) {
            c.pending.decrementAndGet();
        }
    }

    /** Containers created or sealed since the last call (the committer persists their state). */
    public List<Container> drainCreated() {
        List<Container> out = new ArrayList<>();
        Container c;
        while ((c = created.poll()) != null) {
            out.add(c);
        }
        return out;
    }

    /**
     * Reads the raw bytes of {@code length} bytes at {@code offset} in a container (one or more
     * adjacent records). A short device (truncated file) is reported as a checksum failure.
     */
    public ByteBuffer readRaw(int containerId, long offset, int length) throws IOException {
        Container c = containers.get(containerId);
        if (c == null) {
            throw new ChecksumMismatchException("container " + containerId + " does not exist");
        }
        ByteBuffer buf = ByteBuffer.allocate(length);
        try {
            c.device().read(buf, c.device().slotBase(c.slot()) + offset);
        } catch (EOFException e) {
            throw new ChecksumMismatchException("container " + containerId + ": " + e.getMessage());
        }
        buf.flip();
        return buf;
    }

    /** Fills {@code dst} (position to limit) from {@code offset} in a container. */
    public void readRawInto(int containerId, long offset, ByteBuffer dst) throws IOException {
        Container c = containers.get(containerId);
        if (c == null) {
            throw new ChecksumMismatchException("container " + containerId + " does not exist");
        }
        try {
            c.device().read(dst, c.device().slotBase(c.slot()) + offset);
        } catch (EOFException e) {
            throw new ChecksumMismatchException("container " + containerId + ": " + e.getMessage());
        }
    }

    public Container container(int id) {
        return containers.get(id);
    }

    public Collection<Container> containers() {
        return containers.values();
    }

    /** Forgets a container and returns its slot (after its metadata removal is durable). */
    public void free(int id) throws IOException {
        Container c = containers.remove(id);
        if (c == null) {
            return;
        }
        BackingDevice dev = c.device();
        synchronized (dev) {
            for (int d = 0; d < open.length; d++) {
                if (open[d] == c) {
                    open[d] = null;
                }
            }
            // the slot no longer holds a container: a rebuild from the devices must not find it
            dev.write(ByteBuffer.allocate(SlotHeader.SIZE), dev.slotBase(c.slot()));
            dev.freeSlot(c.slot());
        }
    }

    /** Seals one container: no more records are appended to it (new ones go to a fresh container). */
    public void seal(Container c) {
        BackingDevice dev = c.device();
        synchronized (dev) {
            for (int d = 0; d < open.length; d++) {
                if (open[d] == c) {
                    open[d] = null;
                }
            }
            c.sealed = true;
            created.add(c);
        }
    }

    /** Seals every open container (new records go to fresh containers). */
    public void sealAll() {
        for (int d = 0; d < open.length; d++) {
            synchronized (devices.get(d)) {
                if (open[d] != null) {
                    open[d].sealed = true;
                    created.add(open[d]);
                    open[d] = null;
                }
            }
        }
    }

    /** True if a read or write of any device was slow lately ({@link BackingDevice#slowLately}). */
    public boolean anyDeviceSlowLately() {
        for (BackingDevice d : devices) {
            if (d.slowLately()) {
                return true;
            }
        }
        return false;
    }

    /** Makes every completed write on every device durable. */
    public void forceAll() throws IOException {
        for (BackingDevice d : devices) {
            d.force();
        }
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        // the blocks preallocated past the containers' ends go back to the file system
        for (Container c : containers.values()) {
            synchronized (c.device()) {
                if (c.allocatedTo > c.end) {
                    try {
                        c.device().releaseTail(c.slot(), c.end);
                    } catch (IOException e) {
                        LOG.debug("cannot give back the preallocated tail of container {}: {}", c.id(), e.toString());
                    }
                    c.allocatedTo = c.end;
                }
            }
        }
        for (BackingDevice d : devices) {
            try {
                d.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
