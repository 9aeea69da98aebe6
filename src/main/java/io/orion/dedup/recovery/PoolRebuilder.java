package io.orion.dedup.recovery;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.ContainerRecord;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaWriteTxn;
import io.orion.dedup.meta.PoolCounters;
import io.orion.dedup.meta.VolumeRecord;
import io.orion.dedup.containers.BackingDevice;
import io.orion.dedup.containers.ContainerWalker;
import io.orion.dedup.containers.DeviceSpec;
import io.orion.dedup.containers.JournalFormat;
import io.orion.dedup.containers.RecordFormat;
import io.orion.dedup.containers.SlotHeader;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.zip.CRC32C;
import org.lmdbjava.Env;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilds a pool's whole metadata store (every LMDB table) from its backing devices alone
 * ({@code orion-dedup recover}). It is handed the devices, the metadata directory (which must hold
 * no metadata) and the configured container size, and works in four steps:
 *
 * <ol>
 *   <li>find the slot size and the pool: slot headers at slot boundaries (a header names its slot
 *       index, so its offset divided by the index is the slot size); all must name one pool;</li>
 *   <li>walk every container's records ({@link ContainerWalker}): chunk records (id, fingerprint,
 *       lengths, where) and journal records ({@link JournalFormat}); a container ends at the first
 *       bytes that are not a whole valid record, and non-zero bytes there (a torn tail) are cut;</li>
 *   <li>replay the journal in sequence order (voided records left out): the latest catalogue
 *       gives the volumes, the latest mapping of each block wins, the latest location of each chunk
 *       says which copy is live; block maps of volume ids absent from the catalogue are dropped;</li>
 *   <li>derive the rest — reference counts (map entries per chunk), the fingerprint index (the
 *       newest live chunk of each fingerprint), each container's live bytes and chunks (journal
 *       records count as live bytes, as the committer counts them), each volume's data/zero block
 *       counters and the pool counters — and write every table in key order in large transactions,
 *       the pool counters last (a rebuild cut short leaves no counters: the pool then refuses to
 *       open over the devices, and {@code recover --force} starts again).</li>
 * </ol>
 *
 * Persistent reservations (APTPL) live only in the metadata: a rebuilt pool has none.
 */
public final class PoolRebuilder {
    private static final Logger LOG = LoggerFactory.getLogger(PoolRebuilder.class);
    private static final int TXN_PUTS = 100_000;

    /** Progress of a rebuild: bytes of container slots walked so far out of the total. */
    @FunctionalInterface
    public interface Progress {
        void update(String phase, long done, long total);
    }

    /**
     * What a rebuild found.
     *
     * @param volumes volumes in the catalogue
     * @param chunks live (referenced) chunks
     * @param mappedBlocks dedup blocks mapped (to a chunk or as zeros) over all volumes
     * @param containers containers found (valid slot headers of the pool)
     * @param tornTails containers whose tail was cut (non-zero bytes that were not a valid record)
     * @param tornBytes bytes cut from torn tails
     * @param bytesScanned bytes read from the devices
     * @param journalRecords valid journal records replayed (voided ones excluded)
     * @param lostBlocks blocks whose chunk record was not found on any device (left unmapped)
     * @param poolUuid the pool's UUID
     */
    public record Summary(int volumes, long chunks, long mappedBlocks, int containers, int tornTails, long tornBytes,
                          long bytesScanned, long journalRecords, long lostBlocks, UUID poolUuid) {
    }

    private record ChunkHdr(long id, byte[] fingerprint, int length, int originalLength, int flags) {
    }

    private record JRec(long seq, int type, byte[] payload, int containerId, int length) {
    }

    private static final class Found {
        final int id;
        final int device;
        final int slot;
        long end;
        long records;
        long liveBytes;
        long liveCount;
        long journalBytes;

        Found(int id, int device, int slot) {
            this.id = id;
            this.device = device;
            this.slot = slot;
        }
    }

    private final List<DeviceSpec> specs;
    private final Path metadataDir;
    private final long configuredSlotSize;
    private final long mapSize;
    private final Progress progress;
    private final boolean acceptDamage;
    /** What the walk found damaged (not a torn tail): records or slot headers whose content is lost. */
    private final List<String> damage = new ArrayList<>();

