package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.cli.OrionCli;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance: a scrub of a 2 GiB pool watched in a terminal. The CLI runs {@code scrub start
 * --wait} in a tmux pane (a real pty, so it draws its progress bar); the test reads the screen
 * twice, checks the bar and percentage advanced and an ETA is shown, then cancels the scrub with
 * {@code scrub cancel} and sees the pane report it cancelled and the job's state {@code cancelled}.
 * The pool's 64 MiB of records are scrubbed at {@code scrub_rate = "4MB"}, so the scrub would take
 * about 16 s; it is cancelled after a few.
 */
class ScrubProgressTerminalTest {

    private static final Pattern BAR = Pattern.compile(
            "scrub \\[([#.]{30})\\]\\s+(\\d+\\.\\d)%\\s+\\S+ \\S+ / \\S+ \\S+\\s+\\S+ \\S+/s\\s+ETA (\\d+:\\d\\d)");

    private final String socket = "orion-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();

    private String tmux(String... args) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of("tmux", "-L", socket, "-f", "/dev/null"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "tmux " + String.join(" ", args) + " hangs");
        assertEquals(0, p.exitValue(), "tmux " + String.join(" ", args) + ": " + out);
        return out;
    }

    private String screen() throws IOException, InterruptedException {
        return tmux("capture-pane", "-p", "-t", "scrub");
    }

    /** Waits until the screen shows a progress bar with more than 0 % done; returns the match. */
    private Matcher bar(double above, long timeoutSeconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        String s = "";
        while (System.nanoTime() < deadline) {
            s = screen();
            Matcher m = BAR.matcher(s);
            if (m.find() && Double.parseDouble(m.group(2)) > above) {
                return m;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("no progress bar beyond " + above + "% on the screen:\n" + s);
    }

    @Test
    void aScrubShowsAMovingProgressBarWithEtaAndCanBeCancelled(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        String pool = "[[pool.devices]]\npath = \"" + dir.resolve("pool.img") + "\"\nsize = \"2GiB\"\n";
        try (OrionServer server = JobCommandsTest.start(dir, "1GiB", "[deduplication]\ncompression_enabled = false\n"
                + "[jobs]\nscrub_rate = \"4MB\"\n" + pool)) {
            DedupPool p = server.volumes().pool();
            assertEquals(2L << 30, p.space().capacityBytes(), "a 2 GiB pool");
            DedupVolume v = p.openVolume("jobs-0").orElseThrow();
            Random r = new Random(3);
            byte[] b = new byte[1 << 20];
            for (int mib = 0; mib < 64; mib++) {
                r.nextBytes(b);
                v.write(mib * 2048L, ByteBuffer.wrap(b), false);
            }
            v.flush();

            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            String cli = "'" + java + "' -cp '" + System.getProperty("java.class.path") + "' "
                    + OrionCli.class.getName() + " scrub start --wait --data '" + data + "'; echo EXIT=$?; sleep 120";
            tmux("new-session", "-d", "-s", "scrub", "-x", "150", "-y", "20", cli);
            try {
                Matcher first = bar(0, 60);
                double p1 = Double.parseDouble(first.group(2));
                int hashes1 = first.group(1).replace(".", "").length();
                Thread.sleep(1500);
                Matcher second = bar(p1, 10);
                double p2 = Double.parseDouble(second.group(2));
                assertTrue(p2 > p1, "the bar moved: " + p1 + "% then " + p2 + "%");
                assertTrue(second.group(1).replace(".", "").length() >= hashes1, second.group(0));
                assertTrue(p2 < 100, "still running: " + second.group(0));
                String eta = second.group(3);
                assertTrue(!eta.equals("0:00"), "an ETA is shown: " + second.group(0));

                JobCommandsTest.Run cancel = JobCommandsTest.cli(data, "scrub", "cancel");
                assertEquals(0, cancel.status(), cancel.err());
                assertTrue(cancel.out().startsWith("job 1 scrub cancelled after "), cancel.out());
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                String s = screen();
                while (!s.contains("EXIT=") && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                    s = screen();
                }
                assertTrue(s.contains("job 1 scrub cancelled after "), s);
                assertTrue(s.contains("scrub job 1 was cancelled"), s);
                assertTrue(s.contains("EXIT=1"), "a cancelled --wait exits 1:\n" + s);
                assertEquals("cancelled", JobCommandsTest.cli(data, "job", "show", "1", "--json").json()
                        .path("state").asText());
            } finally {
                tmux("kill-server");
            }
        }
    }
}
