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
}