    public PoolRebuilder(List<DeviceSpec> devices, Path metadataDir, long configuredSlotSize, long mapSize,
                         Progress progress) {
        this(devices, metadataDir, configuredSlotSize, mapSize, progress, false);
    }

    /**
     * @param acceptDamage rebuild even when the devices are damaged (a record or slot header that
     *     fails its check and is no torn tail, or mapped blocks whose chunk record is on no device):
     *     the rebuilt pool then reads the blocks the damaged records described as unmapped or as
     *     their older content. Without it such a rebuild is refused (an {@link IOException} naming
     *     the damage) before anything is written or cut.
     */
    public PoolRebuilder(List<DeviceSpec> devices, Path metadataDir, long configuredSlotSize, long mapSize,
                         Progress progress, boolean acceptDamage) {
        this.acceptDamage = acceptDamage;
        this.specs = List.copyOf(devices);
        this.metadataDir = metadataDir;
        this.configuredSlotSize = configuredSlotSize;
        this.mapSize = mapSize;
        this.progress = progress == null ? (p, d, t) -> { } : progress;
    }

    /** Rebuilds the metadata; the metadata directory must not hold {@code data.mdb}. */
    public Summary rebuild() throws IOException {
        if (Files.exists(metadataDir.resolve("data.mdb"))) {
            throw new IOException("metadata already exists in " + metadataDir + "; a rebuild needs an empty directory");
        }
        long slotSize = findSlotSize();
        List<BackingDevice> devices = new ArrayList<>();
        try {
            int[] index = labelIndices(slotSize);
            for (int i = 0; i < specs.size(); i++) {
                devices.add(BackingDevice.open(index[i], specs.get(i), slotSize));
            }
            devices.sort(java.util.Comparator.comparingInt(BackingDevice::index)); // devices.get(i) is device #i
            return rebuild(devices, slotSize);
        } finally {
            for (BackingDevice d : devices) {
                try {
                    d.close();
                } catch (IOException ignored) {
                    // closing after the work is done
                }
            }
        }
    }

