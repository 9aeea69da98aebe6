package io.orion.dedup.server;

import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.config.TargetDirectory;
import io.orion.dedup.iscsi.IscsiServer;
import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.iscsi.TargetCatalog;
import io.orion.dedup.scsi.LunOptions;
import io.orion.dedup.scsi.ScsiTargetService;
import io.orion.dedup.storage.BlockDevice;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running Orion Dedup server: loads the target definitions, opens every LUN's volume, starts the
 * iSCSI portals, and shuts all of it down in reverse order.
 *
 * <p>Threads: Netty event loops (iSCSI), the shared SCSI I/O pool, and whoever calls the admin
 * methods; target state lives in concurrent maps, changes to it are serialised on {@code this}.
 */
public final class OrionServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OrionServer.class);

    private final OrionConfig config;
    private final Path dataDir;
    private final TargetDirectory targetDirectory;
    private final Volumes volumes;
    private final ExecutorService io;
    private final Map<String, LiveTarget> targets = new ConcurrentHashMap<>();
    private final IscsiServer iscsi;
    private final List<InetSocketAddress> bound = new ArrayList<>();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private volatile boolean closed;

    private OrionServer(OrionConfig config, Path dataDir, TargetDirectory targetDirectory) throws IOException {
        this.config = config;
        this.dataDir = dataDir;
        this.targetDirectory = targetDirectory;
        this.volumes = new Volumes(config, dataDir);
        AtomicInteger n = new AtomicInteger();
        int threads = Math.max(8, Runtime.getRuntime().availableProcessors() * 4);
        this.io = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "scsi-io-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.iscsi = new IscsiServer(new Catalog(), IscsiServerOptions.defaults()
                .withQueueDepth(config.server().queueDepth())
                .withNopIn(java.time.Duration.ofSeconds(config.server().nopInIntervalSeconds()),
                        java.time.Duration.ofSeconds(config.server().nopInTimeoutSeconds())));
    }

    /**
     * Starts a server: the definitions in {@code targetsDir}, data (volumes, metadata, control
     * socket) in {@code dataDir}, listening on {@code listenOverride} if not empty, else on the
     * config's portals.
     */
    public static OrionServer start(OrionConfig config, Path configFile, Path targetsDir, Path dataDir,
                                    List<InetSocketAddress> listenOverride) throws IOException, ConfigException {
        Files.createDirectories(dataDir);
        TargetDirectory dir = TargetDirectory.load(targetsDir);
        OrionServer s = new OrionServer(config, dataDir, dir);
        try {
            for (TargetDefinition t : dir.targets()) {
                s.activate(t);
            }
            List<InetSocketAddress> portals = new ArrayList<>(listenOverride);
            if (portals.isEmpty()) {
                for (HostPort hp : config.server().portals()) {
                    portals.add(new InetSocketAddress(hp.host(), hp.port()));
                }
            }
            for (InetSocketAddress a : portals) {
                s.bound.add(s.iscsi.bind(a));
            }
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        LOG.info("serving {} target(s) on {}", s.targets.size(), s.bound);
        return s;
    }

    /** The addresses the iSCSI portals listen on (ports resolved). */
    public List<InetSocketAddress> portals() {
        return List.copyOf(bound);
    }

    private synchronized LiveTarget activate(TargetDefinition t) throws IOException {
        LiveTarget live = new LiveTarget(t, new ScsiTargetService(t.iqn(), io));
        try {
            for (LunDefinition lun : t.luns()) {
                attach(live, lun);
            }
        } catch (IOException | RuntimeException e) {
            live.devices().values().forEach(Volumes::closeQuietly);
            throw e;
        }
        targets.put(t.iqn(), live);
        return live;
    }

    private void attach(LiveTarget live, LunDefinition lun) throws IOException {
        BlockDevice dev = volumes.open(lun);
        live.devices().put(lun.id(), dev);
        live.scsi().addLun(lun.id(), dev, new LunOptions(lun.readOnly(), null, null));
    }

    /** The target catalog the iSCSI layer consults at each login and discovery. */
    private final class Catalog implements TargetCatalog {
        @Override
        public List<IscsiTargetInfo> targets() {
            List<IscsiTargetInfo> out = new ArrayList<>();
            for (TargetDefinition d : targetDirectory.targets()) {
                LiveTarget t = targets.get(d.iqn());
                if (t != null) {
                    out.add(t.iscsiInfo());
                }
            }
            return out;
        }

        @Override
        public Optional<IscsiTargetInfo> find(String iqn) {
            LiveTarget t = targets.get(iqn);
            return t == null ? Optional.empty() : Optional.of(t.iscsiInfo());
        }
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitTermination() throws InterruptedException {
        terminated.await();
    }

    /** Stops the portals (sessions logged out or dropped), flushes and closes every volume. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            iscsi.close();
            for (LiveTarget t : targets.values()) {
                t.scsi().close();
            }
            io.shutdown();
            for (LiveTarget t : targets.values()) {
                for (BlockDevice d : t.devices().values()) {
                    try {
                        d.flush();
                    } catch (IOException e) {
                        LOG.error("flush of a volume of {} failed at shutdown: {}", t.definition().iqn(), e.toString());
                    }
                    Volumes.closeQuietly(d);
                }
            }
            volumes.close();
        } finally {
            terminated.countDown();
        }
    }
}
