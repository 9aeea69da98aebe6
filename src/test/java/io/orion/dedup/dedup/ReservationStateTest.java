package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.LmdbVerifier;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The persistent reservation image of a volume in the pool's metadata (LMDB {@code reservations}):
 * it survives a reopen, large images are cut into fragments and joined again, the integrity check
 * accepts it, and it is tied to the volume (deleting it drops the image; a volume created again
 * under the same name starts without one).
 */
class ReservationStateTest {
    @TempDir
    Path dir;

    @Test
    void savedImageSurvivesReopenAndDiesWithTheVolume() throws Exception {
        byte[] small = PoolFixture.random(1, 300);
        byte[] large = PoolFixture.random(2, 5000); // five fragments
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 512, 1 << 20, 4096);
            DedupVolume b = pool.createVolume("b", 512, 1 << 20, 4096);
            assertNull(pool.reservationState(a));
            pool.saveReservationState(a, large);
            pool.saveReservationState(b, small);
            pool.saveReservationState(a, small); // shorter: the old fragments go
            pool.saveReservationState(a, large);
        }
        LmdbVerifier.Report check = LmdbVerifier.check(dir.resolve("meta/data.mdb"), -1);
        assertTrue(check.damage().isEmpty(), () -> "integrity check: " + check.damage().problems());
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.openVolume("a").orElseThrow();
            DedupVolume b = pool.openVolume("b").orElseThrow();
            assertArrayEquals(large, pool.reservationState(a));
            assertArrayEquals(small, pool.reservationState(b));
            pool.saveReservationState(b, null);
            assertNull(pool.reservationState(b));
            assertTrue(pool.deleteVolume("a"));
            DedupVolume again = pool.createVolume("a", 512, 1 << 20, 4096);
            assertNull(pool.reservationState(again), "a new volume of the same name has no reservations");
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertNull(pool.reservationState(pool.openVolume("a").orElseThrow()));
            assertNull(pool.reservationState(pool.openVolume("b").orElseThrow()));
            assertEquals(2, pool.volumes().size());
        }
    }
}