    /**
     * Each configured device's index: the one its label (the slot header at byte 0) names, or, when
     * that is unreadable, the one the first valid slot header further on names (every slot header
     * carries its device's index), so the rebuilt containers table agrees with the devices whatever
     * order the config lists them in. The config order only when that cannot tell (a device with no
     * valid header at all, or two devices naming one index).
     */
    private int[] labelIndices(long slotSize) throws IOException {
        int[] index = new int[specs.size()];
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int i = 0; i < specs.size(); i++) {
            int found = deviceIndexOf(specs.get(i).path(), slotSize);
            if (found < 0 || found >= specs.size() || !seen.add(found)) {
                for (int k = 0; k < index.length; k++) {
                    index[k] = k;
                }
                return index;
            }
            index[i] = found;
        }
        return index;
    }

    /** The device index the first valid slot header of {@code p} names (the label first), or -1. */
    private static int deviceIndexOf(Path p, long slotSize) throws IOException {
        if (!Files.exists(p)) {
            return -1;
        }
        try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.READ)) {
            long len = Files.isRegularFile(p) ? ch.size() : Long.MAX_VALUE;
            ByteBuffer b = ByteBuffer.allocate(SlotHeader.SIZE);
            for (long s = 0; s < 4096 && s * slotSize + SlotHeader.SIZE <= len; s++) {
                b.clear();
                while (b.hasRemaining() && ch.read(b, s * slotSize + b.position()) > 0) {
                    // the whole header
                }
                b.flip();
                if (b.remaining() == SlotHeader.SIZE && validHeader(b) && b.getInt(12) == s) {
                    return b.getInt(16);
                }
            }
        }
        return -1;
    }

    /** The slot size the headers on the devices imply (the configured one when they cannot tell). */
    private long findSlotSize() throws IOException {
        long mib = 1 << 20;
        for (DeviceSpec d : specs) {
            if (!Files.exists(d.path())) {
                continue;
            }
            try (var ch = java.nio.channels.FileChannel.open(d.path(), java.nio.file.StandardOpenOption.READ)) {
                long len = ch.size();
                ByteBuffer b = ByteBuffer.allocate(SlotHeader.SIZE);
                for (long off = mib; off + SlotHeader.SIZE <= len; off += mib) {
                    b.clear();
                    ch.read(b, off);
                    b.flip();
                    if (b.remaining() == SlotHeader.SIZE && validHeader(b) && b.getInt(12) > 0) {
                        long size = off / b.getInt(12);
                        if (size * b.getInt(12) == off && size >= mib) {
                            return size;
                        }
                    }
                }
            }
        }
        return configuredSlotSize;
    }

    private static boolean validHeader(ByteBuffer b) {
        ByteBuffer h = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (h.remaining() < SlotHeader.SIZE || h.getInt(0) != SlotHeader.MAGIC) {
            return false;
        }
        CRC32C crc = new CRC32C();
        crc.update(h.array(), h.arrayOffset(), 60);
        return (int) crc.getValue() == h.getInt(60);
    }

    private Summary rebuild(List<BackingDevice> devices, long slotSize) throws IOException {
        // 1. the containers: valid slot headers of one pool
        UUID pool = null;
        Map<Integer, Found> found = new TreeMap<>();
        long total = 0;
        for (BackingDevice dev : devices) {
            long len = dev.length();
            ByteBuffer b = ByteBuffer.allocate(SlotHeader.SIZE);
            for (int s = 0; (long) s * slotSize + SlotHeader.SIZE <= len; s++) {
                b.clear();
                dev.read(b, dev.slotBase(s));
                b.flip();
                if (!validHeader(b) || b.getInt(12) != s) {
                    if (damagedHeader(b) && holdsRecords(dev, s)) {
                        damage.add("device " + dev.path() + " slot " + s + ": damaged slot header (the container"
                                + " there, if any, cannot be read)");
                    }
                    continue;
                }
                UUID u = new UUID(b.getLong(20), b.getLong(28));
                if (pool == null) {
                    pool = u;
                } else if (!pool.equals(u)) {
                    throw new IOException("device " + dev.path() + " slot " + s + " belongs to pool " + u
                            + ", other slots to pool " + pool + "; recover one pool at a time");
                }
                int id = b.getInt(8);
                if (id == 0) {
                    continue; // a label-only header: slot 0 holds no container
                }
                Found prev = found.get(id);
                if (prev != null) {
                    LOG.warn("container {} found twice (device #{} slot {} and device #{} slot {}); keeping the first",
                            id, prev.device, prev.slot, dev.index(), s);
                    continue;
                }
                found.put(id, new Found(id, dev.index(), s));
                total += Math.min(slotSize, len - dev.slotBase(s));
            }
        }
        if (pool == null) {
            throw new IOException("no container of any pool found on " + specs.stream().map(d -> d.path().toString())
                    .toList() + " (slot size " + slotSize + ")");
        }

        // 2. walk every container
        Map<Long, ChunkHdr> chunkAt = new HashMap<>();
        Map<Long, Long> anyCopy = new HashMap<>();
        List<JRec> journal = new ArrayList<>();
        long[] maxId = {0};
        long scanned = 0;
        long done = 0;
        int tornTails = 0;
        long tornBytes = 0;
        List<Runnable> cuts = new ArrayList<>();
        long[] tornCut = new long[2];
        List<IOException> cutFailed = new ArrayList<>();
        for (Found f : found.values()) {
            BackingDevice dev = devices.get(f.device);
            long base = dev.slotBase(f.slot);
            ContainerWalker.Visitor visitor = new ContainerWalker.Visitor() {
                @Override
                public void chunk(long offset, ByteBuffer rec) {
                    long id = RecordFormat.chunkId(rec.duplicate());
                    ChunkHdr h = new ChunkHdr(id, RecordFormat.fingerprint(rec), rec.remaining(),
                            RecordFormat.originalLength(rec), RecordFormat.flags(rec));
                    long key = key(f.id, offset);
                    chunkAt.put(key, h);
                    anyCopy.merge(id, key, Math::max);
                    maxId[0] = Math.max(maxId[0], id);
                    f.records++;
                }

                @Override
                public void journal(long offset, ByteBuffer rec) {
                    ByteBuffer p = JournalFormat.payload(rec);
                    byte[] payload = new byte[p.remaining()];
                    p.get(payload);
                    long seq = JournalFormat.seq(rec);
                    journal.add(new JRec(seq, JournalFormat.type(rec), payload, f.id, rec.remaining()));
                    maxId[0] = Math.max(maxId[0], seq);
                }
            };
            ContainerWalker.Result r = ContainerWalker.walk(dev, base, SlotHeader.SIZE, slotSize, visitor);
            scanned += r.scanned();
            while (r.torn() > 0) {
                // unreadable bytes: damage (a record that fails its check, the walk goes on after it)
                // or a torn tail (a write cut short by a crash: cut below)
                Skip k = skip(dev, base, r.end(), slotSize);
                String where = "container " + f.id + " (device " + dev.path() + " slot " + f.slot + ") offset "
                        + r.end() + ": " + r.why();
                if (k.next() < 0) {
                    if (k.whole() && !k.chunkRecord()) {
                        damage.add(where + ", a whole record (no chunk record) that fails its check");
                    }
                    break;
                }
                if (!k.chunkRecord() && !k.hole()) {
                    damage.add(where + ", valid records follow at offset " + k.next()
                            + " (the bytes between are no single chunk record: journal records may be lost)");
                }
                LOG.warn("{}: skipped to the next valid record at offset {}", where, k.next());
                r = ContainerWalker.walk(dev, base, k.next(), slotSize, visitor);
                scanned += r.scanned();
            }
            f.end = r.end();
            if (r.torn() > 0) {
                ContainerWalker.Result last = r;
                cuts.add(() -> {
                    try {
                        long cut = cutTail(dev, base, last.end(), slotSize);
                        if (cut > 0) {
                            tornCut[0]++;
                            tornCut[1] += cut;
                            LOG.warn("container {} (device {} slot {}): cut {} bytes of torn tail at {} ({})", f.id,
                                    dev.path(), f.slot, cut, last.end(), last.why());
                        }
                    } catch (IOException e) {
                        cutFailed.add(e);
                    }
                });
            }
            done += Math.min(slotSize, dev.length() - base);
            progress.update("scanning", Math.min(done, total), total);
        }

        // 3. replay the journal in sequence order
        java.util.Set<Long> voided = new java.util.HashSet<>();
        for (JRec j : journal) {
            if (j.type() == JournalFormat.TYPE_VOID) {
                voided.add(JournalFormat.voided(ByteBuffer.wrap(j.payload())));
            }
        }
        journal.sort(Comparator.comparingLong(JRec::seq));
        JournalFormat.Catalogue catalogue = null;
        Map<Integer, Map<Long, Long>> maps = new HashMap<>();
        Map<Long, Long> location = new HashMap<>();
        long replayed = 0;
        for (JRec j : journal) {
            if (j.type() == JournalFormat.TYPE_VOID || voided.contains(j.seq())) {
                continue;
            }
            replayed++;
            Found holder = found.get(j.containerId());
            holder.records++;
            holder.journalBytes += j.length();
            if (j.type() == JournalFormat.TYPE_CATALOGUE) {
                catalogue = JournalFormat.readCatalogue(ByteBuffer.wrap(j.payload()));
            } else if (j.type() == JournalFormat.TYPE_CHANGES) {
                JournalFormat.readChanges(ByteBuffer.wrap(j.payload()), new JournalFormat.ChangeVisitor() {
                    @Override
                    public void map(int volume, long dblock, long chunkId) {
                        maps.computeIfAbsent(volume, k -> new HashMap<>()).put(dblock, chunkId);
                    }

                    @Override
                    public void location(long chunkId, int containerId, int offset, int length) {
                        location.put(chunkId, key(containerId, offset));
                    }

                    @Override
                    public void range(int volume, long first, long count, long chunkId) {
                        Map<Long, Long> m = maps.computeIfAbsent(volume, k -> new HashMap<>());
                        if (chunkId == JournalFormat.ZERO) {
                            for (long i = 0; i < count; i++) {
                                m.put(first + i, chunkId);
                            }
                        } else if (count <= m.size()) {
                            // unmapped: a block absent from the map is unmapped
                            for (long i = 0; i < count; i++) {
                                m.remove(first + i);
                            }
                        } else {
                            // a range larger than the map (an UNMAP or deletion of a whole volume)
                            m.keySet().removeIf(db -> db >= first && db - first < count);
                        }
                    }
                });
            }
        }
        journal.clear();
        if (catalogue == null) {
            catalogue = new JournalFormat.Catalogue(1, List.of());
            if (!found.isEmpty()) {
                LOG.warn("no volume catalogue found in the journal: the pool is rebuilt without volumes");
            }
        }

        // 4. derive: which chunk copy is live, refcounts, volumes
        Map<Long, ChunkRecord> chunks = new HashMap<>();
        Map<Long, Integer> refs = new HashMap<>();
        long lost = 0;
        long mapped = 0;
        List<VolumeRecord> volumes = new ArrayList<>();
        Map<Integer, TreeMap<Long, Long>> blocks = new TreeMap<>();
        int nextVolumeId = catalogue.nextVolumeId();
        for (JournalFormat.CatalogueEntry v : catalogue.volumes()) {
            nextVolumeId = Math.max(nextVolumeId, v.id() + 1);
            Map<Long, Long> m = maps.getOrDefault(v.id(), Map.of());
            TreeMap<Long, Long> out = new TreeMap<>();
            long data = 0;
            long zero = 0;
            for (Map.Entry<Long, Long> e : m.entrySet()) {
                long c = e.getValue();
                if (c == JournalFormat.UNMAPPED) {
                    continue;
                }
                if (c == JournalFormat.ZERO) {
                    out.put(e.getKey(), c);
                    zero++;
                    continue;
                }
                ChunkHdr h = null;
                Long at = location.get(c);
                if (at != null) {
                    h = chunkAt.get(at);
                    if (h != null && h.id() != c) {
                        h = null;
                    }
                }
                if (h == null) {
                    at = anyCopy.get(c);
                    h = at == null ? null : chunkAt.get(at);
                }
                if (h == null) {
                    lost++;
                    continue;
                }
                if (!chunks.containsKey(c)) {
                    int cid = (int) (at >>> 32);
                    int off = (int) (long) at;
                    chunks.put(c, new ChunkRecord(c, h.fingerprint(), cid, off, h.length(), h.originalLength(),
                            h.flags(), 0));
                }
                refs.merge(c, 1, Integer::sum);
                out.put(e.getKey(), c);
                data++;
            }
            mapped += data + zero;
            blocks.put(v.id(), out);
            volumes.add(new VolumeRecord(v.name(), v.id(), v.uuid(), v.logicalBlockSize(), v.dedupBlockSize(),
                    v.capacityBytes(), data, zero, v.readOnly(), v.origin(), v.originMillis(), v.dedupMode()));
        }
        maps.clear();
        if (lost > 0) {
            LOG.error("{} mapped block(s) name chunks whose records were found on no device; they read as unmapped",
                    lost);
            damage.add(lost + " mapped block(s) name chunk records found on no device");
        }
        if (!damage.isEmpty()) {
            for (String d : damage) {
                LOG.error("damaged: {}", d);
            }
            if (!acceptDamage) {
                // the journal records or chunk records lost there described blocks this rebuild would
                // read back as unmapped (zeros) or as their older content, with GOOD status
                throw new IOException("the devices are damaged (" + damage.size() + " finding(s), first: "
                        + damage.get(0) + "); a rebuild would read the blocks the damaged records described as"
                        + " zeros or older data. Nothing was written. Rebuild anyway with --accept-damage");
            }
        }
        for (Runnable c : cuts) {
            c.run();
        }
        if (!cutFailed.isEmpty()) {
            throw cutFailed.get(0);
        }
        tornTails = (int) tornCut[0];
        tornBytes = tornCut[1];
        long uniqueBytes = 0;
        long storedBytes = 0;
        TreeMap<Long, ChunkRecord> sortedChunks = new TreeMap<>();
        TreeMap<byte[], Long> index = new TreeMap<>(Arrays::compareUnsigned);
        for (ChunkRecord c : chunks.values()) {
            ChunkRecord r = c.withRefCount(refs.get(c.id()));
            sortedChunks.put(r.id(), r);
            uniqueBytes += r.originalLength();
            storedBytes += r.length();
            Found f = found.get(r.containerId());
            f.liveBytes += r.length();
            f.liveCount++;
            if (!RecordFormat.unhashed(r.fingerprint())) {
                index.merge(r.fingerprint(), r.id(), Math::max); // an unhashed chunk has no index entry
            }
        }
        chunks.clear();
        int nextContainerId = found.isEmpty() ? 1 : ((TreeMap<Integer, Found>) found).lastKey() + 1;

        // 5. write the tables, in key order, the counters last
        Files.createDirectories(metadataDir);
        try (MetaStore meta = MetaStore.open(metadataDir, mapSize)) {
            Writer w = new Writer(meta);
            progress.update("writing volumes", 0, 1);
            for (VolumeRecord v : volumes) {
                w.put(t -> t.putVolume(v));
            }
            long written = 0;
            for (Map.Entry<Integer, TreeMap<Long, Long>> e : blocks.entrySet()) {
                int vol = e.getKey();
                for (Map.Entry<Long, Long> b : e.getValue().entrySet()) {
                    long db = b.getKey();
                    long c = b.getValue();
                    w.put(t -> t.putBlock(vol, db, c));
                    if (++written % 65536 == 0) {
                        progress.update("writing block maps", written, mapped);
                    }
                }
            }
            progress.update("writing chunks", 0, sortedChunks.size());
            for (ChunkRecord c : sortedChunks.values()) {
                w.put(t -> t.putChunk(c));
            }
            for (Map.Entry<byte[], Long> e : index.entrySet()) {
                byte[] fp = e.getKey();
                long id = e.getValue();
                w.put(t -> t.putIndex(fp, id));
            }
            // a post-process volume's blocks that the pass had not reached are staged again (the
            // staged table is not journaled): each block whose chunk is not its fingerprint's
            // index entry, which the next pass shares or leaves as it is. Records written without
            // hashing carry no fingerprint (the pass kept the ones it computed in the metadata
            // only), so every block of a post-process volume, and every block of an inline
            // volume, that maps an unhashed chunk is staged: the pass hashes it again
            boolean stage = volumes.stream().anyMatch(v -> v.dedupMode() == io.orion.dedup.dedup.DedupMode.POST)
                    || sortedChunks.values().stream().anyMatch(c -> RecordFormat.unhashed(c.fingerprint()));
            if (stage) {
                meta.ensureStaged(); // created lazily (a pool without post-process volumes has none)
            }
            for (VolumeRecord v : stage ? volumes : List.<VolumeRecord>of()) {
                TreeMap<Long, Long> map = v.dedupMode() != io.orion.dedup.dedup.DedupMode.OFF ? blocks.get(v.id()) : null;
                if (map == null) {
                    continue;
                }
                boolean post = v.dedupMode() == io.orion.dedup.dedup.DedupMode.POST;
                for (Map.Entry<Long, Long> b : map.entrySet()) {
                    ChunkRecord c = b.getValue() > 0 ? sortedChunks.get(b.getValue()) : null;
                    if (c != null && (RecordFormat.unhashed(c.fingerprint())
                            || post && !Long.valueOf(c.id()).equals(index.get(c.fingerprint())))) {
                        long db = b.getKey();
                        w.put(t -> t.putStaged(v.id(), db));
                    }
                }
            }
            for (Found f : found.values()) {
                ContainerRecord r = new ContainerRecord(f.id, f.device, f.slot, true, f.end, f.liveBytes, f.liveCount,
                        f.records, f.journalBytes);
                w.put(t -> t.putContainer(r));
            }
            w.commit();
            PoolCounters counters = new PoolCounters(PoolCounters.FORMAT_VERSION, pool, slotSize,
                    Math.max(1, maxId[0] + 1), nextContainerId, Math.max(1, nextVolumeId), sortedChunks.size(),
                    uniqueBytes, storedBytes);
            w.put(t -> t.putCounters(counters));
            w.commit();
            for (BackingDevice d : devices) {
                d.force();
            }
            meta.sync();
        }
        progress.update("done", total, total);
        return new Summary(volumes.size(), sortedChunks.size(), mapped, found.size(), tornTails, tornBytes, scanned,
                replayed, lost, pool);
    }

    /**
     * True when the 64 bytes at a slot boundary that are no valid header are a damaged one: its magic
     * is intact (the CRC32C or the slot index failed) or one bit off. Zeros (a free slot) and other
     * bytes (what a raw device held before the pool) are not; nor is a damaged header whose slot holds
     * no record after it (a label-only header: nothing is lost), see {@link #holdsRecords}.
     */
    private static boolean holdsRecords(BackingDevice dev, int slot) throws IOException {
        long at = dev.slotBase(slot) + SlotHeader.SIZE;
        if (dev.regularFile() && dev.length() < at + 4) {
            return false;
        }
        ByteBuffer first = ByteBuffer.allocate(4);
        try {
            dev.read(first, at);
        } catch (EOFException e) {
            return false;
        }
        return first.flip().remaining() == 4 && first.getInt(0) != 0;
    }

    private static boolean damagedHeader(ByteBuffer b) {
        return b.remaining() >= SlotHeader.SIZE
                && Integer.bitCount(b.duplicate().order(ByteOrder.BIG_ENDIAN).getInt(0) ^ SlotHeader.MAGIC) <= 1;
    }

    /**
     * What the unreadable bytes at {@code end} of a container are.
     *
     * @param next offset (in the slot) of the next valid record after them, -1 when none follows
     * @param chunkRecord they are one chunk record (magic intact or one bit off; announced length up to
     *     {@code next}, or, when nothing follows, inside what was read): its loss shows in the blocks
     *     whose chunk is then found on no device
     * @param whole nothing follows and they are one whole record: no 64 or more of its bytes in one
     *     4 KiB page are zeros, as the pages a torn write never wrote are (else a torn tail)
     * @param hole they are zeros up to {@code next}, or a page of them was never written
     *     ({@link #unwritten}): room an
     *     append had reserved and never filled, or filled in part (it failed, or a crash came first),
     *     while later appends landed; such a record was never committed, nothing is lost there
     */
    private record Skip(long next, boolean chunkRecord, boolean whole, boolean hole) {
    }

    private static Skip skip(BackingDevice dev, long base, long end, long slotSize) throws IOException {
        long limit = Math.min(slotSize, dev.regularFile() ? dev.length() - base : slotSize);
        if (limit - end < JournalFormat.HEADER) {
            return new Skip(-1, false, false, false);
        }
        // read what follows in growing windows: the next valid record is usually near
        long window = Math.min(limit - end, 128 * 1024);
        ByteBuffer buf = window(dev, base + end, window);
        int magic = buf.getInt(0);
        int len = -1;
        boolean chunk = false;
        if (Integer.bitCount(magic ^ RecordFormat.MAGIC) <= 1 && buf.limit() >= RecordFormat.HEADER) {
            len = RecordFormat.HEADER + buf.getInt(20);
            chunk = true;
        } else if (Integer.bitCount(magic ^ JournalFormat.MAGIC) <= 1) {
            len = JournalFormat.HEADER + buf.getInt(16);
        }
        if (len < JournalFormat.HEADER || len > limit - end) {
            len = -1;
            chunk = false;
        }
        // the next valid record: right after the record the header announces, else the first anywhere on
        if (len > 0 && len + JournalFormat.HEADER <= buf.limit() && valid(buf, len)) {
            return new Skip(end + len, chunk, true, unwritten(buf, len, base + end));
        }
        int from = 1;
        while (true) {
            for (int i = from; i + JournalFormat.HEADER <= buf.limit(); i++) {
                if (valid(buf, i)) {
                    boolean zeros = true;
                    for (int z = 0; z < i && zeros; z++) {
                        zeros = buf.get(z) == 0;
                    }
                    return new Skip(end + i, false, true, zeros || unwritten(buf, i, base + end));
                }
            }
            if (buf.limit() >= limit - end) {
                break;
            }
            from = 1; // again from the start: a record cut off by the window's end is whole now
            window = Math.min(limit - end, window * 4);
            buf = window(dev, base + end, window);
        }
        if (len < 0 || len > buf.limit()) {
            return new Skip(-1, false, false, false);
        }
        if (unwritten(buf, len, base + end)) {
            return new Skip(-1, false, false, false);
        }
        return new Skip(-1, chunk, true, false);
    }

    /**
     * True when, of the first {@code len} bytes of {@code buf} (at device offset {@code abs}), the part
     * in some 4 KiB page is 64 bytes or more and all zeros: a page a write never wrote (a torn write,
     * or room reserved and never filled), which damage to written bytes does not make.
     */
    private static boolean unwritten(ByteBuffer buf, int len, long abs) {
        for (int at = 0; at < len; ) {
            int to = (int) Math.min(len, (abs + at) / 4096 * 4096 + 4096 - abs);
            if (to - at >= 64) {
                boolean zeros = true;
                for (int i = at; i < to && zeros; i++) {
                    zeros = buf.get(i) == 0;
                }
                if (zeros) {
                    return true;
                }
            }
            at = to;
        }
        return false;
    }

    private static ByteBuffer window(BackingDevice dev, long at, long n) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) n);
        try {
            dev.read(buf, at);
        } catch (EOFException e) {
            // what was read stays
        }
        return buf.flip();
    }

    /** True when a whole chunk or journal record that passes its check starts at {@code i} of {@code buf}. */
    private static boolean valid(ByteBuffer buf, int i) {
        if (i + JournalFormat.HEADER > buf.limit()) {
            return false;
        }
        int m = buf.getInt(i);
        if (m != RecordFormat.MAGIC && m != JournalFormat.MAGIC) {
            return false;
        }
        ByteBuffer view = buf.duplicate().position(i);
        int len = m == RecordFormat.MAGIC ? RecordFormat.announcedLength(view) : JournalFormat.announcedLength(view);
        if (len <= 0 || i + len > buf.limit()) {
            return false;
        }
        ByteBuffer rec = buf.duplicate().position(i).limit(i + len);
        return (m == RecordFormat.MAGIC ? RecordFormat.check(rec, -1) : JournalFormat.check(rec)) == null;
    }

    private static long key(int containerId, long offset) {
        return ((long) containerId << 32) | (offset & 0xFFFFFFFFL);
    }

    /** Zeros (or truncates, for the last slot of a plain file) the non-zero bytes after {@code end}. */
    private static long cutTail(BackingDevice dev, long base, long end, long slotSize) throws IOException {
        long len = dev.length();
        long limit = Math.min(slotSize, len - base);
        long last = end;
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        for (long pos = end; pos < limit; pos += buf.limit()) {
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), limit - pos));
            dev.read(buf, base + pos);
            buf.flip();
            for (int i = buf.limit() - 1; i >= 0; i--) {
                if (buf.get(i) != 0) {
                    last = Math.max(last, pos + i + 1);
                    break;
                }
            }
        }
        if (last <= end) {
            return 0;
        }
        if (dev.regularFile() && len <= base + slotSize) {
            dev.truncate(base + end);
        } else {
            ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(last - end, 1 << 20));
            for (long pos = end; pos < last; pos += zeros.limit()) {
                zeros.clear();
                zeros.limit((int) Math.min(zeros.capacity(), last - pos));
                dev.write(zeros, base + pos);
            }
        }
        return last - end;
    }

    /** Puts in large transactions; a full map grows and the pending puts are replayed. */
    private static final class Writer {
        private final MetaStore meta;
        private final List<java.util.function.Consumer<MetaWriteTxn>> pending = new ArrayList<>();

        Writer(MetaStore meta) {
            this.meta = meta;
        }

        void put(java.util.function.Consumer<MetaWriteTxn> op) {
            pending.add(op);
            if (pending.size() >= TXN_PUTS) {
                commit();
            }
        }

        void commit() {
            if (pending.isEmpty()) {
                return;
            }
            while (true) {
                MetaWriteTxn t = meta.write();
                try {
                    for (var op : pending) {
                        op.accept(t);
                    }
                    t.commit();
                    t.close();
                    pending.clear();
                    meta.keepReserve();
                    return;
                } catch (Env.MapFullException e) {
                    t.abort();
                    t.close();
                    meta.grow();
                }
            }
        }
    }
}
