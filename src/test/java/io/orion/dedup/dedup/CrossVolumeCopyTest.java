package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.ChunkRecord;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DedupVolume#copyFrom} as EXTENDED COPY and WRITE USING TOKEN use it: between volumes of one
 * pool, dedup-block-aligned, it is a reference copy (no data hashed or stored, every chunk's
 * reference count grows by exactly the blocks that now point at it); across pools or unaligned it
 * moves bytes.
 */
class CrossVolumeCopyTest {

    @TempDir
    Path dir;

    /** 64 dedup blocks of 4 KiB: 40 distinct random, 8 zero, 16 copies of one block. */
    static byte[] content() {
        byte[] c = new byte[64 * 4096];
        byte[] same = PoolFixture.random(99, 4096);
        for (int b = 0; b < 64; b++) {
            if (b < 40) {
                System.arraycopy(PoolFixture.random(b, 4096), 0, c, b * 4096, 4096);
            } else if (b >= 48) {
                System.arraycopy(same, 0, c, b * 4096, 4096);
            }
        }
        return c;
    }

    static Map<Long, Long> refcounts(DedupPool pool) throws Exception {
        Map<Long, Long> out = new HashMap<>();
        for (ChunkRecord r : AccountingTest.chunks(pool)) {
            out.put(r.id(), (long) r.refCount());
        }
        return out;
    }

    @Test
    void sameScopeCopyMapsTheSourcesChunksWithExactRefcounts() throws Exception {
        byte[] data = content();
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 512, 1 << 20, 4096);
            DedupVolume b = pool.createVolume("b", 512, 1 << 20, 4096);
            a.write(0, ByteBuffer.wrap(data), false);
            PoolStats before = pool.stats();
            Map<Long, Long> refsBefore = refcounts(pool);
            assertEquals(41, refsBefore.size());

            b.copyFrom(a, 0, 1024, data.length / 512);

            PoolStats after = pool.stats();
            assertEquals(before.storedBytes(), after.storedBytes(), "no bytes stored");
            assertEquals(before.hashedBytes(), after.hashedBytes(), "no data went through the write path");
            assertEquals(before.uniqueChunks(), after.uniqueChunks());
            assertEquals(before.containers(), after.containers());
            assertEquals(2 * before.zeroBlocks(), after.zeroBlocks());
            assertEquals(2 * before.logicalBytes(), after.logicalBytes());
            Map<Long, Long> refsAfter = refcounts(pool);
            assertEquals(refsBefore.keySet(), refsAfter.keySet());
            for (Map.Entry<Long, Long> e : refsBefore.entrySet()) {
                assertEquals(2 * e.getValue(), refsAfter.get(e.getKey()), "chunk " + e.getKey());
            }
            assertArrayEquals(data, PoolFixture.read(b, 1024, data.length / 512).array());

            // the copy is independent: overwriting and deleting the source leaves it intact
            a.write(0, ByteBuffer.wrap(new byte[data.length]), false);
            assertTrue(pool.deleteVolume("a"));
            pool.cleanup();
            assertArrayEquals(data, PoolFixture.read(b, 1024, data.length / 512).array());
            assertEquals(refsBefore, refcounts(pool), "the copy holds what the source held");
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void saturatedChunksGetAFreshCopyAndUnalignedRangesMoveBytes() throws Exception {
        byte[] data = content();
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).referenceMaxCount(16).build())) {
            DedupVolume a = pool.createVolume("a", 512, 1 << 20, 4096);
            DedupVolume b = pool.createVolume("b", 512, 1 << 20, 4096);
            a.write(0, ByteBuffer.wrap(data), false);
            long stored = pool.stats().storedBytes();
            // the 16 copies of one block already saturate their chunk: the copy stores one more
            b.copyFrom(a, 0, 0, data.length / 512);
            assertEquals(42, pool.stats().uniqueChunks());
            assertTrue(pool.stats().storedBytes() > stored);
            assertArrayEquals(data, PoolFixture.read(b, 0, data.length / 512).array());
            for (ChunkRecord r : AccountingTest.chunks(pool)) {
                assertTrue(r.refCount() <= 16);
            }
            // not dedup-block aligned, other phase: bytes are copied, and read back the same
            b.copyFrom(a, 3, 5000, 37);
            assertArrayEquals(PoolFixture.read(a, 3, 37).array(), PoolFixture.read(b, 5000, 37).array());
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void unalignedRangesInTheSamePhaseCopyOnlyTheirPartialEndsAsBytes() throws Exception {
        byte[] data = content();
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 512, 1 << 20, 4096);
            DedupVolume b = pool.createVolume("b", 512, 1 << 20, 4096);
            a.write(0, ByteBuffer.wrap(data), false);
            long hashed = pool.stats().hashedBytes();
            // LBA 3 .. 3+500 to LBA 8003: 5 blocks of a partial dedup block, 61 whole ones, 7 blocks
            b.copyFrom(a, 3, 8003, 500);
            assertArrayEquals(PoolFixture.read(a, 3, 500).array(), PoolFixture.read(b, 8003, 500).array());
            long rehashed = pool.stats().hashedBytes() - hashed;
            assertTrue(rehashed <= 2 * 4096, "only the two partial dedup blocks went through the write path: "
                    + rehashed);
            // within one volume, overlapping and unaligned: bytes, backwards where it must
            byte[] before = PoolFixture.read(a, 0, 300).array();
            a.copyFrom(a, 0, 5, 300);
            assertArrayEquals(before, PoolFixture.read(a, 5, 300).array());
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void acrossPoolsTheBytesMove() throws Exception {
        byte[] data = content();
        try (DedupPool p1 = PoolFixture.open(dir.resolve("one"));
             DedupPool p2 = PoolFixture.open(dir.resolve("two"))) {
            DedupVolume a = p1.createVolume("a", 512, 1 << 20, 4096);
            DedupVolume b = p2.createVolume("b", 512, 1 << 20, 4096);
            a.write(0, ByteBuffer.wrap(data), false);
            b.copyFrom(a, 0, 0, data.length / 512);
            assertArrayEquals(data, PoolFixture.read(b, 0, data.length / 512).array());
            assertEquals(p1.stats().uniqueChunks(), p2.stats().uniqueChunks());
            assertEquals(40L * 4096 + 4096, p2.stats().uniqueBytes());
        }
    }
}
