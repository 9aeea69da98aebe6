package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short version of {@code scripts/soak} ({@link Soak}): one minute ({@code -Dsoak.minutes}) of
 * mixed load with admin changes against a real server, every block read back at the end, figures
 * every 15 s. On a 2-core CI box it runs 8 sessions x queue depth 8 (not the long run's 32 x 32, which
 * would starve the other tests) over four 32 MiB LUNs; the flatness bounds are those of the long run.
 */
class SoakIT {

    @Test
    void oneMinuteOfMixedLoadStaysFlatAndReadsBackExactly(@TempDir Path dir) throws Exception {
        double minutes = Double.parseDouble(System.getProperty("soak.minutes", "1"));
        Soak.Options o = new Soak.Options(minutes, Integer.getInteger("soak.sessions", 8),
                Integer.getInteger("soak.depth", 8), 32, 15, ServerProcess.freePort(), ServerProcess.freePort(), 5,
                dir.resolve("soak"));
        Soak.Report r = new Soak(o, System.out).run();
        assertEquals(java.util.List.of(), r.problems());
        assertTrue(r.samples().size() >= 2, "at least two intervals to compare: " + r.samples());
        assertEquals(4L * 32 * 256, r.verifiedBlocks(), "every block of the four LUNs read back");
        assertTrue(r.adminActions() >= 4, "admin changes ran: " + r.adminActions());
    }
}
