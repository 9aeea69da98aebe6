package io.orion.dedup.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the admin integration tests share: a server configuration with its own metrics port (so
 * tests never collide on 9572), the real CLI ({@code scripts/orion-dedup}) against a running
 * server, and a held-open iSCSI session (qemu-io reading commands from a pipe).
 */
final class AdminTools {

    static final Duration LIMIT = Duration.ofMinutes(3);
    static final ObjectMapper JSON = new ObjectMapper();

    private AdminTools() {
    }

    /** conf/dedup.toml with the metrics endpoint moved to {@code metricsPort} (0 disables it). */
    static Path config(Path dir, int metricsPort) throws IOException {
        String text = Files.readString(Path.of("conf/dedup.toml"));
        String metrics = metricsPort == 0 ? "enabled = false\nlisten = \"127.0.0.1:9572\""
                : "enabled = true\nlisten = \"127.0.0.1:" + metricsPort + "\"";
        text = text.replace("enabled = true\nlisten = \"127.0.0.1:9572\"", metrics);
        if (!text.contains(metrics)) {
            throw new IllegalStateException("conf/dedup.toml has no [metrics] block to rewrite");
        }
        Path f = dir.resolve("dedup.toml");
        Files.writeString(f, text);
        return f;
    }

    /** An empty targets directory. */
    static Path emptyTargets(Path dir) throws IOException {
        return Files.createDirectories(dir.resolve("targets"));
    }

    /** Runs {@code scripts/orion-dedup ARGS --data DATA}. */
    static ExternalTool.Result cli(ServerProcess server, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("scripts/orion-dedup");
        cmd.addAll(List.of(args));
        cmd.add("--data");
        cmd.add(server.data().toString());
        return ExternalTool.run(LIMIT, cmd.toArray(String[]::new));
    }

    /** Runs a dedup-* script against the server. */
    static ExternalTool.Result script(ServerProcess server, String name, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("scripts/" + name);
        cmd.addAll(List.of(args));
        cmd.add("--data");
        cmd.add(server.data().toString());
        return ExternalTool.run(LIMIT, cmd.toArray(String[]::new));
    }

    /** The JSON a {@code --json} command printed (the CLI may print a build line to stderr first). */
    static JsonNode json(ExternalTool.Result r) throws IOException {
        String out = r.output();
        int start = Math.min(out.indexOf('{') < 0 ? Integer.MAX_VALUE : out.indexOf('{'),
                out.indexOf('[') < 0 ? Integer.MAX_VALUE : out.indexOf('['));
        if (start == Integer.MAX_VALUE) {
            throw new AssertionError("no JSON in: " + out);
        }
        return JSON.readTree(out.substring(start));
    }

    /**
     * An iSCSI session held open by qemu-io: it logs in, reads the first block (so the LUN is in
     * use), then waits for more commands on its stdin until {@link #close()}.
     */
    static final class HeldSession implements AutoCloseable {
        private final Process process;
        private final Writer in;
        private final StringBuffer output = new StringBuffer();

        HeldSession(String url) throws IOException, InterruptedException {
            this(List.of("-f", "raw", url), url);
        }

        /** A session opened with QEMU block options ({@code driver=iscsi,...}), e.g. to set initiator-name. */
        static HeldSession imageOpts(String opts) throws IOException, InterruptedException {
            return new HeldSession(List.of("--image-opts", opts), opts);
        }

        private HeldSession(List<String> args, String url) throws IOException, InterruptedException {
            List<String> cmd = new ArrayList<>();
            cmd.add("qemu-io");
            cmd.addAll(args);
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread pump = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    int c;
                    while ((c = r.read()) >= 0) {
                        output.append((char) c);
                    }
                } catch (IOException ignored) {
                    // process ended
                }
            }, "qemu-io-output");
            pump.setDaemon(true);
            pump.start();
            in.write("read 0 4k\n");
            in.flush();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!output.toString().contains("read 4096/4096 bytes")) {
                if (System.nanoTime() > deadline || !process.isAlive()) {
                    process.destroyForcibly();
                    throw new AssertionError("qemu-io did not read through " + url + ":\n" + output);
                }
                Thread.sleep(50);
            }
        }

        /**
         * Sends one qemu-io command (e.g. {@code read 0 4k}) and returns what it printed: waits for a
         * line with "bytes at offset" (done) or "failed" (error), at most {@code limit}.
         */
        String run(String command, Duration limit) throws IOException, InterruptedException {
            int from = output.length();
            in.write(command + "\n");
            in.flush();
            long deadline = System.nanoTime() + limit.toNanos();
            while (System.nanoTime() < deadline && process.isAlive()) {
                String got = output.substring(from);
                if (got.contains("bytes at offset") || got.contains("failed")) {
                    Thread.sleep(50);
                    return output.substring(from);
                }
                Thread.sleep(20);
            }
            return output.substring(from);
        }

        /** Everything qemu-io printed so far. */
        String output() {
            return output.toString();
        }

        /** Ends qemu-io at once (for a session the server dropped: libiscsi would keep reconnecting). */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws Exception {
            if (!process.isAlive()) {
                return;
            }
            try {
                in.write("quit\n");
                in.flush();
                in.close();
            } catch (IOException ignored) {
                // already gone
            }
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
