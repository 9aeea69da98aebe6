package io.orion.dedup.dedup;

import io.orion.dedup.cache.CacheStats;
import io.orion.dedup.cache.WeightedCache;
import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.ContainerRecord;
import io.orion.dedup.meta.MetaCorruptException;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.meta.PoolCounters;
import io.orion.dedup.meta.VolumeRecord;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import io.orion.dedup.containers.BackingDevice;
import io.orion.dedup.containers.ChunkStore;
import io.orion.dedup.containers.Compression;
import io.orion.dedup.containers.Container;
import io.orion.dedup.containers.DeviceLabels;
import io.orion.dedup.containers.DeviceProbe;
import io.orion.dedup.containers.DeviceSpec;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A dedup pool: backing devices holding chunk containers, one LMDB metadata environment, caches,
 * and the volumes (LUNs) carved from it.
 *
 * <p>Threads: volume I/O runs on the callers' threads (hashing may fan out to the hasher's
 * threads); every metadata change goes through the single committer thread (group commit); a
 * scheduler thread runs garbage collection every {@code reference_cleanup_interval} seconds.
 * {@link #cleanup()} and {@link #verify()} may be called at any time while I/O continues.
 *
 * <p>Safety (ARCHITECTURE.md "Rules that keep data safe"): chunk records are written to the
 * device before the commit that references them; {@link #flush()} forces the devices, then syncs
 * LMDB; every record read is CRC-checked ({@link ChecksumMismatchException} otherwise); damaged
 * metadata turns the pool read-only with the reason ({@link #readOnlyReason()}).
 */
public final class DedupPool implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(DedupPool.class);
    /** Estimated heap bytes of one fingerprint-cache entry. */
    public static final int FP_ENTRY_BYTES = 96;

    private final PoolOptions options;
    private final MetaStore meta;
    private final ChunkStore store;
    private final UUID uuid;
    private final Compression compression;
    private final Hasher hasher;
    private final StripedLocks locks = new StripedLocks();
    private final WeightedCache<Long, byte[]> blockCache;
    private final ConcurrentHashMap<Integer, VolumeState> volumesById = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, DedupVolume> handles = new ConcurrentHashMap<>();
    private final ChunkIo chunks;
    private final DedupIndex index;
    private final Committer committer;
    private final GarbageCollector gc;
    private final VolumeCopies copies;
    /** Per-volume statistics with the commit generation they were computed under. */
    private final ConcurrentHashMap<Integer, CachedStats> statsCache = new ConcurrentHashMap<>();
    /** Block-map walks done for statistics (tests see the cache at work). */
    final java.util.concurrent.atomic.LongAdder statsWalks = new java.util.concurrent.atomic.LongAdder();

    private record CachedStats(long generation, VolumeStats stats) {
    }
    private final ScheduledExecutorService timer;
    /** Runs {@link #timedFlush()} (null with durable commits). */
    private final ScheduledExecutorService flushTimer;
    /** Leads the commits a waiting caller left queued when it stepped down (see Committer). */
    private final java.util.concurrent.ThreadPoolExecutor assist = new java.util.concurrent.ThreadPoolExecutor(
            0, 1, 30, TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
                Thread t = new Thread(r, "committer");
                t.setDaemon(true);
                return t;
            });
    private final OpenReport openReport;
    private final PoolHealth health;
    /** The pool's one-owner lock, released last at close. */
    private volatile PoolLock owner;

    private DedupPool(PoolOptions o, MetaStore meta, ChunkStore store, PoolCounters counters, List<VolumeRecord> vols,
                      OpenReport report, String readOnly) {
        this.options = o;
        this.meta = meta;
        this.store = store;
        this.uuid = counters.poolUuid();
        this.compression = new Compression(o.compressionEnabled(), o.compressionThreshold(), o.compressionLevel());
        this.hasher = new Hasher(Runtime.getRuntime().availableProcessors());
        this.index = new DedupIndex(meta, store, o.hashCacheSize());
        this.blockCache = new WeightedCache<>(o.cacheSize(), (k, v) -> v.length + 16);
        this.chunks = new ChunkIo(store, compression, blockCache, meta, this::checkAppendRoom,
                counters.nextChunkId());
        this.openReport = report;
        this.health = new PoolHealth(o.metadataDir(), readOnly);
        for (VolumeRecord v : vols) {
            volumesById.put(v.id(), new VolumeState(v));
        }
        this.committer = new Committer(o, meta, store, chunks, index, health, volumesById::get, this::commitAssist,
                counters);
        this.gc = new GarbageCollector(o, meta, store, chunks, committer, health, volumesById::get);
        this.copies = new VolumeCopies(this, committer);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "gc");
            t.setDaemon(true);
            return t;
        });
        long every = o.referenceCleanupIntervalSeconds();
        if (every > 0) {
            timer.scheduleWithFixedDelay(this::timedCleanup, every, every, TimeUnit.SECONDS);
        }
        if (!o.durableCommits()) {
            // when writes stop, what was committed last is made durable within one interval too; on
            // a thread of its own (the cleanup timer waits for record-moving passes)
            long ms = Math.max(1, committer.flushEveryNanos / 1_000_000L);
            flushTimer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "flush-timer");
                t.setDaemon(true);
                return t;
            });
            flushTimer.scheduleWithFixedDelay(this::timedFlush, ms, ms, TimeUnit.MILLISECONDS);
        } else {
            flushTimer = null;
        }
    }

    /**
     * Opens (creating when empty) the pool described by {@code o}: checks and opens the metadata,
     * opens the devices, cuts torn container tails. Metadata that fails its checks opens the pool
     * read-only (see {@link #readOnlyReason()}); a metadata file LMDB cannot map at all fails.
     */
    public static DedupPool open(PoolOptions o) throws IOException {
        // before anything of the pool is read or written: a second server on it is refused here
        PoolLock owner = PoolLock.take(o.metadataDir());
        try {
            DedupPool pool = openOwned(o);
            pool.owner = owner;
            return pool;
        } catch (IOException | RuntimeException e) {
            owner.close();
            throw e;
        }
    }

    private static DedupPool openOwned(PoolOptions o) throws IOException {
        long t0 = System.nanoTime();
        boolean metaExisted = Files.exists(o.metadataDir().resolve("data.mdb"));
        if (metaExisted && !o.durableCommits()) {
            // the metadata found now becomes the state a power loss rolls back to (MetaStore.open
            // saves it): what it references on the devices must be durable first, even when the
            // last run was killed before it could flush
            forceDevices(o);
        }
        MetaStore meta = MetaStore.open(o.metadataDir(), o.metadataMapSize(), o.durableCommits());
        List<BackingDevice> devices = new ArrayList<>();
        try {
            PoolCounters counters;
            List<ContainerRecord> containers;
            List<VolumeRecord> vols;
            // damage the integrity check found inside the databases opens the pool read-only
            String readOnly = meta.damage().summary();
            try (MetaTxn t = meta.read()) {
                counters = t.counters();
                containers = t.containers();
                vols = t.volumes();
            } catch (MetaCorruptException e) {
                counters = null;
                containers = List.of();
                vols = List.of();
                readOnly = e.getMessage();
                LOG.error("pool metadata in {} cannot be trusted: {}", o.metadataDir(), e.getMessage());
            }
            if (counters == null && readOnly != null) {
                throw new MetaCorruptException("pool metadata in " + o.metadataDir() + " is damaged: " + readOnly);
            }
            boolean fresh = counters == null;
            if (fresh) {
                counters = new PoolCounters(PoolCounters.FORMAT_VERSION, UUID.randomUUID(), o.containerSize(), 1, 1, 1,
                        0, 0, 0);
            } else if (counters.formatVersion() != meta.formatVersion()) {
                throw new MetaCorruptException("pool metadata format " + counters.formatVersion() + " is not supported");
            }
            refuseForeignDevices(o, fresh ? null : counters.poolUuid(), counters.slotSize(), metaExisted);
            long slotSize = counters.slotSize();
            if (!fresh && slotSize != o.containerSize()) {
                LOG.warn("pool was created with container size {}; keeping it (configured {})", slotSize,
                        o.containerSize());
            }
            List<DeviceSpec> byIndex = arrangeDevices(o, counters.poolUuid(), slotSize, containers);
            for (int i = 0; i < byIndex.size(); i++) {
                devices.add(BackingDevice.open(i, byIndex.get(i), slotSize));
            }
            ChunkStore store = new ChunkStore(devices, slotSize, counters.poolUuid(), counters.nextContainerId());
            long cut = 0;
            List<String> damage = new ArrayList<>();
            for (ContainerRecord c : containers) {
                cut += store.load(c.id(), c.device(), c.slot(), c.sealed(), c.committedEnd(), c.liveBytes(),
                        c.liveCount(), c.records(), c.journalBytes());
                Container loaded = store.container(c.id());
                if (loaded.damage() != null) {
                    damage.add(loaded.damage());
                }
            }
            if (readOnly == null && damage.isEmpty()) {
                // damaged metadata may hide containers, and a container whose slot header does not
                // match may mean a device taken for another: write nothing where they could be
                for (BackingDevice d : devices) {
                    // past the last known container: no container of this metadata, so free
                    long trimmed = d.trimPastTop();
                    if (trimmed > 0) {
                        LOG.info("{}: {} bytes past the last container the metadata knows cut", d.path(), trimmed);
                    }
                }
                store.clearStaleSlots(); // headers of slots the metadata does not list (a rebuild must not find them)
                for (BackingDevice d : devices) {
                    d.label(counters.poolUuid()); // adopts a device of a pool written before labels
                }
            }
            store.sealAll();
            OpenReport report = new OpenReport(cut, List.copyOf(damage), (System.nanoTime() - t0) / 1_000_000);
            DedupPool pool = new DedupPool(o, meta, store, counters, vols, report, readOnly);
            if (fresh) {
                pool.committer.run(b -> null);
                pool.committer.flush();
            }
            LOG.info("pool {} open: {} volume(s), {} container(s), {} bytes cut from torn tails, {} ms",
                    o.metadataDir(), vols.size(), containers.size(), cut, report.recoveryMillis());
            return pool;
        } catch (IOException | RuntimeException e) {
            for (BackingDevice d : devices) {
                try {
                    d.close();
                } catch (IOException ignored) {
                    // already failing
                }
            }
            meta.close();
            throw e;
        }
    }

    /**
     * A device that holds data is never initialised over (ARCHITECTURE.md, rule 5): with new
     * metadata ({@code pool} null) every device must be empty; with existing metadata no device may
     * carry another pool's slot headers. Refusing, it leaves the metadata directory as it found it.
     */
    private static void refuseForeignDevices(PoolOptions o, UUID pool, long slotSize, boolean metaExisted)
            throws IOException {
        for (DeviceSpec d : o.devices()) {
            DeviceProbe.Found f = pool == null ? DeviceProbe.probe(d.path()) : DeviceProbe.foreign(d.path(), slotSize, pool);
            if (f == null) {
                continue;
            }
            String msg;
            if (pool == null) {
                if (!metaExisted) {
                    Files.deleteIfExists(o.metadataDir().resolve("data.mdb"));
                    Files.deleteIfExists(o.metadataDir().resolve("lock.mdb"));
                }
                msg = "refusing to create a new pool: device " + d.path() + " already holds data (" + f.what()
                        + ") but the pool metadata in " + o.metadataDir() + " is "
                        + (metaExisted ? "empty" : "missing") + "; restore that metadata directory (from a backup, or"
                        + " check [pool] metadata_dir), or, to discard the old data for good, remove or wipe "
                        + d.path() + " first";
            } else {
                msg = "refusing to open the pool: device " + d.path() + " holds " + f.what() + ", but the metadata in "
                        + o.metadataDir() + " belongs to pool " + pool + "; check [pool] devices and metadata_dir"
                        + " (each device belongs to one pool)";
            }
            LOG.error(msg);
            throw new PoolRefusedException(msg);
        }
    }

    /**
     * The configured devices by device index, found by their labels (never by their order in the
     * configuration): a device of another pool, a duplicate, or a device the metadata needs that no
     * configured device carries is refused, naming it, before any device is written.
     */
    private static List<DeviceSpec> arrangeDevices(PoolOptions o, UUID pool, long slotSize,
                                                   List<ContainerRecord> containers) throws IOException {
        List<DeviceLabels.Placement> placed = new ArrayList<>(containers.size());
        for (ContainerRecord c : containers) {
            placed.add(new DeviceLabels.Placement(c.id(), c.device(), c.slot()));
        }
        try {
            DeviceLabels.Arrangement a = DeviceLabels.arrange(o.devices(), pool, slotSize, placed);
            a.notes().forEach(LOG::info);
            return a.byIndex();
        } catch (DeviceLabels.DeviceRefusedException e) {
            LOG.error(e.getMessage());
            throw new PoolRefusedException(e.getMessage());
        }
    }

    /** The pool refuses to open over devices that hold data it cannot account for. */
    public static final class PoolRefusedException extends IOException {
        private static final long serialVersionUID = 1L;

        PoolRefusedException(String message) {
            super(message);
        }
    }

    // ---- volumes -------------------------------------------------------------------------------

    /**
     * Creates a thin volume.
     *
     * @param logicalBlockSize 512 or 4096
     * @param capacityBytes a positive multiple of the logical block size
     * @param dedupBlockSize 4096, 8192, 16384, 32768 or 65536, at least the logical block size
     * @throws IllegalArgumentException for bad geometry or a name already in use
     */
    public DedupVolume createVolume(String name, int logicalBlockSize, long capacityBytes, int dedupBlockSize)
            throws IOException {
        return createVolume(name, logicalBlockSize, capacityBytes, dedupBlockSize, DedupMode.INLINE);
    }

    /** Creates a thin volume whose writes are deduplicated as {@code mode} says (see {@link DedupMode}). */
    public DedupVolume createVolume(String name, int logicalBlockSize, long capacityBytes, int dedupBlockSize,
                                    DedupMode mode) throws IOException {
        java.util.Objects.requireNonNull(mode, "mode");
        checkName(name);
        if (logicalBlockSize != 512 && logicalBlockSize != 4096) {
            throw new IllegalArgumentException("logical block size must be 512 or 4096: " + logicalBlockSize);
        }
        if (dedupBlockSize < 4096 || dedupBlockSize > 65536 || Integer.bitCount(dedupBlockSize) != 1
                || dedupBlockSize < logicalBlockSize) {
            throw new IllegalArgumentException("dedup block size must be 4, 8, 16, 32 or 64 KiB: " + dedupBlockSize);
        }
        if (capacityBytes <= 0 || capacityBytes % logicalBlockSize != 0) {
            throw new IllegalArgumentException("capacity must be a positive multiple of the block size: " + capacityBytes);
        }
        checkWritable();
        VolumeRecord rec = committer.run(b -> {
            if (b.txn.volume(name) != null) {
                throw new IllegalArgumentException("volume '" + name + "' already exists");
            }
            int id = b.nextVolumeId(committer);
            b.newNextVolumeId = id + 1;
            VolumeRecord r = new VolumeRecord(name, id, UUID.randomUUID(), logicalBlockSize, dedupBlockSize,
                    capacityBytes, 0, 0, false, null, 0, mode);
            b.txn.putVolume(r);
            b.afterCommit.add(() -> volumesById.put(id, new VolumeState(r)));
            return r;
        });
        committer.flush();
        return handle(volumesById.get(rec.id()));
    }

    static void checkName(String name) {
        if (name == null || name.isEmpty() || name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 200) {
            throw new IllegalArgumentException("volume name must be 1..200 bytes");
        }
    }

    /**
     * Creates volume {@code name} as an instant, space-free copy of volume {@code source}: its
     * block map names the source's chunks (refcounts raised exactly, no data read or written,
     * stored bytes unchanged), in one LMDB transaction (see {@link VolumeCopies}). The new volume
     * records its origin (source name and time); with {@code readOnly} it is a snapshot, whose
     * writes are refused ({@link io.orion.dedup.blockdev.ReadOnlyVolumeException}).
     *
     * @throws IllegalArgumentException no such source, or the name is taken or invalid
     */
    public DedupVolume cloneVolume(String source, String name, boolean readOnly) throws IOException {
        VolumeRecord r = copies.cloneVolume(source, name, readOnly);
        return handle(volumesById.get(r.id()));
    }

    /**
     * Changes how volume {@code name}'s writes are deduplicated, in one commit that persists its
     * record and journals the catalogue (so {@code recover} restores it); writes already committed
     * keep their chunks. Returns the mode it had before (the same mode: nothing is written).
     *
     * @throws IllegalArgumentException no such volume
     */
    /** The dedup mode of live volume {@code name}, or null when there is no such volume. */
    public DedupMode dedupMode(String name) {
        VolumeState st = liveState(name);
        return st == null ? null : st.dedupMode;
    }

    public DedupMode setDedupMode(String name, DedupMode mode) throws IOException {
        java.util.Objects.requireNonNull(mode, "mode");
        VolumeState st = liveState(name);
        if (st == null) {
            throw new IllegalArgumentException("no volume '" + name + "'");
        }
        DedupMode before = st.dedupMode;
        if (before == mode) {
            return before;
        }
        checkWritable();
        try {
            committer.run(b -> {
                if (st.deleted || b.txn.volume(name) == null) {
                    throw new IllegalArgumentException("no volume '" + name + "'");
                }
                // a batch that also changes the volume's counters rewrites its record from the
                // state (Committer.finish): the pending mode keeps the new mode in that record
                b.txn.putVolume(b.txn.volume(name).withDedupMode(mode));
                st.pendingMode = mode;
                b.catalogueChanged = true;
                b.afterCommit.add(() -> {
                    st.dedupMode = mode;
                    st.pendingMode = null;
                });
                return null;
            });
        } finally {
            if (st.dedupMode != mode) {
                st.pendingMode = null; // the commit failed: nothing changed
            }
        }
        committer.flush();
        return before;
    }

    /**
     * Replaces volume {@code name}'s block map by that of {@code snapshot}, a snapshot of it, in one
     * LMDB transaction while no write to the volume is in flight (see {@link VolumeCopies}); the
     * volume takes the snapshot's capacity. Chunks only the old map referenced become reclaimable.
     *
     * @throws IllegalArgumentException no such volume, or {@code snapshot} is not a snapshot of it
     */
    public DedupVolume rollbackVolume(String name, String snapshot) throws IOException {
        copies.rollback(name, snapshot);
        return openVolume(name).orElseThrow();
    }

    /**
     * A volume's statistics, walked again only when some commit happened since they were last
     * computed (every metadata commit bumps the generation): {@code stats}, {@code volume list}
     * and metrics on an idle pool cost no walk; under writes each call walks the block map once.
     */
    VolumeStats volumeStats(DedupVolume v) throws IOException {
        long gen = committer.generation; // read before the walk: a commit during it makes the result stale
        CachedStats c = statsCache.get(v.state().id);
        if (c != null && c.generation() == gen) {
            return c.stats();
        }
        statsWalks.increment();
        VolumeStats s = v.computeStats();
        statsCache.put(v.state().id, new CachedStats(gen, s));
        return s;
    }

    /** Makes a volume committed by a clone visible (committer thread, after the commit). */
    void publishVolume(VolumeRecord r) {
        volumesById.put(r.id(), new VolumeState(r));
    }

    /** The state of the live volume {@code name}, or null. */
    VolumeState liveState(String name) {
        for (VolumeState v : volumesById.values()) {
            if (v.name.equals(name) && !v.deleted) {
                return v;
            }
        }
        return null;
    }

    /** Tells the open handle of {@code name} (if any) that its block map was replaced. */
    void mapChanged(String name) {
        DedupVolume h = handles.get(name);
        if (h != null) {
            h.mapChanged();
        }
    }

    /** The volume named {@code name}, if it exists. */
    public Optional<DedupVolume> openVolume(String name) {
        for (VolumeState v : volumesById.values()) {
            if (v.name.equals(name) && !v.deleted) {
                return Optional.of(handle(v));
            }
        }
        return Optional.empty();
    }

    private DedupVolume handle(VolumeState v) {
        return handles.computeIfAbsent(v.name, n -> new DedupVolume(this, v));
    }

    /** Tests only: runs in {@link #deleteVolume} after the blocks are unmapped, before the record goes. */
    volatile Runnable afterUnmapAll;

    /**
     * Deletes a volume: every block is unmapped (chunk references dropped; space becomes
     * reclaimable), then its record is removed. Returns false if no such volume exists.
     */
    public boolean deleteVolume(String name) throws IOException {
        Optional<DedupVolume> vol = openVolume(name);
        if (vol.isEmpty()) {
            return false;
        }
        checkWritable();
        DedupVolume v = vol.get();
        v.unmapAll();
        Runnable hook = afterUnmapAll;
        if (hook != null) {
            hook.run();
        }
        VolumeState st = v.state();
        committer.run(b -> {
            // a write or copy piece committed after unmapAll (it checked the volume was live
            // before the delete began) left entries: they go in this transaction, with their
            // references, so no block entry outlives the volume record
            List<BlockOp> left = new ArrayList<>();
            b.txn.scanBlocks(st.id, 0, Long.MAX_VALUE, (db, c) -> {
                left.add(BlockOp.unmap(st.id, db));
                return true;
            });
            if (!left.isEmpty()) {
                committer.applyInTask(b, left);
            }
            b.txn.deleteVolume(name);
            b.txn.deleteReservations(st.id); // its persistent reservations go with it
            b.deletedVolumes.add(st.id);
            b.afterCommit.add(() -> {
                st.deleted = true;
                volumesById.remove(st.id);
                statsCache.remove(st.id);
                handles.remove(name);
            });
            return null;
        });
        committer.flush();
        return true;
    }

    /**
     * The persistent reservation image saved for {@code volume} (SPC-4 §5.14.5, APTPL), or null.
     * Kept by volume id, which is never reused: a volume created again under the same name starts
     * without reservations.
     */
    public byte[] reservationState(DedupVolume volume) throws IOException {
        try (MetaTxn t = meta.read()) {
            return t.reservations(volume.state().id);
        }
    }

    /**
     * Replaces the persistent reservation image of {@code volume} (null: removes it) in its own
     * commit, and returns only once it is durable (devices forced, LMDB synced): a PERSISTENT
     * RESERVE OUT with APTPL completes GOOD only after this.
     */
    public void saveReservationState(DedupVolume volume, byte[] image) throws IOException {
        checkWritable();
        VolumeState st = volume.state();
        committer.run(b -> {
            if (st.deleted) {
                throw new IOException("volume " + st.name + " was deleted");
            }
            b.txn.putReservations(st.id, image);
            return null;
        });
        committer.flush();
    }

    /** Every volume, by name. */
    public List<VolumeInfo> volumes() {
        List<VolumeInfo> out = new ArrayList<>();
        for (VolumeState v : volumesById.values()) {
            if (!v.deleted) {
                out.add(new VolumeInfo(v.name, v.uuid.toString(), v.logicalBlockSize, v.dedupBlockSize,
                        v.capacityBytes, v.readOnly, v.origin, v.originMillis, v.dedupMode));
            }
        }
        out.sort(Comparator.comparing(VolumeInfo::name));
        return out;
    }

    // ---- admin ---------------------------------------------------------------------------------

    /** Makes every completed write of every volume durable (devices forced, then LMDB synced). */
    public void flush() throws IOException {
        committer.flush();
    }

    /** Runs garbage collection now (waits for a running one). */
    /** The reference cleanup component. */
    GarbageCollector gc() {
        return gc;
    }

    public CleanupResult cleanup() throws IOException {
        return gc.run();
    }

    /**
     * Runs garbage collection now, reporting progress (bytes of live records to copy) to
     * {@code monitor}, paced at its rate; a cancel stops copying between groups of records and
     * commits what was copied (containers not finished keep their records), so the metadata stays
     * consistent. The result then has {@link CleanupResult#cancelled()} set.
     */
    public CleanupResult cleanup(WorkMonitor monitor) throws IOException {
        return gc.run(monitor);
    }

    /**
     * {@code dedup-compression-optimize}: recompresses, online and crash-safely, the chunks whose
     * stored form the pool's current compression settings now beat (see {@link Recompressor}):
     * chunks stored raw become LZ4 records when the result is at most {@code compression_threshold}
     * of the original; with LZ4 HC configured, LZ4 records are re-encoded when HC is smaller. Stored
     * bytes drop by exactly {@link RecompressResult#bytesSaved()}; the old records become reclaimable
     * until cleanup compacts them. With compression disabled the pass does nothing and says so.
     *
     * @param fromChunkId first chunk id to look at (1, or a previous bounded pass's
     *     {@link RecompressResult#nextChunkId()})
     * @param maxChunks stop after examining this many candidates (0: no bound)
     * @param maxBytes stop after examining this many original bytes (0: no bound)
     */
    public RecompressResult recompress(long fromChunkId, long maxChunks, long maxBytes) throws IOException {
        if (fromChunkId < 0 || maxChunks < 0 || maxBytes < 0) {
            throw new IllegalArgumentException("recompression start and bounds must be >= 0: " + fromChunkId + ", "
                    + maxChunks + ", " + maxBytes);
        }
        return recompressor(WorkMonitor.NONE).run(fromChunkId, maxChunks, maxBytes);
    }

    /**
     * {@link #recompress()} reporting progress (record bytes scanned against stored bytes) to
     * {@code monitor}, paced at its rate; a cancel stops between groups, after committing the group
     * at hand, and the result is marked bounded with the chunk id to resume from.
     */
    public RecompressResult recompress(WorkMonitor monitor) throws IOException {
        return recompressor(monitor).run(1, 0, 0);
    }

    private Recompressor recompressor(WorkMonitor monitor) {
        return new Recompressor(options, meta, store, chunks, committer, health, gc.runLock(), monitor);
    }

    /** As {@link #recompress(long, long, long)} over the whole chunk index, without bounds. */
    public RecompressResult recompress() throws IOException {
        return recompress(1, 0, 0);
    }

    /** Reads every chunk back and checks its CRC32C and fingerprint. */
    public ScrubResult verify() throws IOException {
        return verify(WorkMonitor.NONE, false);
    }

    /**
     * {@link #verify()} reporting progress (record bytes read against stored bytes) to
     * {@code monitor}, paced at its rate; a cancel stops the pass between chunks (the result says
     * {@code cancelled}). A scrub changes no metadata.
     */
    public ScrubResult verify(WorkMonitor monitor) throws IOException {
        return verify(monitor, false);
    }

    /**
     * {@link #verify(WorkMonitor)}; with {@code repair} ({@code scrub --repair}) each damaged chunk
     * found is rewritten from a good copy of its content when one exists (the block cache's copy of
     * that chunk, or another chunk record with the same SHA-256 fingerprint), checked against the
     * chunk's fingerprint first; the rest stay damaged and are reported unrepairable. Without
     * {@code repair}, exactly {@link #verify(WorkMonitor)}.
     */
    public ScrubResult verify(WorkMonitor monitor, boolean repair) throws IOException {
        return new Scrubber(options, meta, store, chunks, committer, health, gc.runLock(), openReport.damage(),
                monitor, repair).run();
    }

    /** Empties the block and fingerprint caches. */
    public void flushCaches() {
        blockCache.clear();
        index.cache().clear();
    }

    public CacheStats blockCacheStats() {
        return blockCache.stats();
    }

    public CacheStats fingerprintCacheStats() {
        return index.cache().stats();
    }

    /** Why the pool refuses writes, or null while it accepts them. */
    public String readOnlyReason() {
        return health.readOnlyReason();
    }

    /** What opening the pool found (torn tails cut, damaged containers). */
    public OpenReport openReport() {
        return openReport;
    }

    /** Soft threshold of the pool's space, percent ({@code [pool] space_warning_percent}); 0 = none. */
    private volatile int spaceWarningPercent = 90;
    /** Usable bytes of the file system under each growing device file and when looked at (a statfs). */
    private final java.util.Map<java.nio.file.Path, long[]> fsFree = new java.util.concurrent.ConcurrentHashMap<>();
    static final long FS_FREE_REFRESH_NANOS = 100_000_000L;

    /** Sets the soft threshold ({@code [pool] space_warning_percent}, 1..100; 0 turns it off). */
    public void spaceWarningPercent(int percent) {
        if (percent < 0 || percent > 100) {
            throw new IllegalArgumentException("space warning percent must be 0..100: " + percent);
        }
        spaceWarningPercent = percent;
    }

    /**
     * The pool's space as provisioning resources: capacity and use of its backing devices (a
     * device with a size: its container slots; a growing file: its length plus what its file
     * system still has), shared by every volume. Cheap: slot counts, a file length, and the file
     * system's free space at most every 100 ms.
     */
    public io.orion.dedup.blockdev.Provisioning space() throws IOException {
        long cap = 0;
        long used = 0;
        for (BackingDevice d : store.devices()) {
            if (d.capacityBytes() != Long.MAX_VALUE) {
                cap += d.capacityBytes();
                used += d.usedSlots() * d.slotSize();
            } else {
                long len = d.length();
                cap += len + fileSystemFree(d);
                used += len;
            }
        }
        return new io.orion.dedup.blockdev.Provisioning(cap, used, Math.max(0, cap - used), spaceWarningPercent, false);
    }

    private long fileSystemFree(BackingDevice d) throws IOException {
        long now = System.nanoTime();
        java.nio.file.Path p = d.path().toAbsolutePath();
        long[] seen = fsFree.get(p);
        if (seen != null && now - seen[1] < FS_FREE_REFRESH_NANOS) {
            return seen[0];
        }
        long free = Files.getFileStore(Files.exists(p) ? p : p.getParent()).getUsableSpace();
        fsFree.put(p, new long[] {free, now});
        return free;
    }

    /** Bytes of journal records in the containers (neither live chunk bytes nor reclaimable). */
    public long journalBytes() {
        long n = 0;
        for (Container c : store.containers()) {
            n += c.journalBytes();
        }
        return n;
    }

    /** Exact pool statistics, including each volume's (which walks every volume's block map). */
    public PoolStats stats() throws IOException {
        return stats(true);
    }

    /**
     * Exact pool statistics; with {@code perVolume} false the volumes' block maps are not walked
     * (cheap enough for a metrics scrape) and the volume list is empty.
     */
    public PoolStats stats(boolean perVolume) throws IOException {
        List<VolumeStats> vols = new ArrayList<>();
        long logical = 0;
        long zero = 0;
        for (VolumeState st : volumesById.values()) {
            if (!st.deleted) {
                logical += (st.dataBlocks + st.zeroBlocks) * st.dedupBlockSize;
                zero += st.zeroBlocks;
            }
        }
        if (perVolume) {
            for (VolumeInfo vi : volumes()) {
                Optional<DedupVolume> v = openVolume(vi.name());
                if (v.isPresent()) {
                    try {
                        vols.add(v.get().stats());
                    } catch (MetaCorruptException e) {
                        // degraded: the pool is read-only with the reason; report the volumes that can be
                        LOG.warn("no statistics for volume '{}': {}", vi.name(), e.getMessage());
                    }
                }
            }
        }
        long reclaimable = 0;
        int count = 0;
        for (Container c : store.containers()) {
            reclaimable += c.deadBytes();
            count++;
        }
        List<DeviceStats> devs = new ArrayList<>();
        for (BackingDevice d : store.devices()) {
            long used = 0;
            int n = 0;
            for (Container c : store.containers()) {
                if (c.device() == d) {
                    used += c.committedEnd();
                    n++;
                }
            }
            long cap = d.capacityBytes();
            long free = cap == Long.MAX_VALUE ? -1 : d.freeSlots() * d.slotSize();
            devs.add(new DeviceStats(d.path().toString(), cap == Long.MAX_VALUE ? -1 : cap, n, used, free, d.length()));
        }
        long unique = committer.uniqueBytes;
        long stored = committer.storedBytes;
        return new PoolStats(logical, zero, committer.uniqueChunks, unique, stored, reclaimable,
                SpaceFigures.dedupRatio(logical, unique), SpaceFigures.compressionRatio(unique, stored),
                SpaceFigures.savingPercent(logical, stored), count, meta.fileSize(), blockCache.stats(),
                index.cache().stats(), hasher.megabytesPerSecond(), hasher.bytesHashed(), chunks.checksumErrors(),
                health.readOnlyReason(), devs, vols);
    }

    @Override
    public void close() throws IOException {
        if (!health.close()) {
            return;
        }
        timer.shutdownNow();
        if (flushTimer != null) {
            flushTimer.shutdownNow(); // its flushes run on the commit helper, never on this thread
        }
        gc.stop();
        IOException failure = null;
        try {
            if (health.readOnlyReason() == null) {
                committer.flush();
            }
        } catch (IOException e) {
            failure = e;
        }
        committer.close();
        assist.shutdown();
        hasher.close();
        try {
            store.close();
        } catch (IOException e) {
            failure = failure == null ? e : failure;
        }
        try {
            if (failure == null && health.readOnlyReason() == null) {
                meta.closeClean(); // sealed: the next open need not read every page
            } else {
                meta.close();
            }
        } finally {
            PoolLock l = owner;
            if (l != null) {
                l.close(); // last: another server may open the pool from here on
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    // ---- internals shared with volumes, committer, gc, scrubber ----------------------------------

    PoolOptions options() {
        return options;
    }

    MetaStore meta() {
        return meta;
    }

    /**
     * Writes a backup of the metadata to {@code file} while I/O goes on (docs/administration.md,
     * "Backup and restore"): flushes (devices forced, then LMDB synced), copies the environment
     * compacted from one read snapshot, forces the devices again (so every record the snapshot
     * references is durable), then writes {@code file} atomically, mode 0600.
     *
     * @return the backup's header, and the bytes of the file
     */
    public io.orion.dedup.meta.MetadataBackup.Header backup(Path file) throws IOException {
        if (!meta.damage().isEmpty()) {
            throw new IOException("the metadata is damaged (" + meta.damage().summary() + "); a backup would copy"
                    + " the damage: restore an earlier backup or rebuild the metadata instead");
        }
        committer.flush();
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempDirectory(dir, ".orion-backup-");
        try {
            meta.copyCompacted(tmp);
            store.forceAll();
            return io.orion.dedup.meta.MetadataBackup.write(file, uuid, meta.formatVersion(),
                    tmp.resolve("data.mdb"));
        } finally {
            try (java.util.stream.Stream<Path> s = Files.list(tmp)) {
                for (Path p : s.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(tmp);
        }
    }

    ChunkStore store() {
        return store;
    }

    UUID uuid() {
        return uuid;
    }

    Hasher hasher() {
        return hasher;
    }

    StripedLocks locks() {
        return locks;
    }

    Committer committer() {
        return committer;
    }

    /** Runs {@code lead} on the pool's commit helper thread (started on demand, gone when idle). */
    void commitAssist(Runnable lead) {
        try {
            assist.execute(lead);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            lead.run(); // closing: the caller leads the rest itself
        }
    }

    Compression compression() {
        return compression;
    }

    WeightedCache<Fingerprint, Long> fingerprintCache() {
        return index.cache();
    }

    /** The dedup index component (fingerprint cache, in-flight claims, index lookups). */
    DedupIndex index() {
        return index;
    }

    WeightedCache<Long, byte[]> blockCache() {
        return blockCache;
    }

    VolumeState volumeState(int id) {
        return volumesById.get(id);
    }

    long peekChunkId() {
        return chunks.peekChunkId();
    }

    /** Whether the pool takes writes (open or closed, read-only with the reason). */
    PoolHealth health() {
        return health;
    }

    boolean isClosed() {
        return health.isClosed();
    }

    void checkWritable() throws IOException {
        health.checkWritable();
    }

    /** Turns the pool read-only (first reason wins). */
    void untrust(String reason) {
        health.untrust(reason);
    }


    long newChunkId() {
        return chunks.newChunkId();
    }



    /** Refuses new records the commit would refuse for want of metadata space (see Committer.applyOps). */
    private void checkAppendRoom() throws IOException {
        if (meta.lowSpace() && !committer.spaceBack()) {
            throw meta.noSpaceError();
        }
    }

    /** The chunk I/O component (records in and out, block cache, damaged chunks). */
    ChunkIo chunks() {
        return chunks;
    }

    /** Damaged chunks rewritten by {@code scrub --repair} since the pool opened. */
    public long repairedChunks() {
        return chunks.repairedChunks();
    }

    /** Damaged chunks known and not healed yet (found since the pool opened). */
    public int damagedChunks() {
        return chunks.damagedChunks();
    }

    /** Damaged chunks healed by a write of the same content since the pool opened. */
    public long healedChunks() {
        return chunks.healedChunks();
    }

    /** Blocks of volume {@code name} staged for the next post-process pass; 0 for no such volume. */
    public long stagedBlocks(String name) throws IOException {
        VolumeState st = liveState(name);
        if (st == null) {
            return 0;
        }
        long n = 0;
        try (io.orion.dedup.meta.MetaTxn t = meta.read()) {
            long from = 0;
            while (true) {
                List<io.orion.dedup.meta.MetaTxn.StagedBlock> page = t.staged(st.id, from, 4096);
                for (io.orion.dedup.meta.MetaTxn.StagedBlock b : page) {
                    if (b.volume() != st.id) {
                        return n;
                    }
                    n++;
                    from = b.dblock() + 1;
                }
                if (page.size() < 4096) {
                    return n;
                }
            }
        }
    }

    /**
     * Runs one post-process pass over every staged block ({@link PostProcessor}): blocks staged
     * during the pass ahead of its cursor are included; cancelling stops it between slices.
     */
    public PostProcessResult postProcess(WorkMonitor monitor) throws IOException {
        return new PostProcessor(options, meta, chunks, index, committer, health, locks, volumesById::get)
                .run(monitor);
    }

    /** Blocks of post-process volumes written since the last post-process pass ({@link PostProcessor}). */
    public long stagedBlocks() throws IOException {
        try (io.orion.dedup.meta.MetaTxn t = meta.read()) {
            return t.stagedCount();
        }
    }


    /** Counts and logs a block that {@code verify} kept from sharing chunk {@code existing}. */
    void noteVerifyMismatch(ChunkRecord existing, Fingerprint fp, ChunkIo.StoredMatch why) {
        index.noteVerifyMismatch(existing.id(), fp, why);
    }

    /** Blocks {@code verify} stored as new chunks because the chunk of their fingerprint held other (or damaged) bytes, since open. */
    public long verifyMismatches() {
        return index.verifyMismatches();
    }


    /**
     * {@code dedup-hash-optimize}: fills the fingerprint cache with the index entries of the most
     * referenced chunks ({@link DedupIndex#warm}).
     */
    public WarmResult warmFingerprintCache() throws IOException {
        return index.warm();
    }

    /** What {@link #warmFingerprintCache()} did. */
    public record WarmResult(@com.fasterxml.jackson.annotation.JsonProperty("chunks_scanned") long chunksScanned,
                             @com.fasterxml.jackson.annotation.JsonProperty("entries_loaded") long entriesLoaded,
                             @com.fasterxml.jackson.annotation.JsonProperty("capacity_entries") long capacityEntries,
                             @com.fasterxml.jackson.annotation.JsonProperty("min_refcount_loaded") long minRefcountLoaded) {
    }



    /** Forces every device file of {@code o} that exists (before the devices are opened). */
    private static void forceDevices(PoolOptions o) throws IOException {
        for (DeviceSpec d : o.devices()) {
            if (Files.exists(d.path())) {
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(d.path(),
                        java.nio.file.StandardOpenOption.READ)) {
                    ch.force(false);
                }
            }
        }
    }

    private void timedFlush() {
        if (health.isClosed() || health.readOnlyReason() != null || !committer.dirty()) {
            return;
        }
        // led on a helper thread: close() interrupts this timer thread (shutdownNow), and an
        // interrupted fsync closes the channel it was forcing
        commitAssist(() -> {
            try {
                if (!health.isClosed()) {
                    committer.flush();
                }
            } catch (IOException | RuntimeException e) {
                LOG.warn("timed flush failed: {}", e.toString());
            }
        });
    }

    private void timedCleanup() {
        try {
            if (health.readOnlyReason() == null && !health.isClosed()) {
                CleanupResult r = gc.run();
                if (r.containersCompacted() > 0) {
                    LOG.info("cleanup: {}", r);
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("background cleanup failed: {}", e.toString());
        }
    }

    // ---- refcount histogram (stats --histogram) ------------------------------------------------

    /**
     * One row of {@link #refcountHistogram()}: the chunks whose reference count is in
     * {@code [refcount, 2 * refcount)}.
     *
     * @param refcount lower bound of the bucket: 1, 2, 4, 8, ...
     * @param chunks chunks in the bucket
     * @param blocks logical (dedup) blocks that reference them: the sum of their reference counts
     * @param uniqueBytes their original bytes, each chunk once
     * @param storedBytes their record bytes in containers, each chunk once
     * @param referencedBytes original bytes times references: what the blocks would take without dedup
     */
    public record RefcountBucket(long refcount, long chunks, long blocks, long uniqueBytes, long storedBytes,
                                 long referencedBytes) {}

    /**
     * The refcount histogram of the chunk table, like {@code zdb -DD}: chunks grouped by reference
     * count in power-of-two buckets, from one read transaction (one consistent snapshot). Chunks
     * with no reference (garbage awaiting cleanup) are left out. Only non-empty buckets are listed.
     */
    public List<RefcountBucket> refcountHistogram() throws IOException {
        long[][] acc = new long[32][5];
        try (MetaTxn t = meta.read()) {
            t.scanChunks(0, c -> {
                if (c.refCount() > 0) {
                    long[] b = acc[31 - Integer.numberOfLeadingZeros(c.refCount())];
                    b[0]++;
                    b[1] += c.refCount();
                    b[2] += c.originalLength();
                    b[3] += c.length();
                    b[4] += (long) c.originalLength() * c.refCount();
                }
                return true;
            });
        }
        List<RefcountBucket> out = new ArrayList<>();
        for (int i = 0; i < acc.length; i++) {
            if (acc[i][0] > 0) {
                out.add(new RefcountBucket(1L << i, acc[i][0], acc[i][1], acc[i][2], acc[i][3], acc[i][4]));
            }
        }
        return out;
    }
}
