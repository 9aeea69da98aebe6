package io.orion.dedup.cli;

import io.orion.dedup.config.HeapFit;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.OrionConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code serve}: runs the target in the foreground. Prints one line containing {@code ready} and
 * the portals once logins are accepted; SIGTERM or SIGINT shut it down cleanly with exit 0.
 */
@Command(name = "serve", description = {
    "Run the iSCSI target in the foreground until SIGTERM or SIGINT.",
    "SIGHUP re-reads the target files and applies what changed, keeping sessions (as 'orion-dedup reload').",
    "Under systemd (Type=notify) it sends READY=1 on $$NOTIFY_SOCKET once logins are accepted.",
    "Without --config, conf/dedup.toml is used when present, else the built-in defaults."})
final class ServeCommand implements Callable<Integer> {

    /** The configuration file used when --config is not given and it exists. */
    static final Path DEFAULT_CONFIG = Path.of("conf", "dedup.toml");

    /**
     * The configuration an offline command (recover, restore) works with: {@code config} when given,
     * else {@code conf/dedup.toml} when it exists, else the built-in defaults, as {@code serve} does.
     */
    static OrionConfig configOrDefaults(Path config) throws java.io.IOException, io.orion.dedup.config.ConfigException {
        if (config != null) {
            return OrionConfig.load(config);
        }
        return Files.exists(DEFAULT_CONFIG) ? OrionConfig.load(DEFAULT_CONFIG) : OrionConfig.defaults();
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "Configuration file (default: conf/dedup.toml).")
    Path config;

    @Option(names = "--targets", paramLabel = "DIR", description = "Target definitions (default: [server] targets_dir).")
    Path targets;

    @Option(names = "--data", paramLabel = "DIR", description = "Data directory (default: [server] data_dir).")
    Path data;

    @Option(names = "--listen", paramLabel = "HOST:PORT",
            description = "Portal to listen on instead of [server] portals; repeatable.")
    List<HostPort> listen = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        OrionCli root = (OrionCli) spec.root().userObject();
        PrintWriter out = spec.commandLine().getOut();
        OrionConfig cfg;
        Path configFile = config;
        if (configFile != null) {
            cfg = OrionConfig.load(configFile);
        } else if (Files.exists(DEFAULT_CONFIG)) {
            configFile = DEFAULT_CONFIG;
            cfg = OrionConfig.load(configFile);
        } else {
            cfg = OrionConfig.defaults();
        }
        HeapFit.check(cfg.deduplication(), configFile, Runtime.getRuntime().maxMemory());
        Path dataDir = cfg.dataDir(data);
        Path targetsDir = targets != null ? targets : cfg.server().targetsDir();
        List<InetSocketAddress> override = listen.stream().map(HostPort::toSocketAddress).toList();

        ServerLauncher launcher = root.launcher().orElseThrow(() -> new IOException(
                "this build has no server (" + ServerLaunchers.DEFAULT_CLASS + " not found)"));
        RunningServer server = launcher.start(cfg, configFile, targetsDir, dataDir, override);
        AtomicBoolean stopping = new AtomicBoolean();
        Runnable stop = () -> {
            if (stopping.compareAndSet(false, true)) {
                try {
                    server.close();
                } catch (IOException | RuntimeException e) {
                    PrintWriter err = spec.commandLine().getErr();
                    err.println("orion-dedup: error during shutdown: " + e.getMessage());
                    err.flush();
                }
            }
        };
        root.onTermination(stop);
        // SIGHUP re-reads the target files (as `orion-dedup reload` / systemctl reload do), never ends the server
        if (!Signals.onHangup(() -> reloadOnHangup(server))) {
            // started with SIGHUP ignored (nohup): a reload by signal would pass unnoticed, so say so
            org.slf4j.LoggerFactory.getLogger(ServeCommand.class).warn("SIGHUP is ignored by this process (started"
                    + " under nohup?): it will not reload the target files; use 'orion-dedup reload' or restart"
                    + " without nohup");
        }

        List<String> portals = server.portals().stream().map(ServeCommand::format).collect(Collectors.toList());
        if (portals.isEmpty()) {
            portals = (override.isEmpty() ? cfg.server().portals().stream().map(HostPort::toString)
                    : listen.stream().map(HostPort::toString)).toList();
        }
        Path socket = cfg.control().socketPath(dataDir);
        out.println("orion-dedup ready: portals " + String.join(" ", portals)
                + (Files.exists(socket) ? ", control socket " + socket : "") + ", data " + dataDir);
        out.flush();
        notifySystemd("READY=1\nSTATUS=serving portals " + String.join(" ", portals) + "\nMAINPID="
                + ProcessHandle.current().pid());
        server.awaitTermination();
        notifySystemd("STOPPING=1");
        stop.run();
        out.println("orion-dedup stopped");
        out.flush();
        return 0;
    }

    /** SIGHUP: reload, with an audit line as for a reload over the control socket. */
    private static void reloadOnHangup(RunningServer server) {
        org.slf4j.Logger audit = org.slf4j.LoggerFactory.getLogger("io.orion.dedup.audit");
        try {
            audit.info("audit: signal SIGHUP reload result=ok: {}", server.reload());
        } catch (IOException | RuntimeException e) {
            audit.warn("audit: signal SIGHUP reload result=failed: {}", e.getMessage());
        }
    }

    /** Type=notify readiness (systemd started us with NOTIFY_SOCKET); a failure is said, not fatal. */
    private void notifySystemd(String state) {
        try {
            SystemdNotify.notify(state);
        } catch (IOException e) {
            PrintWriter err = spec.commandLine().getErr();
            err.println("orion-dedup: " + e.getMessage());
            err.flush();
        }
    }

    private static String format(InetSocketAddress a) {
        String host = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return new HostPort(host, a.getPort()).toString();
    }
}
