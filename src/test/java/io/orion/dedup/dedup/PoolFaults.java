package io.orion.dedup.dedup;

import java.io.IOException;
import java.nio.file.Path;

/** For tests outside this package: a small pool, and the engine's own "metadata can't be trusted" step. */
public final class PoolFaults {
    private PoolFaults() {
    }

    /** A small pool under {@code dir} (as the dedup tests use). */
    public static DedupPool open(Path dir) throws IOException {
        return PoolFixture.open(dir);
    }

    /** Turns the pool read-only with {@code reason}, as the engine does when a check fails. */
    public static void untrust(DedupPool pool, String reason) {
        pool.untrust(reason);
    }

    /** The backing device with index {@code index} (to inject faults under it). */
    public static io.orion.dedup.containers.BackingDevice device(DedupPool pool, int index) {
        return DeviceFaultTest.device(pool, index);
    }

    /** The index of the backing device that holds the record dedup block {@code dblock} of {@code v} maps to. */
    public static int deviceOf(DedupPool pool, DedupVolume v, long dblock) throws IOException {
        try (io.orion.dedup.meta.MetaTxn t = pool.meta().read()) {
            io.orion.dedup.meta.ChunkRecord r = t.chunk(t.block(v.state().id, dblock));
            if (r == null) {
                throw new IOException("dedup block " + dblock + " of " + v.name() + " maps no record");
            }
            return pool.store().container(r.containerId()).device().index();
        }
    }
}
