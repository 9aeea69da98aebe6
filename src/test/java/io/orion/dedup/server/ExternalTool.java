package io.orion.dedup.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a real client program (iscsi-ls, qemu-img, iscsi-test-cu, ...) with a time limit. */
final class ExternalTool {

    /** What a finished (or timed-out) program left behind. */
    record Result(List<String> command, int exitCode, boolean timedOut, String output) {
        Result assertOk() {
            if (timedOut || exitCode != 0) {
                throw new AssertionError(String.join(" ", command) + " -> exit " + exitCode
                        + (timedOut ? " (timed out)" : "") + "\n" + output);
            }
            return this;
        }
    }

    private ExternalTool() {
    }

    static Result run(Duration limit, String... command) throws IOException, InterruptedException {
        return run(limit, null, command);
    }

    /** Runs {@code command}, stdout and stderr merged; also copies the output to {@code log} if set. */
    static Result run(Duration limit, Path log, String... command) throws IOException, InterruptedException {
        return run(limit, log, () -> false, command);
    }

    /**
     * Like {@link #run(Duration, Path, String...)}, but ends the program early (as if timed out)
     * once {@code cancel} says so, e.g. a client retrying against a server a test killed.
     */
    static Result run(Duration limit, Path log, java.util.function.BooleanSupplier cancel, String... command)
            throws IOException, InterruptedException {
        Path out = Files.createTempFile("orion-tool", ".log");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            long deadline = System.nanoTime() + limit.toNanos();
            boolean done = false;
            while (!done && System.nanoTime() < deadline && !cancel.getAsBoolean()) {
                done = p.waitFor(100, TimeUnit.MILLISECONDS);
            }
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            if (log != null) {
                Files.createDirectories(log.toAbsolutePath().getParent());
                Files.writeString(log, text, StandardCharsets.UTF_8);
            }
            return new Result(List.of(command), done ? p.exitValue() : -1, !done, text);
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
