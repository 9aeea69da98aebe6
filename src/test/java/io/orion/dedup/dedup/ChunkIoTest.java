package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaTxn;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import io.orion.dedup.containers.RecordFormat;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ChunkIo}: every reader of a stored record checks it the same way. The record is changed
 * on the device itself into one that passes its own check (CRC32C, chunk id, lengths) but carries
 * another chunk's fingerprint: the volume's read refuses it, and so must scrub, cleanup's copy and
 * recompression, which each used to check records in their own way (scrub only recomputed the
 * content's SHA-256 and so called this record sound while reads answered MEDIUM ERROR).
 */
class ChunkIoTest {

    @TempDir
    Path dir;

    private final byte[] a = PoolFixture.random(41, 4096);
    private final byte[] other = PoolFixture.random(42, 4096);
    private long recordAt;
    private long chunkId;

    @BeforeEach
    void writeA() throws Exception {
        try (DedupPool pool = open()) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            v.write(0, ByteBuffer.wrap(a), true);
            try (MetaTxn t = pool.meta().read()) {
                chunkId = t.block(v.state().id, 0);
                recordAt = t.chunk(chunkId).offset();
            }
        }
    }

    private DedupPool open() throws Exception {
        return DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build());
    }

    /** Reseals chunk 1's record (same id, same bytes) with {@code other}'s fingerprint and a valid CRC. */
    private void otherFingerprint() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("data/dev0.img").toFile(), "rw")) {
            byte[] rec = new byte[RecordFormat.HEADER + 4096];
            f.seek(recordAt);
            f.readFully(rec);
            assertEquals(chunkId, RecordFormat.chunkId(ByteBuffer.wrap(rec)));
            byte[] wrongFp = MessageDigest.getInstance("SHA-256").digest(other);
            RecordFormat.seal(rec, chunkId, wrongFp, 0, 4096, 4096);
            assertNull(RecordFormat.check(ByteBuffer.wrap(rec), chunkId), "the record passes its own check");
            f.seek(recordAt);
            f.write(rec);
        }
    }

    @Test
    void aSoundRecordPassesEveryReader() throws Exception {
        try (DedupPool pool = open()) {
            ChunkRecord r;
            try (MetaTxn t = pool.meta().read()) {
                r = t.chunk(chunkId);
            }
            ChunkIo.Checked c = pool.chunks().read(r, true);
            assertTrue(c.sound(), String.valueOf(c.problem()));
            assertArrayEquals(a, c.data());
            assertNull(ChunkIo.contentProblem(c.data(), r, MessageDigest.getInstance("SHA-256")));
            ScrubResult s = pool.verify();
            assertEquals(0, s.crcErrors() + s.fingerprintMismatches(), s.problems().toString());
        }
    }

    @Test
    void aRecordCarryingAnotherChunksFingerprintIsDamagedForReadsAndScrubAlike() throws Exception {
        otherFingerprint();
        try (DedupPool pool = open()) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertThrows(ChecksumMismatchException.class, () -> PoolFixture.read(v, 0, 1),
                    "a read answers MEDIUM ERROR, never the bytes");
            ChunkRecord r;
            try (MetaTxn t = pool.meta().read()) {
                r = t.chunk(chunkId);
            }
            ChunkIo.Checked c = pool.chunks().read(r, true);
            assertTrue(!c.sound() && c.problem().contains("fingerprint"), String.valueOf(c.problem()));
            assertNull(c.data());
        }
        try (DedupPool pool = open()) {
            ScrubResult s = pool.verify();
            assertEquals(1, s.crcErrors(), "scrub finds the record the reads refuse: " + s.problems());
            assertTrue(s.problems().get(0).contains("fingerprint"), s.problems().toString());
            assertEquals(1, pool.damagedChunks(), "and remembers it for healing");
        }
    }
}
