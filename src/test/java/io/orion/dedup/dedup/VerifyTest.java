package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.orion.dedup.containers.RecordFormat;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code verify}: before a block shares the stored chunk of its fingerprint, the chunk's bytes are
 * read and compared. The stored chunk is made to differ on the device itself: either a valid record
 * (CRC and identity intact) carrying the block's fingerprint but other bytes — exactly what a
 * SHA-256 collision would leave — or a record whose payload was damaged.
 */
class VerifyTest {

    @TempDir
    Path dir;

    private final byte[] a = PoolFixture.random(31, 4096);
    private final byte[] other = PoolFixture.random(32, 4096);

    /**
     * Device offset of chunk 1's record, holding {@code a} uncompressed, found through the metadata
     * (the container is in slot 0 of dev0; journal records may come before it).
     */
    private long RECORD;

    @BeforeEach
    void writeA() throws Exception {
        try (DedupPool pool = open(false)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            v.write(0, ByteBuffer.wrap(a), true);
            try (io.orion.dedup.meta.MetaTxn t = pool.meta().read()) {
                RECORD = t.chunk(t.block(v.state().id, 0)).offset();
            }
        }
    }

    private DedupPool open(boolean verify) throws Exception {
        return DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).verify(verify).build());
    }

    /** Replaces chunk 1's record by a valid one with a's fingerprint and other bytes: a collision. */
    private void collide() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("data/dev0.img").toFile(), "rw")) {
            byte[] rec = new byte[RecordFormat.HEADER + 4096];
            f.seek(RECORD);
            f.readFully(rec);
            long id = RecordFormat.chunkId(ByteBuffer.wrap(rec));
            byte[] fp = RecordFormat.fingerprint(ByteBuffer.wrap(rec));
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(a), fp, "the record found is a's");
            System.arraycopy(other, 0, rec, RecordFormat.HEADER, 4096);
            RecordFormat.seal(rec, id, fp, 0, 4096, 4096);
            f.seek(RECORD);
            f.write(rec);
        }
    }

    /** Flips one byte of chunk 1's payload: its CRC no longer matches. */
    private void damage() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("data/dev0.img").toFile(), "rw")) {
            f.seek(RECORD + RecordFormat.HEADER + 100);
            int x = f.read();
            f.seek(RECORD + RecordFormat.HEADER + 100);
            f.write(x ^ 0xFF);
        }
    }

    @Test
    void withVerifyACollidingWriteGetsItsOwnChunkAndReadsBackItsOwnBytes() throws Exception {
        collide();
        try (DedupPool pool = open(true)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            v.write(1, ByteBuffer.wrap(a), true);
            v.write(2, ByteBuffer.wrap(a), true);
            assertArrayEquals(a, PoolFixture.read(v, 1, 1).array(), "the block reads back its own bytes");
            assertArrayEquals(a, PoolFixture.read(v, 2, 1).array());
            assertArrayEquals(other, PoolFixture.read(v, 0, 1).array(), "the colliding chunk is left as it is");
            assertEquals(1, pool.verifyMismatches(), "the first write of a met the colliding chunk");
            assertEquals(2, pool.stats().uniqueChunks(), "the second shared the first one's verified chunk, not the colliding one");
            assertEquals(0, pool.stats().checksumErrors());
        }
        try (DedupPool pool = open(true)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertArrayEquals(a, PoolFixture.read(v, 1, 1).array(), "after a restart too");
            v.write(3, ByteBuffer.wrap(a), true);
            assertArrayEquals(a, PoolFixture.read(v, 3, 1).array());
            assertEquals(1, pool.verifyMismatches(), "the index still leads to the colliding chunk, and verify still refuses it");
            assertEquals(3, pool.stats().uniqueChunks());
            ScrubResult scrub = pool.verify();
            assertEquals(3, scrub.chunksChecked());
            assertEquals(1, scrub.fingerprintMismatches(), "only the colliding chunk: the copies hold a's bytes");
            assertEquals(0, scrub.crcErrors());
        }
    }

    @Test
    void withVerifyAWriteMeetingADamagedChunkStoresAFreshCopyThatLaterWritesShare() throws Exception {
        damage();
        try (DedupPool pool = open(true)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            v.write(1, ByteBuffer.wrap(a), true);
            assertArrayEquals(a, PoolFixture.read(v, 1, 1).array());
            assertEquals(1, pool.verifyMismatches());
            assertEquals(2, pool.stats().uniqueChunks());
            // the fresh copy took the fingerprint over: the next write of a shares it
            v.write(2, ByteBuffer.wrap(a), true);
            assertArrayEquals(a, PoolFixture.read(v, 2, 1).array());
            assertEquals(1, pool.verifyMismatches());
            assertEquals(2, pool.stats().uniqueChunks());
        }
    }

    @Test
    void withoutVerifyTheWriteSharesTheChunkWithoutReadingIt() throws Exception {
        collide();
        try (DedupPool pool = open(false)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            v.write(1, ByteBuffer.wrap(a), true);
            assertEquals(1, pool.stats().uniqueChunks(), "shared on the fingerprint alone");
            assertArrayEquals(other, PoolFixture.read(v, 1, 1).array(),
                    "the stored bytes were never compared: the block reads what the chunk holds");
            assertEquals(0, pool.verifyMismatches());
        }
    }

    @Test
    void withVerifyIdenticalDataIsStillShared() throws Exception {
        try (DedupPool pool = open(true)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int i = 1; i <= 8; i++) {
                v.write(i, ByteBuffer.wrap(a), i == 8);
            }
            assertEquals(1, pool.stats().uniqueChunks());
            assertEquals(0, pool.verifyMismatches());
            for (int i = 0; i <= 8; i++) {
                assertArrayEquals(a, PoolFixture.read(v, i, 1).array());
            }
        }
    }
}
