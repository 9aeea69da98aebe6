package io.orion.dedup.dedup;

import io.orion.dedup.meta.ChunkRecord;
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
 * Verification pass (scrub): reads every chunk record the metadata references, checks its CRC32C
 * and header, decompresses it and recomputes its SHA-256 fingerprint. Pages through the chunk
 * database with short read transactions while I/O and cleanup continue; a chunk that moved or
 * vanished between page and read is looked up again rather than reported.
 */
final class Scrubber {
    private static final int PAGE = 1024;
    private static final int MAX_PROBLEMS = 100;

    private final DedupPool pool;
    private long checked;
    private long bytes;
    private long crcErrors;
    private long fpMismatches;
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
        long next = 1;
        while (true) {
            List<ChunkRecord> page = pool.chunkPage(next, PAGE);
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
        return new ScrubResult(checked, bytes, crcErrors, fpMismatches, List.copyOf(problems));
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
