package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.orion.dedup.meta.MetaTxn;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A volume's dedup mode is chosen at creation, inherited by clones and snapshots, changed by
 * {@link DedupPool#setDedupMode}, and survives a reopen and a rebuild from the devices alone.
 */
class VolumeDedupModeTest {
    @TempDir
    Path dir;

    private PoolOptions options() {
        return PoolFixture.options(dir).device(dir.resolve("data/dev1.img"), 0).build();
    }

    private static Map<String, DedupMode> modes(DedupPool pool) {
        return pool.volumes().stream().collect(Collectors.toMap(VolumeInfo::name, VolumeInfo::dedupMode,
                (a, b) -> a, TreeMap::new));
    }

    private static Map<String, DedupMode> stored(DedupPool pool) throws Exception {
        Map<String, DedupMode> out = new TreeMap<>();
        try (MetaTxn t = pool.meta().read()) {
            for (var r : t.volumes()) {
                out.put(r.name(), r.dedupMode());
            }
        }
        return out;
    }

    @Test
    void createCloneSetReopenAndRecoverKeepTheMode() throws Exception {
        PoolOptions o = options();
        Map<String, DedupMode> want = new TreeMap<>();
        byte[] data = PoolFixture.random(5, 64 * 4096);
        try (DedupPool pool = DedupPool.open(o)) {
            pool.createVolume("plain", 4096, 4L << 20, 4096);
            DedupVolume post = pool.createVolume("post", 4096, 4L << 20, 4096, DedupMode.POST);
            pool.createVolume("off", 512, 4L << 20, 4096, DedupMode.OFF);
            post.write(0, ByteBuffer.wrap(data), false);
            pool.cloneVolume("post", "post-snap", true);
            pool.cloneVolume("off", "off-clone", false);
            assertEquals(DedupMode.INLINE, pool.setDedupMode("plain", DedupMode.POST));
            assertEquals(DedupMode.POST, pool.setDedupMode("plain", DedupMode.OFF));
            assertEquals(DedupMode.OFF, pool.setDedupMode("plain", DedupMode.OFF)); // unchanged
            assertThrows(IllegalArgumentException.class, () -> pool.setDedupMode("nope", DedupMode.OFF));
            want.put("off", DedupMode.OFF);
            want.put("off-clone", DedupMode.OFF);
            want.put("plain", DedupMode.OFF);
            want.put("post", DedupMode.POST);
            want.put("post-snap", DedupMode.POST);
            assertEquals(want, modes(pool));
            assertEquals(want, stored(pool));
            assertEquals(DedupMode.POST, pool.openVolume("post").orElseThrow().state().dedupMode);
        }
        try (DedupPool pool = DedupPool.open(o)) {
            assertEquals(want, modes(pool));
        }
        // recover: the metadata gone, everything rebuilt from the journal in the containers
        PoolFixture.rebuildFromDevices(o);
        try (DedupPool pool = DedupPool.open(o)) {
            assertEquals(want, modes(pool));
            assertEquals(want, stored(pool));
            assertArrayEquals(data, PoolFixture.read(pool.openVolume("post-snap").orElseThrow(), 0, 64).array());
        }
    }

    @Test
    void recoverStagesAPostProcessVolumesUnprocessedBlocksAgain() throws Exception {
        PoolOptions o = options();
        ByteBuffer data = ByteBuffer.allocate(64 * 4096);
        for (int i = 0; i < 64; i++) {
            data.put(PoolFixture.random(100 + i % 4, 4096)); // 4 distinct blocks, 16 times each
        }
        data.flip();
        try (DedupPool pool = DedupPool.open(o)) {
            pool.createVolume("post", 4096, 4L << 20, 4096, DedupMode.POST).write(0, data.duplicate(), false);
            assertEquals(64, pool.stagedBlocks());
        }
        PoolFixture.rebuildFromDevices(o);
        try (DedupPool pool = DedupPool.open(o)) {
            // post-process records carry no fingerprint (the writes did not hash): every block is
            // staged again, the pass hashes them, indexes one chunk per content and shares the other 60
            assertEquals(64, pool.stagedBlocks());
            PostProcessResult r = pool.postProcess(WorkMonitor.NONE);
            assertEquals(60, r.blocksShared());
            assertEquals(4, r.chunksIndexed());
            VolumeStats s = pool.openVolume("post").orElseThrow().stats();
            assertEquals(64 * 4096L, s.logicalBytes());
            assertEquals(4 * 4096L, s.uniqueBytes(), "as inline dedup stores it");
            assertArrayEquals(data.array(), PoolFixture.read(pool.openVolume("post").orElseThrow(), 0, 64).array());
        }
    }

    @Test
    void aModeChangeCommittedWithWritesToTheSameVolumeIsKept() throws Exception {
        PoolOptions o = options();
        DedupMode last;
        try (DedupPool pool = DedupPool.open(o)) {
            DedupVolume v = pool.createVolume("v", 4096, 8L << 20, 4096);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread writer = new Thread(() -> {
                try {
                    for (long i = 0; !stop.get(); i++) {
                        v.write(i % 2048, ByteBuffer.wrap(PoolFixture.random(i, 4096)), false);
                    }
                } catch (Throwable t) {
                    failed.set(t);
                }
            });
            writer.start();
            DedupMode[] cycle = {DedupMode.POST, DedupMode.OFF, DedupMode.INLINE};
            last = DedupMode.INLINE;
            for (int i = 0; i < 60; i++) {
                last = cycle[i % 3];
                pool.setDedupMode("v", last);
                assertEquals(last, stored(pool).get("v"), "after change " + i);
            }
            last = DedupMode.POST;
            pool.setDedupMode("v", last);
            Thread.sleep(50); // more writes after the last change rewrite the record with their counters
            stop.set(true);
            writer.join();
            assertEquals(null, failed.get());
            assertEquals(last, stored(pool).get("v"));
        }
        try (DedupPool pool = DedupPool.open(o)) {
            assertEquals(last, modes(pool).get("v"));
        }
    }
}
