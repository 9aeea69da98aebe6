package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
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

    /** tgt 1.0.85 on this machine really passes 160; the issue asks for at least 165. */
    private static final int MIN_REALLY_PASSED = 165;

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
            assertEquals(0, report.count(CunitReport.Outcome.FAILED), report.summary());
            assertTrue(report.count(CunitReport.Outcome.PASSED) >= MIN_REALLY_PASSED, report.summary());
            assertTrue(server.alive(), "the server died during the suite:\n" + server.output());
        }
    }
}
