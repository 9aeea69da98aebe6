package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.orion.dedup.containers.DeviceFaults;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Device faults during {@code scrub --repair} (found by review): an unreadable source copy is no
 * good copy, not the end of the scrub; a failed device force turns the pool read-only as a failed
 * flush does (an fsync error is reported once: swallowed, the next flush would succeed).
 */
class ScrubRepairFaultTest {
    static final int BS = 4096;

    @TempDir
    Path dir;

    private final byte[] x = PoolFixture.random(77, BS);

    /** A (saturated) and B (indexed copy) both unreadable: the scrub should report, not throw. */
    @Test
    void twoUnreadableCopiesOfOneContent() throws Exception {
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false)
                .referenceMaxCount(2).build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            for (long lba = 0; lba < 3; lba++) {
                v.write(lba, ByteBuffer.wrap(x), false);
            }
            pool.flush();
            pool.flushCaches();
            long[] a = DeviceFaultTest.recordOf(pool, v, 0);
            long[] b = DeviceFaultTest.recordOf(pool, v, 2);
            var d = DeviceFaultTest.device(pool, (int) a[0]);
            d.injectFaults((op, pos, len) -> {
                if (op == DeviceFaults.Op.READ && (pos < a[2] && pos + Math.max(1, len) > a[1]
                        || pos < b[2] && pos + Math.max(1, len) > b[1])) {
                    throw DeviceFaults.eio("READ at " + pos);
                }
            });
            ScrubResult plain = pool.verify(WorkMonitor.NONE, false);
            assertEquals(2, plain.readErrors(), plain.problems().toString());
            ScrubResult r = pool.verify(WorkMonitor.NONE, true);
            assertEquals(2, r.readErrors());
            assertEquals(2, r.unrepairable());
        }
    }

    /** A failed device force during the repair must make the pool read-only, as a failed flush does. */
    @Test
    void aFailedForceDuringRepairUntrustsThePool() throws Exception {
        try (DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(false).build())) {
            DedupVolume v = pool.createVolume("lun", BS, 1 << 24, BS);
            v.write(0, ByteBuffer.wrap(x), false);
            pool.flush();
            long[] a = DeviceFaultTest.recordOf(pool, v, 0);
            var d = DeviceFaultTest.device(pool, (int) a[0]);
            AtomicInteger forces = new AtomicInteger();
            d.injectFaults((op, pos, len) -> {
                if (op == DeviceFaults.Op.READ && pos < a[2] && pos + Math.max(1, len) > a[1]) {
                    throw DeviceFaults.eio("READ at " + pos);
                }
                if (op == DeviceFaults.Op.FORCE && forces.getAndIncrement() == 0) {
                    throw DeviceFaults.eio("FORCE"); // the first force only (fsync reports an error once)
                }
            });
            ScrubResult r = pool.verify(WorkMonitor.NONE, true);
            assertEquals(0, r.repaired());
            assertNotNull(pool.readOnlyReason(), "a failed fsync must not be swallowed");
        }
    }
}
