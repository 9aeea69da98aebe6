package io.orion.dedup.dedup;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaCorruptException;
import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaDamage;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.meta.VolumeRecord;
import io.orion.dedup.storage.ChecksumMismatchException;
import io.orion.dedup.store.RecordFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Verification pass (scrub): first checks the metadata file's integrity ({@link MetaStore#verify()}:
 * every page and entry of {@code data.mdb}) and the cross-table invariants ({@link MetaCrossCheck}:
 * refcounts, volume counters, index; in one read snapshot); damage found turns the pool read-only.
 * It reports the
 * containers found damaged at open (slot headers), then reads every chunk record the metadata
 * references, checks its CRC32C and header, decompresses it and recomputes its SHA-256
 * fingerprint. Pages through the chunk database with short read transactions while I/O and cleanup
 * continue (damaged key ranges are skipped, not walked); a chunk that moved or vanished between
 * page and read is looked up again rather than reported. Every error is counted and the pass goes on.
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
 */
final class Scrubber {
    private static final int PAGE = 1024;
    private static final int MAX_PROBLEMS = 100;
    private static final int MAP_PAGE = 4096;
    /** Damaged chunks traced to their blocks (more are counted, not traced). */
    private static final int MAX_TRACED = 10_000;
    private static final int MAX_AFFECTED = 1000;

    private final DedupPool pool;
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
    private final List<String> problems = new ArrayList<>();

    Scrubber(DedupPool pool) {
        this(pool, WorkMonitor.NONE);
    }

    Scrubber(DedupPool pool, WorkMonitor monitor) {
        this.pool = pool;
        this.monitor = monitor;
    }

    ScrubResult run() throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        MetaDamage damage = pool.meta().verify();
        for (String p : damage.problems()) {
            metaErrors++;
            problem("metadata: " + p);
        }
        if (!damage.isEmpty()) {
            pool.untrust(damage.summary());
        }
        // with damaged ranges left out, the tables cannot agree: the cross-check would only echo them
        try (MetaTxn t = damage.isEmpty() ? pool.meta().read() : null) {
            MetaCrossCheck.Report x = t == null ? new MetaCrossCheck.Report(List.of(), 0, 0, 0, 0)
                    : MetaCrossCheck.run(t);
            for (String p : x.problems()) {
                metaErrors++;
                problem("metadata: " + p);
            }
            if (!x.problems().isEmpty()) {
                pool.untrust("metadata tables disagree: " + x.problems().get(0));
            }
        } catch (MetaCorruptException e) {
            metaErrors++;
            problem("metadata: " + e.getMessage());
            pool.untrust(e.getMessage());
        }
        for (String d : pool.openReport().damage()) {
            containerErrors++;
            problem("container: " + d);
        }
        long total;
        try (MetaTxn t = pool.meta().read()) {
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
                page = pool.chunkPage(next, PAGE);
            } catch (MetaCorruptException e) {
                metaErrors++;
                problem("metadata: " + e.getMessage());
                pool.untrust(e.getMessage());
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
        if (!cancelled) {
            walkBlockMaps();
        }
        return new ScrubResult(checked, bytes, crcErrors, fpMismatches, metaErrors, containerErrors,
                List.copyOf(problems), mapErrors, mappedBlocks, List.copyOf(affected), cancelled);
    }

    /**
     * Checks that every mapped block of every volume names an existing chunk, and traces the
     * damaged chunks to the LBA ranges that map them.
     */
    private void walkBlockMaps() throws IOException {
        List<VolumeRecord> volumes;
        try (MetaTxn t = pool.meta().read()) {
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
                try (MetaTxn t = pool.meta().read()) {
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
                    if (pool.meta().damage().isEmpty()) {
                        metaErrors++;
                        problem("metadata: " + e.getMessage());
                        pool.untrust(e.getMessage());
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
        byte[] data = null;
        try {
            ByteBuffer rec = pool.store().readRaw(r.containerId(), r.offset(), r.length());
            why = RecordFormat.check(rec, r.id());
            if (why == null) {
                data = pool.compression().payload(rec);
            }
        } catch (ChecksumMismatchException e) {
            why = e.getMessage();
        }
        if (why != null && retry) {
            ChunkRecord now;
            try (MetaTxn t = pool.meta().read()) {
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
        if (why != null) {
            crcErrors++;
            pool.countChecksumError(r);
            problem("chunk " + r.id() + " (container " + r.containerId() + ", offset " + r.offset() + "): " + why);
            trace(r.id(), why);
            return;
        }
        byte[] fp = md.digest(data);
        if (data.length != r.originalLength()
                || !RecordFormat.unhashed(r.fingerprint()) && !Arrays.equals(fp, r.fingerprint())) {
            fpMismatches++;
            pool.countChecksumError(r);
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
