package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.LbaStatus;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DedupVolumeBasicTest {
    @TempDir
    Path dir;

    @Test
    void readsBackWhatWasWrittenAlsoAfterReopen() throws Exception {
        byte[] a = PoolFixture.random(1, 4096);
        byte[] c = PoolFixture.compressible(2, 8192);
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun0", 512, 1 << 24, 4096);
            assertEquals(32768, v.blockCount());
            assertTrue(v.thin());
            v.write(8, ByteBuffer.wrap(a), false);
            v.write(100, ByteBuffer.wrap(c), true);
            assertArrayEquals(a, PoolFixture.read(v, 8, 8).array());
            assertArrayEquals(c, PoolFixture.read(v, 100, 16).array());
            assertArrayEquals(new byte[4096], PoolFixture.read(v, 1000, 8).array());
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.openVolume("lun0").orElseThrow();
            assertArrayEquals(a, PoolFixture.read(v, 8, 8).array());
            assertArrayEquals(c, PoolFixture.read(v, 100, 16).array());
            pool.flushCaches();
            assertArrayEquals(c, PoolFixture.read(v, 100, 16).array());
        }
    }

    @Test
    void chunksOfSmallWritesAreServedFromTheBlockCache() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun0", 512, 1 << 24, 4096);
            byte[] data = new byte[ChunkIo.SMALL_WRITE_CHUNKS * 4096];
            new java.util.Random(7).nextBytes(data);
            v.write(0, java.nio.ByteBuffer.wrap(data), false);
            java.nio.ByteBuffer back = java.nio.ByteBuffer.allocate(data.length);
            v.read(0, back);
            assertArrayEquals(data, back.array());
            assertEquals(ChunkIo.SMALL_WRITE_CHUNKS, pool.blockCacheStats().hits(), "all chunks came from the cache");
            assertEquals(0, pool.blockCacheStats().misses());
        }
    }

    @Test
    void chunksOfLargeWritesAreReadBackFromTheStore() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun0", 512, 1 << 24, 4096);
            byte[] data = new byte[64 * 1024];
            java.util.Random r = new java.util.Random(7);
            r.nextBytes(data);
            // half compressible, half not: both record kinds of one joined write read back
            java.util.Arrays.fill(data, 0, 32 * 1024, (byte) 0);
            for (int i = 0; i < 8; i++) {
                data[i * 4096 + 5] = (byte) (i + 1);
            }
            v.write(0, java.nio.ByteBuffer.wrap(data), false);
            java.nio.ByteBuffer back = java.nio.ByteBuffer.allocate(data.length);
            v.read(0, back);
            assertArrayEquals(data, back.array());
            assertEquals(0, pool.blockCacheStats().hits(), "a 16-chunk write is not admitted to the block cache");
        }
    }

    @Test
    void duplicatesAreStoredOnceAndZerosNotAtAll() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun0", 4096, 1 << 24, 4096);
            byte[] blk = PoolFixture.random(7, 4096);
            ByteBuffer four = ByteBuffer.allocate(4 * 4096);
            for (int i = 0; i < 4; i++) {
                four.put(blk);
            }
            v.write(0, four.flip(), false);
            v.write(10, ByteBuffer.allocate(2 * 4096), false);
            VolumeStats s = v.stats();
            assertEquals(1, s.uniqueChunks());
            assertEquals(4096, s.uniqueBytes());
            assertEquals(4, s.dataBlocks());
            assertEquals(2, s.zeroBlocks());
            assertEquals(6 * 4096, s.logicalBytes());
            PoolStats p = pool.stats();
            assertEquals(1, p.uniqueChunks());
            assertEquals(4096 + 60, p.storedBytes());
            assertEquals(6.0, p.dedupRatio(), 1e-9);
            assertFalse(v.status(10, 2).mapped());
            assertTrue(v.status(0, 100).mapped());
            assertEquals(4, v.status(0, 100).blocks());
        }
    }

    @Test
    void subBlockWritesAreReadModifyWrite() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun0", 512, 1 << 20, 8192);
            byte[] base = PoolFixture.random(3, 8192);
            v.write(0, ByteBuffer.wrap(base), false);
            byte[] patch = PoolFixture.random(4, 1024);
            v.write(3, ByteBuffer.wrap(patch), false);
            byte[] expect = base.clone();
            System.arraycopy(patch, 0, expect, 3 * 512, 1024);
            assertArrayEquals(expect, PoolFixture.read(v, 0, 16).array());
            byte[] sector = PoolFixture.read(v, 4, 1).array();
            assertArrayEquals(Arrays.copyOfRange(patch, 512, 1024), sector);
        }
    }

    @Test
    void unmapWriteSameCompareAndWriteCopyAndResize() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun0", 512, 1 << 20, 4096);
            byte[] data = PoolFixture.random(5, 16384);
            v.write(0, ByteBuffer.wrap(data), false);
            v.unmap(8, 8);
            byte[] expect = data.clone();
            Arrays.fill(expect, 4096, 8192, (byte) 0);
            assertArrayEquals(expect, PoolFixture.read(v, 0, 32).array());
            assertEquals(new LbaStatus(8, 8, false), v.status(8, 8));

            byte[] pattern = PoolFixture.random(6, 512);
            v.writeSame(64, 24, ByteBuffer.wrap(pattern), false);
            ByteBuffer got = PoolFixture.read(v, 64, 24);
            for (int i = 0; i < 24; i++) {
                assertArrayEquals(pattern, Arrays.copyOfRange(got.array(), i * 512, (i + 1) * 512));
            }
            byte[] wrong = new byte[1024];
            byte[] repl = PoolFixture.random(9, 1024);
            long miss = v.compareAndWrite(0, ByteBuffer.wrap(wrong), ByteBuffer.wrap(repl), false);
            assertEquals(0, miss);
            long ok = v.compareAndWrite(0, ByteBuffer.wrap(Arrays.copyOf(data, 1024)), ByteBuffer.wrap(repl), false);
            assertEquals(-1, ok);
            assertArrayEquals(repl, PoolFixture.read(v, 0, 2).array());

            DedupVolume w = pool.createVolume("lun1", 512, 1 << 20, 4096);
            long before = pool.stats().storedBytes();
            w.copyFrom(v, 0, 128, 32);
            assertEquals(before, pool.stats().storedBytes());
            assertArrayEquals(PoolFixture.read(v, 0, 32).array(), PoolFixture.read(w, 128, 32).array());

            v.resize(16);
            assertEquals(16, v.blockCount());
            v.resize(2048);
            assertArrayEquals(new byte[4096], PoolFixture.read(v, 16, 8).array());
        }
    }

    @Test
    void rejectsBadGeometryAndDuplicateNames() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            pool.createVolume("a", 512, 1 << 20, 4096);
            assertThrows(IllegalArgumentException.class, () -> pool.createVolume("a", 512, 1 << 20, 4096));
            assertThrows(IllegalArgumentException.class, () -> pool.createVolume("b", 1024, 1 << 20, 4096));
            assertThrows(IllegalArgumentException.class, () -> pool.createVolume("b", 512, 1 << 20, 12288));
            assertTrue(pool.deleteVolume("a"));
            assertFalse(pool.deleteVolume("a"));
            assertTrue(pool.openVolume("a").isEmpty());
        }
    }

    @Test
    void durableCommitModeWorksEndToEnd() throws Exception {
        byte[] a = PoolFixture.random(31, 16384);
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).durableCommits(true).build())) {
            DedupVolume v = pool.createVolume("lun0", 4096, 1 << 24, 4096);
            v.write(4, ByteBuffer.wrap(a), false);
            v.write(8, ByteBuffer.wrap(a), false);
            assertEquals(4, pool.stats().uniqueChunks());
        }
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).durableCommits(true).build())) {
            DedupVolume v = pool.openVolume("lun0").orElseThrow();
            assertArrayEquals(a, PoolFixture.read(v, 8, 4).array());
            assertTrue(pool.verify().clean());
        }
    }
}
