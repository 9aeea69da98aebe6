package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Env;

/** Key layouts sort as intended, values round-trip, MapFull is signalled and growth fixes it. */
class MetaStoreTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsEveryRecordAndScansBlocksInOrder() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 1 << 20)) {
            byte[] fp = new byte[32];
            fp[0] = 9;
            UUID u = UUID.randomUUID();
            try (MetaWriteTxn w = m.write()) {
                w.putBlock(1, 300, 7);
                w.putBlock(1, 2, 0);
                w.putBlock(1, 256, 8);
                w.putBlock(2, 0, 9);
                w.putChunk(new ChunkRecord(7, fp, 3, 64, 4156, 4096, 0, 2));
                w.putIndex(fp, 7);
                w.putVolume(new VolumeRecord("v", 1, u, 512, 4096, 1 << 20, 3, 1));
                w.putContainer(new ContainerRecord(3, 0, 1, true, 5000, 4156, 1, 2));
                w.putCounters(new PoolCounters(1, u, 1 << 20, 10, 4, 2, 1, 4096, 4156));
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                List<long[]> seen = new ArrayList<>();
                r.scanBlocks(1, 0, 1000, (db, c) -> seen.add(new long[] {db, c}));
                assertEquals(3, seen.size());
                assertEquals(2, seen.get(0)[0]);
                assertEquals(MetaTxn.ZERO, seen.get(0)[1]);
                assertEquals(256, seen.get(1)[0]);
                assertEquals(300, seen.get(2)[0]);
                assertEquals(MetaTxn.ABSENT, r.block(1, 3));
                assertEquals(7, r.index(fp));
                assertEquals(2, r.chunk(7).refCount());
                assertEquals(4156, r.chunk(7).length());
                assertEquals(u, r.volume("v").uuid());
                assertEquals(3, r.volumes().get(0).dataBlocks());
                assertEquals(2, r.containers().get(0).records());
                assertEquals(4, r.counters().nextContainerId());
                assertNull(r.chunk(8));
            }
        }
    }

    @Test
    void volumeRecordsOfBothVersionsRoundTripAndPassTheOpenCheck() throws Exception {
        UUID u = UUID.randomUUID();
        String origin = "o".repeat(200);
        try (MetaStore m = MetaStore.open(dir, 1 << 20)) {
            try (MetaWriteTxn w = m.write()) {
                w.putVolume(new VolumeRecord("plain", 1, u, 512, 4096, 1 << 20, 3, 1));
                w.putVolume(new VolumeRecord("snap", 2, u, 4096, 8192, 1 << 21, 5, 2, true, origin, 1234567890123L));
                w.putVolume(new VolumeRecord("clone", 3, u, 512, 4096, 1 << 20, 0, 0, false, "plain", 42));
                w.commit();
            }
        }
        try (MetaStore m = MetaStore.open(dir, 1 << 20)) {
            assertTrue(m.damage().isEmpty(), m.damage().summary());
            try (MetaTxn r = m.read()) {
                VolumeRecord plain = r.volume("plain");
                assertEquals(new VolumeRecord("plain", 1, u, 512, 4096, 1 << 20, 3, 1), plain);
                assertEquals(new VolumeRecord("snap", 2, u, 4096, 8192, 1 << 21, 5, 2, true, origin, 1234567890123L),
                        r.volume("snap"));
                assertEquals(new VolumeRecord("clone", 3, u, 512, 4096, 1 << 20, 0, 0, false, "plain", 42),
                        r.volume("clone"));
                assertEquals(3, r.volumes().size());
                // a volume without origin keeps the version 1 layout, byte for byte
                java.nio.ByteBuffer k = java.nio.ByteBuffer.allocateDirect(16).put("plain".getBytes()).flip();
                assertEquals(MetaCodec.VOLUME_VAL, m.volumes.get(r.txn, k).remaining());
            }
        }
    }

    @Test
    void mapFullIsSignalledAndGrowingFixesIt() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 64 << 10)) {
            long size = m.mapSize();
            boolean full = false;
            int written = 0;
            for (int round = 0; round < 200 && !full; round++) {
                try (MetaWriteTxn w = m.write()) {
                    for (int i = 0; i < 500; i++) {
                        w.putBlock(1, round * 500L + i, 1);
                    }
                    w.commit();
                    written += 500;
                } catch (Env.MapFullException e) {
                    full = true;
                }
            }
            assertTrue(full, "a 64 KiB map fills up");
            m.grow();
            assertEquals(size * 2, m.mapSize());
            try (MetaWriteTxn w = m.write()) {
                w.putBlock(1, 1_000_000, 1);
                w.commit();
            }
            try (MetaTxn r = m.read()) {
                assertEquals(1, r.block(1, 1_000_000));
                assertEquals(1, r.block(1, written - 1));
            }
        }
    }

    @Test
    void dataFileKeepsAnAllocatedReserveAndASparseWritemapFileIsCutBack() throws Exception {
        java.nio.file.Path f = dir.resolve("data.mdb");
        long used;
        try (MetaStore m = MetaStore.open(dir, 256L << 20)) {
            try (MetaWriteTxn w = m.write()) {
                for (int i = 0; i < 20_000; i++) {
                    w.putBlock(1, i, i + 1);
                }
                w.commit();
            }
            m.keepReserve();
            used = m.fileSize();
            // no MDB_WRITEMAP: the file is not as large as the map, it ends with the reserve
            long size = java.nio.file.Files.size(f);
            assertTrue(size >= used + MetaStore.MIN_RESERVE / 2 && size < 256L << 20, "size " + size + ", used " + used);
            assertTrue(!m.lowSpace());
        }
        // what an MDB_WRITEMAP build left: the file as large as the map, sparse past its pages
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.allocate(1), (1L << 30) - 1);
        }
        try (MetaStore m = MetaStore.open(dir, 256L << 20)) {
            long size = java.nio.file.Files.size(f);
            assertTrue(size < 64L << 20, "cut back to its pages and the reserve: " + size);
            try (MetaTxn r = m.read()) {
                assertEquals(20_000, r.block(1, 19_999));
            }
        }
    }

    @Test
    void aFileThatIsNotLmdbIsRejected() throws Exception {
        java.nio.file.Files.write(dir.resolve("data.mdb"), new byte[8192]);
        assertThrows(MetaCorruptException.class, () -> MetaStore.open(dir, 1 << 20));
    }
}
