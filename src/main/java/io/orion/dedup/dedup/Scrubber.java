package io.orion.dedup.dedup;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaCorruptException;
import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaDamage;
import io.orion.dedup.meta.MetaStore;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.storage.ChecksumMismatchException;
import io.orion.dedup.store.RecordFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

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
 */
final class Scrubber {
    private static final int PAGE = 1024;
    private static final int MAX_PROBLEMS = 100;

    private final DedupPool pool;
    private long checked;
    private long bytes;
    private long crcErrors;
    private long fpMismatches;
    private long metaErrors;
    private long containerErrors;
    private final List<String> problems = new ArrayList<>();

    Scrubber(DedupPool pool) {
        this.pool = pool;
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
        long next = 1;
        while (true) {
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
                check(r, md, true);
            }
            next = page.get(page.size() - 1).id() + 1;
            if (page.size() < PAGE) {
                break;
            }
        }
        return new ScrubResult(checked, bytes, crcErrors, fpMismatches, metaErrors, containerErrors,
                List.copyOf(problems));
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
            pool.countChecksumError();
            problem("chunk " + r.id() + " (container " + r.containerId() + ", offset " + r.offset() + "): " + why);
            return;
        }
        byte[] fp = md.digest(data);
        if (!Arrays.equals(fp, r.fingerprint()) || data.length != r.originalLength()) {
            fpMismatches++;
            pool.countChecksumError();
            problem("chunk " + r.id() + " (container " + r.containerId() + ", offset " + r.offset()
                    + "): content does not match its SHA-256 fingerprint");
        }
    }

    private void problem(String s) {
        if (problems.size() < MAX_PROBLEMS) {
            problems.add(s);
        }
    }
}
