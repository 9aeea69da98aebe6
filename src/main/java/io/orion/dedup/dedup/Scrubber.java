package io.orion.dedup.dedup;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaCorruptException;
import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaDamage;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.meta.VolumeRecord;
import io.orion.dedup.containers.ChunkStore;
import io.orion.dedup.containers.RecordFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Verification pass (scrub): first checks the metadata file's integrity ({@link MetaStore#verify()}:
 * every page and entry of {@code data.mdb}) and the cross-table invariants ({@link MetaCrossCheck}:
 * refcounts, volume counters, index; in one read snapshot); damage found turns the pool read-only.
 * It reports the
 * containers found damaged at open (slot headers), then reads every chunk record the metadata
 * references, checks its CRC32C and header, decompresses it and recomputes its SHA-256
 * fingerprint. Pages through the chunk database with short read transactions while I/O and cleanup
 * continue (damaged key ranges are skipped, not walked); a chunk that moved or vanished between
 * page and read is looked up again rather than reported. Every error is counted and the pass goes on,
 * a record the device cannot read (EIO) too ({@code read_errors}: traced to its blocks, known to the
 * pool as damaged so that a write of its content heals it, and repaired with {@code repair}).
 *
 * <p>Last it walks every volume's block map (pages of short read transactions) and checks that
 * each mapped block names a chunk that exists (a block whose chunk is missing is a
 * {@code map_errors} problem); a chunk the pass found damaged is traced to the volumes and LBA
 * ranges that map it ({@link ScrubResult#affected()}), so an admin knows which LUN data is hurt.
 *
 * <p>Progress, pacing and cancellation go through a {@link WorkMonitor}: the chunk phase reports
 * record bytes read against the pool's stored bytes; a cancelled pass stops between chunks (or
 * block-map pages) and returns what it checked, marked {@code cancelled}. A scrub changes no
 * metadata, so stopping it anywhere leaves the pool as it was.
 *
 * <p>With {@code repair} ({@code scrub --repair}), after the chunk walk and before the block maps,
 * each damaged chunk found is rewritten from a good copy of its content, in this order: the block
 * cache's entry for that chunk id; the chunk indexed under its fingerprint; any other chunk record
 * with its fingerprint (reference copies of saturated chunks), found by one more walk of the chunk
 * table's metadata (no record reads) when needed. A copy is used only if its bytes have the chunk's
 * length and their SHA-256 is the chunk's fingerprint; an unhashed chunk (no fingerprint) is never
 * repaired, and with {@code verify} (which never trusts a fingerprint alone) only the block cache's
 * copy of the very chunk is used. The rewrite is the heal path's, in groups of up to 256 chunks or
 * 4 MiB: a record with each chunk's id is appended, the devices forced, and one committer
 * transaction moves each chunk to its new record if the chunk still lies in the damaged record (a
 * write that healed it meanwhile, or an unmap that freed it, wins; the new record is then dead).
 * The pass holds the record-moving lock (cleanup, recompression) while it repairs, refuses to
 * write in a read-only pool, and flushes at the end.
 * Damaged chunks repaired are left out of {@code affected}.
 */
final class Scrubber {
    private static final int PAGE = 1024;
    private static final int MAX_PROBLEMS = 100;
    private static final int MAP_PAGE = 4096;
    /** Damaged chunks traced to their blocks (more are counted, not traced). */
    private static final int MAX_TRACED = 10_000;
    private static final int MAX_AFFECTED = 1000;

    private final PoolOptions options;
    private final MetaStore meta;
    private final ChunkStore store;
    private final ChunkIo chunkIo;
    private final Committer committer;
    private final PoolHealth health;
    /** The lock of record-moving passes (cleanup's), taken by a repair. */
    private final ReentrantLock recordMoveLock;
    /** What the pool's open found damaged (reported again by every scrub). */
    private final List<String> openDamage;
    private final WorkMonitor monitor;
    private long mapErrors;
    private long mappedBlocks;
    private boolean cancelled;
    /** Damaged chunk id -> what was wrong, for tracing to blocks. */
    private final Map<Long, String> damaged = new LinkedHashMap<>();
    private final List<ScrubResult.Affected> affected = new ArrayList<>();
    private long checked;
    private long bytes;
    private long crcErrors;
    private long fpMismatches;
    private long metaErrors;
    private long containerErrors;
    private long readErrors;
    private final List<String> problems = new ArrayList<>();
    private final boolean repair;
    private long repaired;
    private final List<ScrubResult.Unrepairable> unrepairable = new ArrayList<>();
    private long unrepairableCount;

    /**
     * A pass over the pool's chunks and metadata with progress, pacing and cancellation by {@code
     * monitor}; with {@code repair}, damaged chunks are rewritten from a good copy.
     */
    Scrubber(PoolOptions options, MetaStore meta, ChunkStore store, ChunkIo chunkIo, Committer committer,
             PoolHealth health, ReentrantLock recordMoveLock, List<String> openDamage, WorkMonitor monitor,
             boolean repair) {
        this.options = options;
        this.meta = meta;
        this.store = store;
        this.chunkIo = chunkIo;
        this.committer = committer;
        this.health = health;
        this.recordMoveLock = recordMoveLock;
        this.openDamage = openDamage;
        this.monitor = monitor;
        this.repair = repair;
    }

    ScrubResult run() throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        MetaDamage damage = meta.verify();
        for (String p : damage.problems()) {
            metaErrors++;
            problem("metadata: " + p);
        }
        if (!damage.isEmpty()) {
            health.untrust(damage.summary());
        }
        // with damaged ranges left out, the tables cannot agree: the cross-check would only echo them
        try (MetaTxn t = damage.isEmpty() ? meta.read() : null) {
            MetaCrossCheck.Report x = t == null ? new MetaCrossCheck.Report(List.of(), 0, 0, 0, 0)
                    : MetaCrossCheck.run(t);
            for (String p : x.problems()) {
                metaErrors++;
                problem("metadata: " + p);
            }
            if (!x.problems().isEmpty()) {
                health.untrust("metadata tables disagree: " + x.problems().get(0));
            }
        } catch (MetaCorruptException e) {
            metaErrors++;
            problem("metadata: " + e.getMessage());
            health.untrust(e.getMessage());
        }
        for (String d : openDamage) {
            containerErrors++;
            problem("container: " + d);
        }
        long total;
        try (MetaTxn t = meta.read()) {
            total = t.counters().storedBytes();
        } catch (MetaCorruptException e) {
            total = 0;
        }
        monitor.begin(total);
        long rate = monitor.rate(0);
        long t0 = System.nanoTime();
        long next = 1;
        while (!cancelled) {
            List<ChunkRecord> page;
            try {
                page = meta.chunkPage(next, PAGE);
            } catch (MetaCorruptException e) {
                metaErrors++;
                problem("metadata: " + e.getMessage());
                health.untrust(e.getMessage());
                break; // the damage was not known to the integrity check: the chunks after it are not walked
            }
            if (page.isEmpty()) {
                break;
            }
            for (ChunkRecord r : page) {
                if (monitor.cancelled()) {
                    cancelled = true;
                    break;
                }
                long before = bytes;
                check(r, md, true);
                monitor.advance(bytes - before);
                monitor.pace(bytes, t0, rate, "scrub");
            }
            next = page.get(page.size() - 1).id() + 1;
            if (page.size() < PAGE) {
                break;
            }
        }
        if (repair) {
            repairDamaged(md);
        }
        if (!cancelled) {
            walkBlockMaps();
        }
        return new ScrubResult(checked, bytes, crcErrors, fpMismatches, metaErrors, containerErrors,
                List.copyOf(problems), mapErrors, mappedBlocks, List.copyOf(affected), cancelled, repair, repaired,
                unrepairableCount, List.copyOf(unrepairable), readErrors);
    }

    // ---- repair (scrub --repair) -------------------------------------------------------------

    /** Rewrites the damaged chunks found from good copies; see the class comment. */
    private void repairDamaged(MessageDigest md) throws IOException {
        long untraced = crcErrors + fpMismatches + readErrors - damaged.size(); // found past MAX_TRACED: not attempted
        if (damaged.isEmpty() && untraced <= 0) {
            return;
        }
        List<Long> ids = new ArrayList<>(damaged.keySet());
        String readOnly = null;
        try {
            health.checkWritable();
        } catch (IOException e) {
            readOnly = e.getMessage();
        }
        ReentrantLock lock = recordMoveLock;
        boolean wrote = false;
        if (readOnly == null) {
            lock.lock();
        }
        try {
            Map<Long, ChunkRecord> pending = new LinkedHashMap<>(); // no copy found yet: look for siblings
            // (chunks with a copy are rewritten in groups: rewrite() queues, rewriteGroup() writes)
            for (long id : ids) {
                if (readOnly != null) {
                    unrepairable(id, "not repaired: " + readOnly);
                    continue;
                }
                if (cancelled || monitor.cancelled()) {
                    cancelled = true;
                    unrepairable(id, "not repaired: the scrub was cancelled");
                    continue;
                }
                ChunkRecord r = current(id);
                if (r == null) {
                    continue; // freed or rewritten by a write since the walk: no longer damaged
                }
                if (RecordFormat.unhashed(r.fingerprint())) {
                    unrepairable(id, "no fingerprint (written unhashed): a copy cannot be verified");
                    continue;
                }
                byte[] good = fromCache(r, md);
                if (good == null && !options.verify()) {
                    good = fromIndex(r, md);
                }
                if (good == null) {
                    pending.put(id, r);
                    continue;
                }
                wrote |= rewrite(r, good);
            }
            wrote |= rewriteGroup(); // before the walk for siblings, which may take a while
            if (!pending.isEmpty()) {
                Map<Long, List<Long>> siblings = options.verify() ? Map.of() : siblings(pending);
                for (ChunkRecord r : pending.values()) {
                    byte[] good = null;
                    for (long s : siblings.getOrDefault(r.id(), List.of())) {
                        good = readGood(s, r, md);
                        if (good != null) {
                            break;
                        }
                    }
                    if (good == null) {
                        if (current(r.id()) == null) {
                            continue; // healed by a write (which drops its cache entry) or freed meanwhile
                        }
                        unrepairable(r.id(), options.verify()
                                ? "no good copy in the block cache (with verify, copies with the same fingerprint are not trusted)"
                                : "no good copy found (block cache, other records with its fingerprint)");
                        continue;
                    }
                    wrote |= rewrite(r, good);
                }
            }
            wrote |= rewriteGroup();
            if (wrote) {
                try {
                    committer.flush();
                } catch (IOException e) {
                    if (health.readOnlyReason() == null) {
                        throw e;
                    }
                    // a failed fsync during the repair turned the pool read-only, and no later
                    // flush can succeed (BackingDevice.force): reported, as the repair's outcome
                    problem("the repairs could not be flushed: " + e.getMessage());
                }
            }
        } finally {
            if (readOnly == null) {
                lock.unlock();
            }
        }
        if (untraced > 0) {
            unrepairableCount += untraced;
            problem(untraced + " more damaged chunks were not attempted (over " + MAX_TRACED
                    + " found): run scrub --repair again");
        }
    }

    /** The chunk's record now if it still lies where the walk found it damaged, else null. */
    private ChunkRecord current(long id) throws IOException {
        try (MetaTxn t = meta.read()) {
            ChunkRecord now = t.chunk(id);
            return now != null && chunkIo.isDamaged(id) ? now : null;
        } catch (MetaCorruptException e) {
            unrepairable(id, "not repaired: its metadata entry is damaged: " + e.getMessage());
            return null;
        }
    }

    /** The block cache's copy of chunk {@code r} (keyed by chunk id), if it holds the chunk's content. */
    private byte[] fromCache(ChunkRecord r, MessageDigest md) {
        byte[] hit = chunkIo.blockCache().get(r.id());
        byte[] copy = hit == null ? null : hit.clone(); // the bytes checked are the bytes written
        return copy != null && matches(copy, r, md) ? copy : null;
    }

    /** The content of the chunk indexed under {@code r}'s fingerprint, if another and sound. */
    private byte[] fromIndex(ChunkRecord r, MessageDigest md) throws IOException {
        long idx;
        try (MetaTxn t = meta.read()) {
            idx = t.index(r.fingerprint());
        } catch (MetaCorruptException e) {
            return null;
        }
        return idx > 0 && idx != r.id() && !chunkIo.isDamaged(idx) ? readGood(idx, r, md) : null;
    }

    /**
     * Other chunks with the fingerprints of {@code wanted} (reference copies of saturated chunks
     * have records of their own, and only the newest copy is indexed): one walk of the chunk
     * table's metadata, at most 4 candidates per damaged chunk.
     */
    private Map<Long, List<Long>> siblings(Map<Long, ChunkRecord> wanted) throws IOException {
        Map<Fingerprint, List<Long>> byFp = new java.util.HashMap<>();
        for (ChunkRecord r : wanted.values()) {
            byFp.computeIfAbsent(new Fingerprint(r.fingerprint()), k -> new ArrayList<>()).add(r.id());
        }
        Map<Long, List<Long>> out = new java.util.HashMap<>();
        long next = 1;
        while (!monitor.cancelled()) {
            List<ChunkRecord> page;
            try {
                page = meta.chunkPage(next, PAGE);
            } catch (MetaCorruptException e) {
                break;
            }
            for (ChunkRecord c : page) {
                List<Long> damagedIds = byFp.get(new Fingerprint(c.fingerprint()));
                if (damagedIds == null || chunkIo.isDamaged(c.id())) {
                    continue;
                }
                for (long d : damagedIds) {
                    List<Long> l = out.computeIfAbsent(d, k -> new ArrayList<>());
                    if (d != c.id() && l.size() < 4) {
                        l.add(c.id());
                    }
                }
            }
            if (page.size() < PAGE) {
                break;
            }
            next = page.get(page.size() - 1).id() + 1;
        }
        return out;
    }

    /** Reads chunk {@code source}'s record and returns its content if sound and {@code r}'s content. */
    private byte[] readGood(long source, ChunkRecord r, MessageDigest md) throws IOException {
        ChunkRecord s;
        try (MetaTxn t = meta.read()) {
            s = t.chunk(source);
        } catch (MetaCorruptException e) {
            return null;
        }
        if (s == null || !Arrays.equals(s.fingerprint(), r.fingerprint())) {
            return null;
        }
        try {
            ChunkIo.Checked read = chunkIo.read(s, true);
            return read.sound() && matches(read.data(), r, md) ? read.data() : null; // never an unhashed sibling
        } catch (java.io.InterruptedIOException | java.nio.channels.ClosedChannelException e) {
            throw e;
        } catch (IOException e) {
            if (health.isClosed()) {
                throw e;
            }
            return null; // the source cannot be read (EIO): no good copy there
        }
    }

    /** True if {@code data} is chunk {@code r}'s content: its length, and its SHA-256 is the fingerprint. */
    private static boolean matches(byte[] data, ChunkRecord r, MessageDigest md) {
        return data.length == r.originalLength() && Arrays.equals(md.digest(data), r.fingerprint());
    }

    /** Chunks with their good content waiting to be rewritten together (one force, one transaction). */
    private final List<ChunkRecord> group = new ArrayList<>();
    private final List<byte[]> groupData = new ArrayList<>();
    private long groupBytes;
    private static final int GROUP_CHUNKS = 256;
    private static final long GROUP_BYTES = 4 << 20;

    /** Queues {@code r} for a rewrite with {@code good}; rewrites the group when full; true if records were appended. */
    private boolean rewrite(ChunkRecord r, byte[] good) throws IOException {
        group.add(r);
        groupData.add(good);
        groupBytes += good.length;
        return group.size() >= GROUP_CHUNKS || groupBytes >= GROUP_BYTES ? rewriteGroup() : false;
    }

    /**
     * Appends a record with each queued chunk's id and good content, forces the devices, and in one
     * committer transaction moves every chunk that still lies in its damaged record to its new
     * record (the others' new records are dead); true if records were appended.
     */
    private boolean rewriteGroup() throws IOException {
        if (group.isEmpty()) {
            return false;
        }
        List<ChunkRecord> rs = List.copyOf(group);
        List<PendingChunk> ps = new ArrayList<>(rs.size());
        List<ByteBuffer> data = new ArrayList<>(rs.size());
        for (int i = 0; i < rs.size(); i++) {
            ps.add(new PendingChunk(new Fingerprint(rs.get(i).fingerprint()), rs.get(i).id(), true));
            data.add(ByteBuffer.wrap(groupData.get(i)));
        }
        group.clear();
        groupData.clear();
        groupBytes = 0;
        try {
            chunkIo.append(ps, data);
        } catch (IOException e) {
            ps.forEach(p -> p.release(store));
            rs.forEach(r -> unrepairable(r.id(), "not repaired: its new record could not be written: " + e.getMessage()));
            return false;
        }
        boolean[] moved;
        try {
            store.forceAll();
        } catch (IOException e) {
            health.untrust("flush to the backing devices failed: " + e.getMessage());
            ps.forEach(p -> p.release(store));
            rs.forEach(r -> unrepairable(r.id(), "not repaired: " + e.getMessage()));
            return true;
        }
        try {
            moved = committer.run(b -> {
                boolean[] m = new boolean[rs.size()];
                for (int i = 0; i < rs.size(); i++) {
                    ChunkRecord r = rs.get(i);
                    PendingChunk p = ps.get(i);
                    ChunkRecord cur = b.chunk(r.id());
                    if (cur != null && cur.location().equals(r.location())
                            && Arrays.equals(cur.fingerprint(), r.fingerprint())) {
                        b.restore(cur, p.location, p.flags);
                        b.afterCommit.add(() -> chunkIo.repaired(r.id()));
                        m[i] = true;
                    } else {
                        b.noteEnd(p.location); // healed or freed meanwhile: the new record is dead
                    }
                }
                return m;
            });
        } catch (IOException e) {
            rs.forEach(r -> unrepairable(r.id(), "not repaired: " + e.getMessage()));
            return true;
        } finally {
            ps.forEach(p -> p.release(store));
        }
        for (int i = 0; i < rs.size(); i++) {
            if (moved[i]) {
                repaired++;
                damaged.remove(rs.get(i).id());
                problem("chunk " + rs.get(i).id() + ": repaired from a good copy of its content");
            }
        }
        return true;
    }

    private void unrepairable(long chunk, String why) {
        unrepairableCount++;
        if (unrepairable.size() < MAX_AFFECTED) {
            unrepairable.add(new ScrubResult.Unrepairable(chunk, why));
        }
    }

    /**
     * Checks that every mapped block of every volume names an existing chunk, and traces the
     * damaged chunks to the LBA ranges that map them.
     */
    private void walkBlockMaps() throws IOException {
        List<VolumeRecord> volumes;
        try (MetaTxn t = meta.read()) {
            volumes = t.volumes();
        } catch (MetaCorruptException e) {
            metaErrors++;
            problem("metadata: " + e.getMessage());
            return;
        }
        for (VolumeRecord v : volumes) {
            long perBlock = Math.max(1, v.dedupBlockSize() / Math.max(1, v.logicalBlockSize()));
            long[] next = {0};
            boolean more = true;
            while (more) {
                if (monitor.cancelled()) {
                    cancelled = true;
                    return;
                }
                int[] seen = {0};
                try (MetaTxn t = meta.read()) {
                    t.scanBlocks(v.id(), next[0], Long.MAX_VALUE, (dblock, chunkId) -> {
                        next[0] = dblock + 1;
                        if (chunkId != MetaTxn.ZERO) {
                            mappedBlocks++;
                            ChunkRecord c;
                            try {
                                c = t.chunk(chunkId);
                            } catch (MetaCorruptException e) {
                                // the chunk's entry is damaged: the integrity check and the chunk walk
                                // reported it already; its blocks read as MEDIUM ERROR
                                return ++seen[0] < MAP_PAGE;
                            }
                            if (c == null) {
                                mapErrors++;
                                problem("block map: volume " + v.name() + " LBA " + dblock * perBlock + "-"
                                        + ((dblock + 1) * perBlock - 1) + " maps chunk " + chunkId
                                        + ", which does not exist");
                            } else if (damaged.containsKey(chunkId)) {
                                affect(chunkId, v.name(), dblock * perBlock, (dblock + 1) * perBlock - 1);
                            }
                        }
                        return ++seen[0] < MAP_PAGE;
                    });
                } catch (MetaCorruptException e) {
                    if (meta.damage().isEmpty()) {
                        metaErrors++;
                        problem("metadata: " + e.getMessage());
                        health.untrust(e.getMessage());
                    } // else: damage the integrity check found and reported already
                    break; // the rest of this volume's map lies behind damage: not walked
                }
                more = seen[0] == MAP_PAGE;
            }
        }
    }

    /** Adds an LBA range of {@code volume} mapping damaged chunk {@code chunk}, merged with the last one. */
    private void affect(long chunk, String volume, long first, long last) {
        if (!affected.isEmpty()) {
            ScrubResult.Affected a = affected.get(affected.size() - 1);
            if (a.chunk() == chunk && a.volume().equals(volume) && a.lastLba() + 1 == first) {
                affected.set(affected.size() - 1, new ScrubResult.Affected(chunk, volume, a.firstLba(), last,
                        a.problem()));
                return;
            }
        }
        if (affected.size() < MAX_AFFECTED) {
            affected.add(new ScrubResult.Affected(chunk, volume, first, last, damaged.get(chunk)));
        }
    }

    private void check(ChunkRecord r, MessageDigest md, boolean retry) throws IOException {
        String why;
        boolean unreadable = false;
        byte[] data = null;
        try {
            ChunkIo.Checked read = chunkIo.read(r, true);
            why = read.problem();
            data = read.data();
        } catch (java.io.InterruptedIOException | java.nio.channels.ClosedChannelException e) {
            throw e;
        } catch (IOException e) {
            if (health.isClosed()) {
                throw e; // the pool is closing: not the record's fault
            }
            // the device failed the read (EIO): the record cannot be checked; its blocks answer MEDIUM ERROR
            why = "cannot be read: " + e.getMessage();
            unreadable = true;
        }
        if (why != null && retry) {
            ChunkRecord now;
            try (MetaTxn t = meta.read()) {
                now = t.chunk(r.id());
            } catch (MetaCorruptException e) {
                now = r;
            }
            if (now == null) {
                return;
            }
            if (!now.location().equals(r.location())) {
                check(now, md, false);
                return;
            }
        }
        checked++;
        bytes += r.length();
        if (unreadable) {
            readErrors++;
            chunkIo.noteUnreadable(r);
            problem("chunk " + r.id() + " (container " + r.containerId() + ", offset " + r.offset() + "): " + why);
            trace(r.id(), why);
            return;
        }
        if (why != null) {
            crcErrors++;
            chunkIo.countChecksumError(r);
            problem("chunk " + r.id() + " (container " + r.containerId() + ", offset " + r.offset() + "): " + why);
            trace(r.id(), why);
            return;
        }
        if (ChunkIo.contentProblem(data, r, md) != null) {
            fpMismatches++;
            chunkIo.countChecksumError(r);
            problem("chunk " + r.id() + " (container " + r.containerId() + ", offset " + r.offset()
                    + "): content does not match its SHA-256 fingerprint");
            trace(r.id(), "content does not match its SHA-256 fingerprint");
        }
    }

    private void trace(long chunk, String why) {
        if (damaged.size() < MAX_TRACED) {
            damaged.put(chunk, why);
        }
    }

    private void problem(String s) {
        if (problems.size() < MAX_PROBLEMS) {
            problems.add(s);
        }
    }
}
