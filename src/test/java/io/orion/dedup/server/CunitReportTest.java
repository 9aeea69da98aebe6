package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CunitReportTest {

    private static final String SAMPLE = String.join("\n",
            "Suite: GetLBAStatus",
            "  Test: Simple ...passed",
            "  Test: BeyondEol ...    [FAILED] GET_LBA_STATUS successful but should have failed",
            "FAILED",
            "    1. test_get_lba_status_beyond_eol.c:38  - CU_ASSERT_EQUAL(_r,0)",
            "  Test: UnmapSingle ...    [SKIPPED] Logical unit is fully provisioned. Skipping test",
            "passed",
            "Suite: Reserve6",
            "  Test: 2Initiators ...    Take out a RESERVE6 from the first initiator",
            "    [FAILED] MODESENSE6 successful but should have failed",
            "    RELEASE6 from the second initiator",
            "FAILED",
            "  Test: Logout ...    Take out a RESERVE6 from the first initiator",
            "    RESERVE6 from the second initiator should work now",
            "passed",
            "",
            "Run Summary:    Type  Total    Ran Passed Failed Inactive");

    @Test
    void tellsPassesSkipsAndFailuresApart() {
        CunitReport r = CunitReport.parse(SAMPLE);
        assertEquals(5, r.outcomes().size());
        assertEquals(2, r.count(CunitReport.Outcome.PASSED));
        assertEquals(1, r.count(CunitReport.Outcome.SKIPPED));
        assertEquals(2, r.count(CunitReport.Outcome.FAILED));
        assertEquals(CunitReport.Outcome.FAILED, r.outcomes().get("Reserve6.2Initiators"));
        assertEquals(CunitReport.Outcome.SKIPPED, r.outcomes().get("GetLBAStatus.UnmapSingle"));
    }
}
