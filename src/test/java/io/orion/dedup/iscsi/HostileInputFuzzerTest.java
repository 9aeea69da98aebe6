package io.orion.dedup.iscsi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The fuzzer's own rules. Its lanes share one target, so no input may end the other lanes' sessions:
 * a TARGET COLD RESET among the PDU inputs did (seed -6036780379329786648, the CI run of stop 19: a
 * bit flip after the guard turned a warm reset back into a cold one, and another lane's Text Request
 * saw its connection closed).
 */
class HostileInputFuzzerTest {

    @Test
    void noPduInputIsAColdResetOrASessionLogout() {
        long[] seeds = {-6036780379329786648L, 1L, 42L, new SplittableRandom().nextLong()};
        int tmfs = 0;
        int warm = 0;
        for (long seed : seeds) {
            for (long k = 0; k < 200_000; k++) {
                byte[] bhs = HostileInputFuzzer.hostileHeader(k, new SplittableRandom(HostileInputFuzzer.mix(seed, k)),
                        1000, 2000);
                int op = bhs[0] & 0x3f;
                int function = bhs[1] & 0x7f;
                if (op == 0x02) {
                    tmfs++;
                    warm += function == 6 ? 1 : 0;
                    assertTrue(function != 7, "seed " + seed + " input " + k + ": a TARGET COLD RESET");
                }
                if (op == 0x06) {
                    assertTrue(function > 1, "seed " + seed + " input " + k + ": a logout of reason " + function);
                }
                assertEquals(0, bhs[4] | bhs[5] | bhs[6] | bhs[7], "the lengths are the caller's");
            }
        }
        assertTrue(tmfs > 10_000 && warm > 0, "task management inputs: " + tmfs + ", warm resets " + warm);
    }
}
