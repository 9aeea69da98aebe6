package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.ChunkRecord;
import io.orion.dedup.meta.MetaTxn;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exact dedup accounting on mixed content, and identical stats and refcounts after a restart. */
class AccountingTest {
    @TempDir
    Path dir;

    private static byte[] mixed(int blocks) {
        Random rnd = new Random(42);
        ByteBuffer b = ByteBuffer.allocate(blocks * 4096);
        for (int i = 0; i < blocks; i++) {
            int kind = rnd.nextInt(4);
            switch (kind) {
                case 0 -> b.put(PoolFixture.random(rnd.nextLong(), 4096));
                case 1 -> b.put(PoolFixture.random(rnd.nextInt(20), 4096));
                case 2 -> b.put(new byte[4096]);
                default -> b.put(PoolFixture.compressible(rnd.nextInt(50), 4096));
            }
        }
        return b.array();
    }

    @Test
    void statsMatchOfflineCountAndSecondCopyAddsNothing() throws Exception {
        int blocks = 2048;
        byte[] file = mixed(blocks);
        Set<ByteBuffer> distinct = new HashSet<>();
        int zero = 0;
        for (int i = 0; i < blocks; i++) {
            ByteBuffer blk = ByteBuffer.wrap(file, i * 4096, 4096).slice();
            if (ZeroBlocks.isZero(blk)) {
                zero++;
            } else {
                distinct.add(blk);
            }
        }
        PoolStats first;
        List<ChunkRecord> chunksBefore;
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 512, 64L << 20, 4096);
            for (int off = 0; off < file.length; off += 128 * 1024) {
                v.write(off / 512, ByteBuffer.wrap(file, off, 128 * 1024), false);
            }
            PoolStats s1 = pool.stats();
            assertEquals(distinct.size(), s1.uniqueChunks());
            assertEquals(distinct.size() * 4096L, s1.uniqueBytes());
            assertEquals(zero, s1.zeroBlocks());
            assertEquals(blocks * 4096L, s1.logicalBytes());
            assertTrue(s1.compressionRatio() > 1.0, "compressible blocks were compressed");
            long base = 32L << 20;
            for (int off = 0; off < file.length; off += 128 * 1024) {
                v.write((base + off) / 512, ByteBuffer.wrap(file, off, 128 * 1024), false);
            }
            first = pool.stats();
            assertEquals(s1.uniqueChunks(), first.uniqueChunks());
            assertEquals(s1.storedBytes(), first.storedBytes(), "second copy adds no stored bytes");
            assertEquals(2L * zero, first.zeroBlocks());
            assertEquals(2L * blocks * 4096, first.logicalBytes());
            assertEquals(0, first.reclaimableBytes());
            VolumeStats vs = v.stats();
            assertEquals(first.uniqueChunks(), vs.uniqueChunks());
            assertEquals(first.storedBytes(), vs.storedBytes());
            assertArrayEquals(file, PoolFixture.read(v, base / 512, file.length / 512).array());
            chunksBefore = chunks(pool);
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            PoolStats again = pool.stats();
            assertEquals(first.logicalBytes(), again.logicalBytes());
            assertEquals(first.zeroBlocks(), again.zeroBlocks());
            assertEquals(first.uniqueChunks(), again.uniqueChunks());
            assertEquals(first.uniqueBytes(), again.uniqueBytes());
            assertEquals(first.storedBytes(), again.storedBytes());
            assertEquals(first.reclaimableBytes(), again.reclaimableBytes());
            assertEquals(first.volumes(), again.volumes());
            List<ChunkRecord> after = chunks(pool);
            assertEquals(chunksBefore.size(), after.size());
            for (int i = 0; i < after.size(); i++) {
                assertEquals(chunksBefore.get(i).refCount(), after.get(i).refCount());
                assertEquals(chunksBefore.get(i).location(), after.get(i).location());
            }
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            assertArrayEquals(file, PoolFixture.read(v, 0, file.length / 512).array());
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void overwriteAndUnmapMakeSpaceReclaimableExactly() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            byte[] a = PoolFixture.random(1, 4096);
            byte[] b = PoolFixture.random(2, 4096);
            v.write(0, ByteBuffer.wrap(a), false);
            v.write(1, ByteBuffer.wrap(a), false);
            v.write(0, ByteBuffer.wrap(b), false);
            PoolStats s = pool.stats();
            assertEquals(2, s.uniqueChunks());
            assertEquals(0, s.reclaimableBytes());
            v.unmap(1, 1);
            s = pool.stats();
            assertEquals(1, s.uniqueChunks());
            assertEquals(4096 + 60, s.reclaimableBytes());
            assertEquals(4096 + 60, s.storedBytes());
        }
    }

    @Test
    void saturatedReferencesStartANewCopy() throws Exception {
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).referenceMaxCount(3).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 24, 4096);
            byte[] a = PoolFixture.random(1, 4096);
            for (int i = 0; i < 10; i++) {
                v.write(i, ByteBuffer.wrap(a), false);
            }
            assertEquals(4, pool.stats().uniqueChunks());
            for (ChunkRecord r : chunks(pool)) {
                assertTrue(r.refCount() <= 3);
            }
            for (int i = 0; i < 10; i++) {
                assertArrayEquals(a, PoolFixture.read(v, i, 1).array());
            }
        }
    }

    @Test
    void newChunksSpreadOverDevices() throws Exception {
        PoolOptions o = PoolFixture.options(dir).device(dir.resolve("data/dev1.img"), 8 << 20).build();
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 26, 4096);
            for (int i = 0; i < 64; i++) {
                v.write(i * 8L, ByteBuffer.wrap(PoolFixture.random(100 + i, 8 * 4096)), false);
            }
            PoolStats s = pool.stats();
            assertEquals(2, s.devices().size());
            assertTrue(s.devices().get(0).usedBytes() > 0 && s.devices().get(1).usedBytes() > 0, s.devices().toString());
            assertEquals(8L << 20, s.devices().get(1).capacityBytes());
        }
    }

    @Test
    void onlyTheOpenContainersAreTailCheckedOnOpen() throws Exception {
        for (int round = 0; round < 3; round++) {
            try (DedupPool pool = PoolFixture.open(dir)) {
                DedupVolume v = pool.openVolume("lun").orElse(null);
                if (v == null) {
                    v = pool.createVolume("lun", 4096, 1 << 26, 4096);
                }
                for (int i = 0; i < 600; i++) {
                    v.write(round * 600L + i, ByteBuffer.wrap(PoolFixture.random(round * 10_000L + i, 4096)), false);
                }
                pool.flush();
                long open;
                try (MetaTxn t = pool.meta().read()) {
                    open = t.containers().stream().filter(c -> !c.sealed()).count();
                }
                assertTrue(open <= 1, "containers recorded as open: " + open);
            }
        }
    }

    static List<ChunkRecord> chunks(DedupPool pool) throws Exception {
        List<ChunkRecord> out = new ArrayList<>();
        try (MetaTxn t = pool.meta().read()) {
            t.scanChunks(0, r -> out.add(r));
        }
        return out;
    }
}
