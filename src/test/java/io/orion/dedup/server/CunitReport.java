package io.orion.dedup.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the verbose output of libiscsi's {@code iscsi-test-cu}. CUnit counts a test that printed
 * {@code [SKIPPED]} as passed; this report tells the three outcomes apart, per test.
 */
record CunitReport(Map<String, Outcome> outcomes, Map<String, String> reasons) {

    enum Outcome { PASSED, SKIPPED, FAILED }

    static CunitReport parse(String output) {
        Map<String, Outcome> outcomes = new LinkedHashMap<>();
        Map<String, String> reasons = new LinkedHashMap<>();
        String suite = "?";
        String test = null;
        StringBuilder block = new StringBuilder();
        for (String line : (output + "\nSuite: <end>\n").split("\n")) {
            boolean newTest = line.startsWith("  Test: ");
            boolean newSuite = line.startsWith("Suite: ") || line.startsWith("Run Summary");
            if ((newTest || newSuite) && test != null) {
                finish(suite + "." + test, block.toString(), outcomes, reasons);
                test = null;
            }
            if (newSuite) {
                suite = line.startsWith("Suite: ") ? line.substring(7).trim() : "?";
            } else if (newTest) {
                String rest = line.substring(8);
                int dots = rest.indexOf(" ...");
                test = dots >= 0 ? rest.substring(0, dots) : rest.trim();
                block.setLength(0);
                block.append(dots >= 0 ? rest.substring(dots + 4) : "").append('\n');
            } else if (test != null) {
                block.append(line).append('\n');
            }
        }
        return new CunitReport(outcomes, reasons);
    }

    private static void finish(String name, String block, Map<String, Outcome> outcomes, Map<String, String> reasons) {
        Outcome o;
        // CUnit's own verdict is a line "FAILED" or "passed"; "[FAILED]" inside a test's log is
        // only a message (tgt prints some in tests CUnit passes), kept as a reason.
        if (block.lines().anyMatch(l -> l.strip().equals("FAILED"))) {
            o = Outcome.FAILED;
            reasons.put(name, firstLineWith(block, "[FAILED]"));
        } else if (block.contains("[SKIPPED]")) {
            o = Outcome.SKIPPED;
            reasons.put(name, firstLineWith(block, "[SKIPPED]"));
        } else if (block.lines().anyMatch(l -> l.strip().startsWith("passed"))) {
            o = Outcome.PASSED;
            if (block.contains("[FAILED]")) {
                reasons.put(name, "passed, but logged: " + firstLineWith(block, "[FAILED]"));
            }
        } else {
            o = Outcome.FAILED;
            reasons.put(name, "no result printed (crash or hang?)");
        }
        // -t ALL may run a test twice (families overlap); the worst outcome wins.
        Outcome prev = outcomes.get(name);
        if (prev == null || o.ordinal() > prev.ordinal()) {
            outcomes.put(name, o);
        }
    }

    private static String firstLineWith(String block, String marker) {
        return block.lines().filter(l -> l.contains(marker)).findFirst().map(String::strip).orElse(block.strip());
    }

    List<String> named(Outcome o) {
        List<String> out = new ArrayList<>();
        outcomes.forEach((k, v) -> {
            if (v == o) {
                out.add(k);
            }
        });
        return out;
    }

    long count(Outcome o) {
        return outcomes.values().stream().filter(v -> v == o).count();
    }

    String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("iscsi-test-cu: %d tests: %d really passed, %d skipped, %d failed%n",
                outcomes.size(), count(Outcome.PASSED), count(Outcome.SKIPPED), count(Outcome.FAILED)));
        for (Outcome o : Outcome.values()) {
            for (String n : named(o)) {
                if (!reasons.containsKey(n)) {
                    continue;
                }
                sb.append("  ").append(o).append(' ').append(n).append(": ").append(reasons.get(n)).append('\n');
            }
        }
        return sb.toString();
    }
}
