package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libiscsi's conformance suite ({@code iscsi-test-cu}, the one LIO, SCST and tgt are tested with)
 * against LUN 0 of a freshly started server, destructive tests (and SANITIZE) allowed. The second URL
 * is the same LUN through the target's second portal group (another portal, another target port),
 * so the multipath tests run over two real paths. The full log lands in
 * {@code target/iscsi-test-cu.log}.
 */
class ConformanceIT {

    /** tgt 1.0.85 on this machine really passes 160; issue 12 asks for at least 215. */
    private static final int MIN_REALLY_PASSED = 215;

    /**
     * The two tests of libiscsi 1.19 that no target can pass honestly with this LUN's geometry, with
     * why. Any other failure fails this test.
     */
    static final Map<String, String> ASSUMPTIONS_WE_DO_NOT_MEET = Map.of(
            "GetLBAStatus.UnmapSingle",
            "test_get_lba_status_unmap_single.c:135 asks GET LBA STATUS for LBA i+1 and demands a first"
                    + " descriptor that starts at i+LBPPB; SBC-4 has the first descriptor contain the requested LBA,"
                    + " so with 8 logical blocks per physical (dedup) block the demand is unsatisfiable",
            "Sanitize.Reset",
            "expects a SANITIZE OVERWRITE of the whole LUN still to be running 3 s after it was sent and"
                    + " again after five resets and a new login; on a dedup LUN it drops the mappings in about a second");

    @Test
    void libiscsiSuiteHasNoFailure(@TempDir Path dir) throws Exception {
        int port = ServerProcess.freePort();
        int second = ServerProcess.freePort();
        Path targets = ServerProcess.copyTargetsTwoPortals(dir, port, second);
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), targets, port)) {
            ExternalTool.Result r = ExternalTool.run(Duration.ofMinutes(15), Path.of("target/iscsi-test-cu.log"),
                    "iscsi-test-cu", "-d", "-v", "--allow-sanitize", "-t", "ALL", server.url(0, port),
                    server.url(0, second));
            CunitReport report = CunitReport.parse(r.output());
            System.out.println(report.summary());
            assertTrue(!r.timedOut(), "iscsi-test-cu timed out; see target/iscsi-test-cu.log");
            assertTrue(report.outcomes().size() >= 230, "expected 230 tests, saw " + report.outcomes().size());
            assertEquals(List.of(), report.named(CunitReport.Outcome.FAILED).stream()
                    .filter(t -> !ASSUMPTIONS_WE_DO_NOT_MEET.containsKey(t)).toList(), report.summary());

            assertTrue(report.count(CunitReport.Outcome.PASSED) >= MIN_REALLY_PASSED, report.summary());
            assertTrue(server.alive(), "the server died during the suite:\n" + server.output());
        }
    }
}
