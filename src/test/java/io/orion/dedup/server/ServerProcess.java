package io.orion.dedup.server;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The real server, started from the shaded jar as its own process ({@code orion-dedup serve}), as an
 * admin would run it; integration tests talk to it only through real clients and sockets.
 */
public final class ServerProcess implements AutoCloseable {

    public static final String DEFAULT_IQN = "iqn.2026-11.io.orion:default";

    private final Process process;
    private final int port;
    private final Path data;
    private final Path log;
    private final StringBuffer output = new StringBuffer();

    private ServerProcess(Process process, int port, Path data, Path log) {
        this.process = process;
        this.port = port;
        this.data = data;
        this.log = log;
    }

    /** A fresh copy of the repository's targets/ in {@code dir}, so tests never change the checkout. */
    public static Path copyTargets(Path dir) throws IOException {
        Path src = Path.of("targets");
        Path dst = dir.resolve("targets");
        Files.createDirectories(dst);
        try (Stream<Path> files = Files.list(src)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, dst.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return dst;
    }

    /**
     * {@link #copyTargets}, with the default target on two target portal groups: group 1 on
     * 127.0.0.1:{@code port1} (the port the server is started with) and group 2 on
     * 127.0.0.1:{@code port2}, so its LUNs are reached through two paths.
     */
    public static Path copyTargetsTwoPortals(Path dir, int port1, int port2) throws IOException {
        Path targets = copyTargets(dir);
        Path f = targets.resolve("default.toml");
        String text = Files.readString(f);
        String groups = "portals = [\"127.0.0.1:" + port1 + "\"]\n\n[[portal_group]]\ntag = 2\nportals = [\"127.0.0.1:"
                + port2 + "\"]\n";
        String changed = text.replaceFirst("(?m)^portals = \\[\\]\n", java.util.regex.Matcher.quoteReplacement(groups));
        if (changed.equals(text)) {
            throw new IllegalStateException("no 'portals = []' line in " + f);
        }
        Files.writeString(f, changed);
        return targets;
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Starts {@code orion-dedup serve} and waits for its {@code ready} line. */
    public static ServerProcess start(Path data, Path targets, int port, String... extra) throws IOException, InterruptedException {
        return start(data, targets, Path.of("conf/dedup.toml"), port, extra);
    }

    static ServerProcess start(Path data, Path targets, Path config, int port, String... extra)
            throws IOException, InterruptedException {
        return start(data, targets, config, port, java.util.Map.of(), List.of(), extra);
    }

    /**
     * As {@link #start(Path, Path, Path, int, String...)}, with extra environment variables for the
     * server process (e.g. LD_PRELOAD) and JVM options (e.g. system properties) before {@code -jar}.
     */
    static ServerProcess start(Path data, Path targets, Path config, int port, java.util.Map<String, String> env,
                               List<String> jvmOptions, String... extra) throws IOException, InterruptedException {
        return startUnder(List.of(), data, targets, config, port, env, jvmOptions, extra);
    }

    /** As above, the server's command run by {@code prefix} (e.g. {@code nohup}, which execs it). */
    static ServerProcess startUnder(List<String> prefix, Path data, Path targets, Path config, int port,
                                    java.util.Map<String, String> env, List<String> jvmOptions, String... extra)
            throws IOException, InterruptedException {
        String jar = System.getProperty("orion.jar", "target/orion-dedup.jar");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of("java", "-Xmx2g",
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-jar", jar, "serve", "--config", config.toString(), "--targets", targets.toString(),
                "--data", data.toString(), "--listen", "127.0.0.1:" + port));
        cmd.addAll(List.of(extra));
        Path log = data.resolveSibling(data.getFileName() + "-server.log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        ServerProcess sp = new ServerProcess(p, port, data, log);
        CountDownLatch ready = new CountDownLatch(1);
        Thread pump = new Thread(() -> sp.pump(ready), "server-output-" + port);
        pump.setDaemon(true);
        pump.start();
        if (!ready.await(60, TimeUnit.SECONDS) || !p.isAlive()) {
            p.destroyForcibly();
            throw new AssertionError("server did not print 'ready' within 60 s:\n" + sp.output);
        }
        return sp;
    }

    private void pump(CountDownLatch ready) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                output.append(line).append('\n');
                Files.writeString(log, line + "\n", StandardCharsets.UTF_8,
                        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
                if (line.startsWith("orion-dedup ready")) {
                    ready.countDown();
                }
            }
        } catch (IOException e) {
            // the stream closed under the reader (stop, kill, or close while the process exits):
            // keep what was read and say so, rather than killing this thread with a stack trace
            output.append("[server output ended: ").append(e.getMessage()).append("]\n");
        } finally {
            ready.countDown();
        }
    }

    int port() {
        return port;
    }

    Path data() {
        return data;
    }

    public String output() {
        return output.toString();
    }

    String url(int lun) {
        return url(DEFAULT_IQN, lun);
    }

    String url(String iqn, int lun) {
        return "iscsi://127.0.0.1:" + port + "/" + iqn + "/" + lun;
    }

    /** LUN {@code lun} of the default target through the portal 127.0.0.1:{@code portalPort}. */
    public String url(int lun, int portalPort) {
        return "iscsi://127.0.0.1:" + portalPort + "/" + DEFAULT_IQN + "/" + lun;
    }

    /**
     * A QEMU block-driver option string for the byte range [offset, offset+size) of LUN 0 (a raw
     * node over the iscsi protocol driver), for --image-opts / --target-image-opts.
     */
    String rawRange(long offset, long size) {
        return "driver=raw,offset=" + offset + ",size=" + size + ",file.driver=iscsi,file.transport=tcp"
                + ",file.portal=127.0.0.1:" + port + ",file.target=" + DEFAULT_IQN + ",file.lun=0";
    }

    /** SIGTERM and wait: a clean shutdown must exit 0. */
    int stop(Duration limit) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("server did not stop within " + limit + ":\n" + output);
        }
        return process.exitValue();
    }

    /** kill -9: no shutdown hook, no flush, like a power cut for the process. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** The server's process id (the JVM itself). */
    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
