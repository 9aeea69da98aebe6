package io.orion.dedup.server;

import io.orion.dedup.admin.ControlServer;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.IscsiName;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.config.TargetDirectory;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.iscsi.DiscoveryAuth;
import io.orion.dedup.iscsi.IscsiServer;
import io.orion.dedup.jobs.JobException;
import io.orion.dedup.jobs.JobKind;
import io.orion.dedup.jobs.JobManager;
import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.iscsi.TargetCatalog;
import io.orion.dedup.scsi.BlockIoExecutor;
import io.orion.dedup.scsi.CopyManager;
import io.orion.dedup.scsi.LunOptions;
import io.orion.dedup.scsi.ScsiTargetService;
import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.PrivateFiles;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running Orion Dedup server: loads the target definitions, opens every LUN's volume, starts the
 * iSCSI portals, the control socket ({@link AdminService} behind {@link ControlServer}) and the
 * Prometheus endpoint, and shuts all of it down in reverse order.
 *
 * <p>Threads: Netty event loops (iSCSI), the shared SCSI I/O pool, control-socket client threads
 * calling {@link AdminService}, and the metrics HTTP thread. Target state lives in concurrent maps;
 * changes to it are serialised on {@code this}.
 */
public final class OrionServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OrionServer.class);
    /** How long a LUN being removed waits for its commands in flight. */
    private static final java.time.Duration DRAIN_TIMEOUT = java.time.Duration.ofSeconds(30);
    /** Most block I/O threads, stuck ones included (see {@link BlockIoExecutor}). */
    private static final int IO_THREADS_MAX = 256;

    private final OrionConfig config;
    private final Path dataDir;
    private final TargetDirectory targetDirectory;
    private final Volumes volumes;
    private final ExecutorService io;
    private final Map<String, LiveTarget> targets = new ConcurrentHashMap<>();
    /** One third-party copy manager for every target: copies may go from any LUN to any LUN. */
    private final CopyManager copies = new CopyManager();
    private final ServerMetrics metrics;
    /** Background jobs (scrub, cleanup, compression-optimize), their schedule and history. */
    private final JobManager jobs;
    private final IscsiServer iscsi;
    /** Listeners of the server's own portals ([server] portals or serve --listen): never withdrawn. */
    private final List<InetSocketAddress> bound = new CopyOnWriteArrayList<>();
    /** Listeners bound for target portals, by the portal that needed them (changed under this). */
    private final Map<HostPort, InetSocketAddress> targetListeners = new ConcurrentHashMap<>();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private final long startedMillis = System.currentTimeMillis();
    private volatile ControlServer control;
    /** The admin service behind the control socket; SIGHUP reloads through it too (one lock for both). */
    private volatile AdminService admin;
    private volatile MetricsEndpoint metricsEndpoint;
    private volatile boolean closed;
    private volatile java.util.concurrent.ScheduledExecutorService background;

    private OrionServer(OrionConfig config, Path dataDir, TargetDirectory targetDirectory) throws IOException {
        this.config = config;
        this.dataDir = dataDir;
        this.targetDirectory = targetDirectory;
        this.volumes = new Volumes(config, dataDir);
        int threads = Math.max(8, Runtime.getRuntime().availableProcessors() * 4);
        // more threads while all are stuck on a slow device, so other LUNs' commands still run
        this.io = new BlockIoExecutor(threads, IO_THREADS_MAX, "scsi-io-");
        this.metrics = new ServerMetrics();
        this.jobs = JobManager.open(dataDir, config.jobs(), metrics.registry());
        copies.access(this::mayCopy);
        this.iscsi = new IscsiServer(new Catalog(), IscsiServerOptions.defaults()
                .withQueueDepth(config.server().queueDepth())
                .withNopIn(java.time.Duration.ofSeconds(config.server().nopInIntervalSeconds()),
                        java.time.Duration.ofSeconds(config.server().nopInTimeoutSeconds()))
                .withDiscoveryAuth(new DiscoveryChap())
                .withMetrics(metrics));
    }

    /**
     * Starts a server: the definitions in {@code targetsDir}, data (volumes, metadata, control
     * socket) in {@code dataDir}, listening on {@code listenOverride} if not empty, else on the
     * config's portals, plus every portal a target definition names.
     */
    public static OrionServer start(OrionConfig config, Path configFile, Path targetsDir, Path dataDir,
                                    List<InetSocketAddress> listenOverride) throws IOException, ConfigException {
        PrivateFiles.directory(dataDir);
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
            s.syncPortals(dir.targets(), false);
            s.metrics.bindServer(s);
            AdminService admin = new AdminService(s);
            s.admin = admin;
            Path socket = config.control().socketPath(dataDir);
            String group = config.control().group();
            s.control = ControlServer.start(admin, socket, config.control().permissions(), group);
            s.jobs.startSchedule(() -> {
                try {
                    return s.volumes.existingPool().isPresent();
                } catch (IOException e) {
                    return false;
                }
            }, 60_000);
            if (group != null && socket.toAbsolutePath().normalize().getParent().equals(dataDir.toAbsolutePath().normalize())) {
                // the group may pass through the data directory to the socket, and list or read nothing
                PrivateFiles.setGroup(dataDir, group, PrivateFiles.DIRECTORY_GROUP_PASS);
            }
            if (config.metrics().enabled()) {
                try {
                    s.metricsEndpoint = MetricsEndpoint.start(config.metrics().listen(), s.metrics);
                } catch (IOException e) {
                    // iSCSI service matters more than its scrape endpoint: run on, say so loudly
                    LOG.error("metrics endpoint disabled: cannot listen on {}: {}", config.metrics().listen(),
                            e.getMessage());
                }
            }
            s.startBackgroundFlush();
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        LOG.info("serving {} target(s) on {}", s.targets.size(), s.bound);
        return s;
    }

    /** Reads the target files again and applies what changed (SIGHUP; the control socket's {@code reload}). */
    public io.orion.dedup.admin.ReloadResult reload() throws io.orion.dedup.admin.AdminException, IOException {
        AdminService a = admin;
        if (a == null || closed) {
            throw new io.orion.dedup.admin.AdminException("the server is not running");
        }
        return a.reload();
    }

    /** The addresses the iSCSI portals listen on (ports resolved): the server's, then the targets'. */
    public List<InetSocketAddress> portals() {
        List<InetSocketAddress> all = new ArrayList<>(bound);
        for (InetSocketAddress a : targetListeners.values()) {
            if (!all.contains(a)) {
                all.add(a);
            }
        }
        return all;
    }

    /** The server's own portals, which portal groups without portals of their own use. */
    List<InetSocketAddress> serverPortals() {
        return List.copyOf(bound);
    }

    /** The metrics endpoint's address, or empty when disabled or it could not bind. */
    public Optional<InetSocketAddress> metricsAddress() {
        MetricsEndpoint m = metricsEndpoint;
        return m == null ? Optional.empty() : Optional.of(m.address());
    }

    // ---- state the admin service works on -----------------------------------------------------

    OrionConfig config() {
        return config;
    }

    Path dataDir() {
        return dataDir;
    }

    TargetDirectory targetDirectory() {
        return targetDirectory;
    }

    Volumes volumes() {
        return volumes;
    }

    IscsiServer iscsi() {
        return iscsi;
    }

    ServerMetrics metrics() {
        return metrics;
    }

    JobManager jobs() {
        return jobs;
    }

    long startedMillis() {
        return startedMillis;
    }

    /** The live target of that (normalised) name. */
    Optional<LiveTarget> live(String iqn) {
        return Optional.ofNullable(targets.get(iqn));
    }

    /** Whether {@code initiator}, logged in to {@code session}, may name a LUN of {@code iqn} in a copy. */
    private boolean mayCopy(String initiator, String session, String iqn, long lun, boolean write) {
        LiveTarget t = targets.get(iqn);
        return t != null && new AclAuthorizer(t.definition()).mayCopy(initiator, session, lun, write);
    }

    /** Every live target, in definition order. */
    List<LiveTarget> liveTargets() {
        List<LiveTarget> out = new ArrayList<>();
        for (TargetDefinition d : targetDirectory.targets()) {
            LiveTarget t = targets.get(d.iqn());
            if (t != null) {
                out.add(t);
            }
        }
        return out;
    }

    /** Opens every LUN of {@code t} and makes the target visible to logins and discovery. */
    synchronized LiveTarget activate(TargetDefinition t) throws IOException {
        LiveTarget live = new LiveTarget(t, new ScsiTargetService(t.iqn(), io));
        live.scsi().useCopyManager(copies); // EXTENDED COPY / WRITE USING TOKEN across all targets
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

    /**
     * Hides a target from logins and discovery, drops its sessions (as LIO does when a target
     * portal group is deleted with force: connections closed, each nexus reported lost), removes
     * its LUNs and closes their devices.
     */
    synchronized void deactivate(String iqn) {
        LiveTarget live = targets.remove(iqn);
        if (live == null) {
            return;
        }
        int dropped = iscsi.dropSessions(iqn);
        if (dropped > 0) {
            LOG.info("target {} withdrawn: {} session(s) dropped", iqn, dropped);
        }
        for (Integer id : List.copyOf(live.devices().keySet())) {
            detach(live, id);
        }
        iscsi.dropSessions(iqn); // a login that found the target just before it was hidden
        live.scsi().close();
    }

    /** Opens the device of {@code lun} (creating a new volume) and adds the LUN to the live target. */
    synchronized BlockDevice attach(LiveTarget live, LunDefinition lun) throws IOException {
        BlockDevice dev = volumes.open(lun);
        try {
            live.scsi().addLun(lun.id(), dev, new LunOptions(lun.readOnly(), null, null), volumes.prStore(lun, dev));
        } catch (IOException | RuntimeException e) {
            Volumes.closeQuietly(dev);
            throw e;
        }
        live.devices().put(lun.id(), dev);
        return dev;
    }

    /**
     * Removes a LUN from the live target — from then on it answers LOGICAL UNIT NOT SUPPORTED and
     * the target's other LUNs report REPORTED LUNS DATA HAS CHANGED (SPC-4 §7.9) — waits for the
     * commands already under way on it, then flushes and closes its device.
     */
    synchronized void detach(LiveTarget live, int id) {
        live.scsi().removeLun(id);
        try {
            if (!live.scsi().awaitIdle(id, DRAIN_TIMEOUT)) {
                LOG.warn("LUN {} of {}: commands still in flight after {}; closing its device anyway", id,
                        live.definition().iqn(), DRAIN_TIMEOUT);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        BlockDevice dev = live.devices().remove(id);
        if (dev != null) {
            try {
                dev.flush();
            } catch (IOException e) {
                LOG.error("flush of LUN {} of {} failed while removing it: {}", id, live.definition().iqn(), e.toString());
            }
            Volumes.closeQuietly(dev);
        }
    }

    /**
     * Makes the listeners match the portals {@code definitions} name, the way LIO shares a network
     * portal between target portal groups: a portal is bound when the first target names it (unless
     * a server portal or another listener already covers it — same port on the same address or on
     * the wildcard address) and, with {@code unbindUnused}, its listener is closed once no target
     * names it any more. Server portals are never closed. Unbinding happens before binding, so a
     * wildcard listener can give way to a specific one on the same port.
     *
     * @throws IOException if a portal cannot be bound; portals bound before the failure stay bound
     */
    synchronized void syncPortals(List<TargetDefinition> definitions, boolean unbindUnused) throws IOException {
        java.util.Set<HostPort> wanted = new java.util.LinkedHashSet<>();
        for (TargetDefinition t : definitions) {
            for (PortalGroup g : t.portalGroups()) {
                wanted.addAll(g.portals());
            }
        }
        if (unbindUnused) {
            for (var it = targetListeners.entrySet().iterator(); it.hasNext(); ) {
                var e = it.next();
                if (!wanted.contains(e.getKey())) {
                    iscsi.unbind(e.getValue());
                    it.remove();
                    LOG.info("portal {} is used by no target any more; stopped listening on it", e.getKey());
                }
            }
        }
        for (HostPort hp : wanted) {
            if (targetListeners.containsKey(hp) || covered(hp.toSocketAddress())) {
                continue;
            }
            targetListeners.put(hp, iscsi.bind(hp.toSocketAddress()));
        }
    }

    /**
     * {@link #syncPortals} with the definitions of the live targets, closing unused listeners;
     * run after every admin change (also one that failed, to undo what its preparation bound).
     * A portal that cannot be bound here is logged: the change it belongs to has happened.
     */
    synchronized void reconcilePortals() {
        List<TargetDefinition> live = targets.values().stream().map(LiveTarget::definition).toList();
        try {
            syncPortals(live, true);
        } catch (IOException e) {
            LOG.error("a target portal cannot be bound: {}", e.getMessage());
        }
    }

    /** True if a listener already accepts connections for {@code want}. */
    private boolean covered(InetSocketAddress want) {
        List<InetSocketAddress> all = new ArrayList<>(bound);
        all.addAll(targetListeners.values());
        for (InetSocketAddress b : all) {
            if (covers(b, want)) {
                return true;
            }
        }
        return false;
    }

    /** True if a listener on {@code listener} (a wildcard address covers every one) takes {@code want}. */
    static boolean covers(InetSocketAddress listener, InetSocketAddress want) {
        return listener.getPort() == want.getPort() && (listener.getAddress() == null
                || listener.getAddress().isAnyLocalAddress()
                || want.getAddress() != null && listener.getAddress().equals(want.getAddress()));
    }

    /** The target catalog the iSCSI layer consults at each login and discovery. */
    private final class Catalog implements TargetCatalog {
        @Override
        public List<IscsiTargetInfo> targets() {
            List<InetSocketAddress> own = serverPortals();
            return liveTargets().stream().map(t -> t.iscsiInfo(own)).toList();
        }

        @Override
        public Optional<IscsiTargetInfo> find(String iqn) {
            LiveTarget t = targets.get(IscsiName.normalize(iqn));
            return t == null ? Optional.empty() : Optional.of(t.iscsiInfo(serverPortals()));
        }
    }

    /**
     * Discovery CHAP (RFC 7143 §12.1): the transport authenticates a whole discovery session at
     * once, so the {@code discovery_chap} of the first target (in definition order) that sets one
     * applies to every discovery session.
     */
    private final class DiscoveryChap implements DiscoveryAuth {
        @Override
        public Optional<io.orion.dedup.iscsi.ChapCredentials> chap(String initiatorName) {
            for (TargetDefinition d : targetDirectory.targets()) {
                ChapCredentials c = d.discoveryChap();
                if (c != null) {
                    return Optional.of(AclAuthorizer.toIscsi(c));
                }
            }
            return Optional.empty();
        }
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitTermination() throws InterruptedException {
        terminated.await();
    }

    /**
     * {@code background_interval}: every N seconds (with {@code background_processing}) every open
     * volume is flushed, so an acknowledged write is durable at the latest N seconds later even if
     * the initiator never sends SYNCHRONIZE CACHE.
     */
    private void startBackgroundFlush() {
        var d = config.deduplication();
        long every = d.backgroundIntervalSeconds();
        if (!d.backgroundProcessing() || every <= 0) {
            return;
        }
        background = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "background-flush");
            t.setDaemon(true);
            return t;
        });
        background.scheduleWithFixedDelay(() -> {
            flushAll();
            postProcessIfStaged();
        }, every, every, java.util.concurrent.TimeUnit.SECONDS);
    }

    /**
     * Starts a post-process pass (a {@code post-process} job) when the open pool has staged blocks
     * (written by post-process volumes since the last pass) and no pass runs: every
     * {@code background_interval} with {@code background_processing}.
     */
    void postProcessIfStaged() {
        try {
            DedupPool p = volumes.openPool().orElse(null);
            if (p == null || p.readOnlyReason() != null || jobs.activeJob(JobKind.POST_PROCESS).isPresent()
                    || p.stagedBlocks() == 0) {
                return;
            }
            jobs.start(JobKind.POST_PROCESS, "schedule");
        } catch (JobException | IOException | RuntimeException e) {
            LOG.warn("scheduled post-process pass not started: {}", e.getMessage());
        }
    }

    private void flushAll() {
        for (LiveTarget t : targets.values()) {
            for (BlockDevice dev : t.devices().values()) {
                try {
                    dev.flush();
                } catch (IOException | RuntimeException e) {
                    LOG.error("background flush of a volume of {} failed: {}", t.definition().iqn(), e.toString());
                }
            }
        }
    }

    /**
     * Stops the control socket and the metrics endpoint, the portals (sessions logged out or
     * dropped), then flushes and closes every volume.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            ControlServer c = control;
            if (c != null) {
                Volumes.closeQuietly(c);
            }
            MetricsEndpoint m = metricsEndpoint;
            if (m != null) {
                m.close();
            }
            jobs.close(); // running jobs stop at a consistent point before the volumes close
            metrics.close();
            if (background != null) {
                background.shutdownNow();
            }
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
