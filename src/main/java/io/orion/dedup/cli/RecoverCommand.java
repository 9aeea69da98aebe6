package io.orion.dedup.cli;

import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.config.PoolSettings;
import io.orion.dedup.recovery.PoolRebuilder;
import io.orion.dedup.containers.DeviceSpec;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code orion-dedup recover}: rebuilds the whole metadata store of a stopped server's pool from its
 * backing devices alone ({@link PoolRebuilder}).
 */
@Command(name = "recover", mixinStandardHelpOptions = true,
        description = {"Rebuild the pool metadata (every LMDB table) from the backing devices alone.",
            "The server must be stopped. Persistent reservations are not on the devices and are not rebuilt."})
final class RecoverCommand implements Callable<Integer> {
    /** Default container size of a pool (the rebuild reads the real one from the slot headers). */
    static final long DEFAULT_CONTAINER_SIZE = 64L << 20;

    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "Configuration file (default: conf/dedup.toml).")
    Path config;

    @Option(names = "--data", paramLabel = "DIR", description = "Data directory (default: [server] data_dir).")
    Path data;

    @Option(names = "--force", description = "Replace existing metadata (it is kept beside, renamed).")
    boolean force;

    @Option(names = "--accept-damage", description = {"Rebuild even when records or slot headers on the devices are"
            + " damaged (not a torn tail): the blocks the lost records described then read as unmapped or as their"
            + " older content. Without it such a rebuild is refused and nothing is written."})
    boolean acceptDamage;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        OrionConfig cfg = ServeCommand.configOrDefaults(config);
        Path dataDir = cfg.dataDir(data);
        PoolSettings ps = cfg.pool();
        Path meta = ps.metadataDir(dataDir);
        Path socket = cfg.control().socketPath(dataDir);
        if (serverRuns(socket, meta)) {
            err.println("orion-dedup recover: a server is running on " + dataDir + " (control socket " + socket
                    + " answers, or the metadata is open); stop it first");
            err.flush();
            return OrionCli.EXIT_USAGE;
        }
        Path mdb = meta.resolve("data.mdb");
        if (Files.exists(mdb)) {
            if (!force) {
                err.println("orion-dedup recover: metadata exists in " + meta + "; recover rebuilds it from the"
                        + " devices only when it is lost or damaged: add --force to replace it (the old files are"
                        + " kept, renamed)");
                err.flush();
                return OrionCli.EXIT_USAGE;
            }
            String stamp = Long.toString(System.currentTimeMillis());
            Files.move(mdb, meta.resolve("data.mdb.replaced-" + stamp));
            Path lock = meta.resolve("lock.mdb");
            if (Files.exists(lock)) {
                Files.move(lock, meta.resolve("lock.mdb.replaced-" + stamp));
            }
            out.println("existing metadata kept as " + meta.resolve("data.mdb.replaced-" + stamp));
        }
        List<DeviceSpec> devices = new ArrayList<>();
        for (PoolSettings.Device d : ps.devices(dataDir)) {
            devices.add(new DeviceSpec(d.path(), d.size()));
        }
        boolean terminal = System.console() != null;
        Bar bar = new Bar(out, terminal);
        out.println("recovering the pool metadata into " + meta + " from " + devices.size() + " device(s)");
        out.flush();
        PoolRebuilder.Summary s;
        try {
            s = new PoolRebuilder(devices, meta, DEFAULT_CONTAINER_SIZE,
                    cfg.deduplication().referenceMetadataSize(), bar, acceptDamage).rebuild();
        } catch (IOException e) {
            bar.end();
            err.println("orion-dedup recover: " + e.getMessage());
            err.flush();
            return OrionCli.EXIT_FAILURE;
        }
        bar.end();
        out.println("pool " + s.poolUuid() + " recovered:");
        out.println("  volumes:          " + s.volumes());
        out.println("  chunks:           " + s.chunks());
        out.println("  mapped blocks:    " + s.mappedBlocks());
        out.println("  containers:       " + s.containers());
        out.println("  journal records:  " + s.journalRecords());
        out.println("  torn tails cut:   " + s.tornTails() + " (" + s.tornBytes() + " bytes)");
        out.println("  bytes scanned:    " + s.bytesScanned());
        if (s.lostBlocks() > 0) {
            out.println("  LOST blocks:      " + s.lostBlocks() + " (their chunk records are on no device; they read"
                    + " as unmapped)");
        }
        out.println("persistent reservations (APTPL) are kept only in the metadata and were not recovered;"
                + " initiators must register again");
        out.flush();
        return s.lostBlocks() > 0 ? OrionCli.EXIT_FAILURE : 0;
    }

    /** True when the control socket answers or another process holds the metadata environment open. */
    static boolean serverRuns(Path socket, Path meta) {
        if (Files.exists(socket)) {
            try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                if (c.isConnected()) {
                    return true;
                }
            } catch (IOException e) {
                // a stale socket file
            }
        }
        Path lock = meta.resolve("lock.mdb");
        if (Files.exists(lock)) {
            // LMDB holds a POSIX lock on its lock file while the environment is open
            try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE)) {
                FileLock l = ch.tryLock();
                if (l == null) {
                    return true;
                }
                l.release();
            } catch (OverlappingFileLockException e) {
                return true;
            } catch (IOException e) {
                return false;
            }
        }
        return false;
    }

    /** A progress bar on a terminal; plain lines (every tenth) otherwise. */
    private static final class Bar implements PoolRebuilder.Progress {
        private final PrintWriter out;
        private final boolean terminal;
        private String phase = "";
        private int lastTenth = -1;
        private int lastWidth = -1;
        private boolean drawn;

        Bar(PrintWriter out, boolean terminal) {
            this.out = out;
            this.terminal = terminal;
        }

        @Override
        public void update(String ph, long done, long total) {
            double f = total <= 0 ? 1 : Math.min(1, (double) done / total);
            if (!ph.equals(phase)) {
                if (terminal && drawn) {
                    out.println();
                }
                phase = ph;
                lastTenth = -1;
                lastWidth = -1;
            }
            if (terminal) {
                int w = (int) (f * 40);
                if (w != lastWidth) {
                    lastWidth = w;
                    drawn = true;
                    out.print(String.format(Locale.ROOT, "\r%-18s [%-40s] %5.1f%%", ph, "#".repeat(w), f * 100));
                    out.flush();
                }
            } else {
                int tenth = (int) (f * 10);
                if (tenth != lastTenth) {
                    lastTenth = tenth;
                    out.println(String.format(Locale.ROOT, "%s: %d%% (%d of %d)", ph, tenth * 10, done, total));
                    out.flush();
                }
            }
        }

        void end() {
            if (terminal && drawn) {
                out.println();
                out.flush();
            }
        }
    }
}
