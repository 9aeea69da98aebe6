package io.orion.dedup.dedup;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.containers.ChunkStore;
import io.orion.dedup.containers.Compression;
import io.orion.dedup.containers.Location;
import io.orion.dedup.containers.RecordFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Online recompression ({@code dedup-compression-optimize}): stores chunks written raw (compression
 * was off, or did not pay at the time) in the pool's current compressed form when that now pays.
 *
 * <p>Steps, each crash-safe, in groups of at most a quarter container: (1) page through the chunk
 * database with short read transactions and pick candidates: chunks stored raw, and, when the pool
 * compresses with LZ4 HC ({@code compression_level >= 2}), chunks stored LZ4 (the record format does
 * not say which LZ4 compressor wrote them, so the HC form is tried and kept only if smaller);
 * (2) read each candidate's record, check its CRC32C, header fingerprint and the SHA-256 of its
 * original bytes (a record that fails is left untouched and counted as a checksum error);
 * (3) compress with the pool's current settings and keep the result only when it is at most
 * {@code compression_threshold} times the original (and, for an LZ4 record, smaller than it was);
 * (4) append the new records (same chunk id and fingerprint, flag LZ4) to the open containers and
 * force the devices; (5) in one committer transaction point every chunk that is still where it was
 * read at its new record, exactly like cleanup relocates a live record, adjusting stored bytes by
 * the difference (the old record's bytes become reclaimable); (6) after the last group, flush.
 * A crash before (5) leaves the chunks at their old records (the new bytes are dead or cut as a
 * torn tail at the next open); after (5) the old records are garbage that cleanup compacts later.
 *
 * <p>Threads: runs on the caller's thread while I/O continues; holds the garbage collector's run
 * lock (one record-moving pass at a time). A chunk freed, overwritten or moved while its group was
 * being compressed keeps its current record; its new record is counted as garbage. Readers that
 * looked up an old location still find the old record (slots are only reused after cleanup).
 */
final class Recompressor {
    private static final Logger LOG = LoggerFactory.getLogger(Recompressor.class);
    private static final int PAGE = 1024;

    private final PoolOptions options;
    private final MetaStore meta;
    private final ChunkStore store;
    private final ChunkIo chunkIo;
    private final Committer committer;
    private final PoolHealth health;
    private final ReentrantLock runLock;
    private final MessageDigest sha256;
    private final WorkMonitor monitor;

    // figures of the pass
    private long scanned;
    private long examined;
    private long examinedBytes;
    private long leftRaw;
    private long kept;
    private long failed;
    private long changed;
    private long rawCompressed;
    private long lz4Recompressed;
    private long bytesBefore;
    private long bytesAfter;
    private long reclaimableAdded;

    /**
     * With progress (record bytes scanned), pacing and cancellation (between chunks) by {@code
     * monitor}; {@code runLock} is the lock of record-moving passes (cleanup's).
     */
    Recompressor(PoolOptions options, MetaStore meta, ChunkStore store, ChunkIo chunkIo, Committer committer,
                 PoolHealth health, ReentrantLock runLock, WorkMonitor monitor) {
        this.options = options;
        this.meta = meta;
        this.store = store;
        this.chunkIo = chunkIo;
        this.committer = committer;
        this.health = health;
        this.runLock = runLock;
        this.monitor = monitor;
        try {
            this.sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One candidate whose new record is ready: the chunk as read and its new, sealed record. */
    private record Candidate(ChunkRecord read, byte[] record, boolean wasLz4) {
    }

    /** What one group's commit did (computed inside the transaction, so a replay starts afresh). */
    private static final class Tally {
        long raw;
        long lz4;
        long changed;
        long before;
        long after;
        long reclaimable;
    }

    RecompressResult run(long fromChunkId, long maxChunks, long maxBytes) throws IOException {
        long t0 = System.nanoTime();
        Compression comp = chunkIo.compression();
        if (!comp.enabled()) {
            monitor.begin(0);
            return RecompressResult.disabled((System.nanoTime() - t0) / 1_000_000);
        }
        long resume = 0;
        runLock.lock();
        try {
            health.checkWritable();
            boolean recodeLz4 = comp.highCompression();
            int room = (int) Math.min(store.slotSize() / 4, 1 << 20);
            long rate = monitor.rate(options.gcBytesPerSecond());
            try (io.orion.dedup.meta.MetaTxn t = meta.read()) {
                monitor.begin(t.counters().storedBytes());
            }
            List<Candidate> group = new ArrayList<>();
            int groupBytes = 0;
            boolean committed = false;
            long next = Math.max(1, fromChunkId);
            scan:
            while (true) {
                List<ChunkRecord> page = meta.chunkPage(next, PAGE);
                for (ChunkRecord r : page) {
                    boolean lz4 = (r.flags() & RecordFormat.FLAG_LZ4) != 0;
                    if ((maxChunks > 0 && examined >= maxChunks) || (maxBytes > 0 && examinedBytes >= maxBytes)
                            || monitor.cancelled()) {
                        resume = r.id();
                        break scan;
                    }
                    scanned++;
                    monitor.advance(r.length());
                    if (lz4 && !recodeLz4) {
                        continue;
                    }
                    examined++;
                    examinedBytes += r.originalLength();
                    Candidate c = prepare(r, comp);
                    if (c == null) {
                        continue;
                    }
                    if (!group.isEmpty() && groupBytes + c.record.length > room) {
                        committed |= commit(group);
                        group.clear();
                        groupBytes = 0;
                        monitor.pace(examinedBytes, t0, rate, "recompression");
                    }
                    group.add(c);
                    groupBytes += c.record.length;
                }
                if (page.size() < PAGE) {
                    break;
                }
                next = page.get(page.size() - 1).id() + 1;
            }
            committed |= commit(group);
            if (committed) {
                committer.flush();
            }
        } finally {
            runLock.unlock();
        }
        RecompressResult result = new RecompressResult(true,
                comp.highCompression() ? "lz4-hc-" + Math.min(17, comp.level()) : "lz4-fast", scanned, examined,
                rawCompressed + lz4Recompressed, rawCompressed, lz4Recompressed, leftRaw, kept, failed, changed,
                bytesBefore, bytesAfter, bytesBefore - bytesAfter, reclaimableAdded, resume != 0, resume,
                (System.nanoTime() - t0) / 1_000_000);
        LOG.info("recompression: {}", result);
        return result;
    }

    /** Reads and checks one candidate and builds its compressed record; null when it stays as it is. */
    private Candidate prepare(ChunkRecord r, Compression comp) throws IOException {
        ChunkIo.Checked read = chunkIo.read(r, true);
        ByteBuffer rec = read.record();
        byte[] data = read.data();
        String bad = read.sound() ? ChunkIo.contentProblem(data, r, sha256) : read.problem();
        if (bad != null) {
            if (stillAt(r)) {
                failed++;
                chunkIo.countChecksumError(r);
                LOG.error("recompression: chunk {} in container {} at offset {} failed its check ({}); left as it is",
                        r.id(), r.containerId(), r.offset(), bad);
            } else {
                changed++;
            }
            return null;
        }
        boolean wasLz4 = (RecordFormat.flags(rec) & RecordFormat.FLAG_LZ4) != 0;
        int oldPayload = RecordFormat.payloadLength(rec);
        byte[] packed = comp.tryCompress(ByteBuffer.wrap(data));
        if (packed == null || (wasLz4 && packed.length >= oldPayload)) {
            if (wasLz4) {
                kept++;
            } else {
                leftRaw++;
            }
            return null;
        }
        byte[] out = new byte[RecordFormat.HEADER + packed.length];
        System.arraycopy(packed, 0, out, RecordFormat.HEADER, packed.length);
        RecordFormat.seal(out, r.id(), r.fingerprint(), lz4Flags(r), data.length, packed.length);
        return new Candidate(r, out, wasLz4);
    }

    /** True if chunk {@code r} still exists at the location it was read from. */
    private boolean stillAt(ChunkRecord r) throws IOException {
        try (MetaTxn t = meta.read()) {
            ChunkRecord now = t.chunk(r.id());
            return now != null && now.location().equals(r.location());
        }
    }

    /** Appends a group's records, forces the devices and repoints the chunks; true if anything committed. */
    private boolean commit(List<Candidate> group) throws IOException {
        if (group.isEmpty()) {
            return false;
        }
        if (health.isClosed()) {
            throw new IOException("pool is closing");
        }
        int total = 0;
        for (Candidate c : group) {
            total += c.record.length;
        }
        byte[] joined = new byte[total];
        int off = 0;
        for (Candidate c : group) {
            System.arraycopy(c.record, 0, joined, off, c.record.length);
            off += c.record.length;
        }
        Location at = store.append(joined, total);
        List<Location> to = new ArrayList<>(group.size());
        int pos = at.offset();
        for (int i = 0; i < group.size(); i++) {
            if (i > 0) {
                // the store counted one pending record for the joined write; count the rest
                store.container(at.containerId()).pendingIncrement();
            }
            int len = group.get(i).record.length;
            to.add(new Location(at.containerId(), pos, len));
            pos += len;
        }
        Tally tally;
        try {
            store.forceAll();
            tally = committer.run(b -> {
                Tally t = new Tally();
                for (int i = 0; i < group.size(); i++) {
                    Candidate c = group.get(i);
                    Location loc = to.get(i);
                    ChunkRecord cur = b.chunk(c.read.id());
                    if (cur != null && cur.location().equals(c.read.location())) {
                        b.restore(cur, loc, lz4Flags(cur));
                        if (c.wasLz4) {
                            t.lz4++;
                        } else {
                            t.raw++;
                        }
                        t.before += cur.length();
                        t.after += loc.length();
                        t.reclaimable += cur.length();
                    } else {
                        b.noteEnd(loc);
                        t.changed++;
                        t.reclaimable += loc.length();
                    }
                }
                b.afterCommit.add(() -> to.forEach(store::release));
                return t;
            });
        } catch (IOException | RuntimeException e) {
            to.forEach(store::release);
            throw e;
        }
        rawCompressed += tally.raw;
        lz4Recompressed += tally.lz4;
        changed += tally.changed;
        bytesBefore += tally.before;
        bytesAfter += tally.after;
        reclaimableAdded += tally.reclaimable;
        return true;
    }


    /** Flags of an LZ4 record of chunk {@code r}: unhashed too while the chunk has no fingerprint yet. */
    private static int lz4Flags(ChunkRecord r) {
        return RecordFormat.FLAG_LZ4 | (RecordFormat.unhashed(r.fingerprint()) ? RecordFormat.FLAG_UNHASHED : 0);
    }
}
