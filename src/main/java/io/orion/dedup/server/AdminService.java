package io.orion.dedup.server;

import com.fasterxml.jackson.core.type.TypeReference;
import io.orion.dedup.admin.AdminError;
import io.orion.dedup.admin.AdminException;
import io.orion.dedup.admin.AdminJson;
import io.orion.dedup.admin.SessionInfo;
import io.orion.dedup.admin.StatsReport;
import io.orion.dedup.admin.StatusReport;
import io.orion.dedup.jobs.JobContext;
import io.orion.dedup.jobs.JobException;
import io.orion.dedup.jobs.JobInfo;
import io.orion.dedup.jobs.JobKind;
import io.orion.dedup.jobs.JobManager;
import io.orion.dedup.jobs.JobOutcome;
import io.orion.dedup.jobs.JobState;
import io.orion.dedup.jobs.JobSummary;
import io.orion.dedup.admin.TargetAdminService;
import io.orion.dedup.admin.VolumeRelease;
import io.orion.dedup.admin.VolumeSummary;
import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.DedupSettings;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.IscsiName;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.dedup.CleanupResult;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.DeviceStats;
import io.orion.dedup.dedup.PoolStats;
import io.orion.dedup.dedup.ScrubResult;
import io.orion.dedup.dedup.VolumeStats;
import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.LbaStatus;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link AdminApi} of a running server. The target half (targets, LUNs, portals, ACLs, CHAP)
 * comes from {@link TargetAdminService}, which validates each change and saves it atomically to
 * {@code targets/} (temp file + rename) once {@link #apply} has made the live server match: new
 * LUNs are opened and added to the running SCSI target, so initiators see them without restart
 * (REPORTED LUNS DATA HAS CHANGED, SPC-4 §7.9); resizes change the device and raise CAPACITY DATA
 * HAS CHANGED; new portals start listening at once and a removed portal stops listening once no
 * target names it (sessions already logged in through it stay, as in LIO); a deleted target's
 * sessions are dropped, and so are the sessions of an initiator whose ACL is removed; other ACL and
 * CHAP changes apply at the next login (and mapped LUNs / write protection at the next command,
 * the SCSI core's access table, which {@link LiveTarget} fills from the ACLs; a change of an initiator's mapped LUNs gives its sessions REPORTED LUNS
 * DATA HAS CHANGED); a queue depth change applies to sessions that log in afterwards. The engine half
 * — status, stats, scrub and the management commands — runs on the live dedup pool and reports
 * its real figures.
 *
 * <p>Threads: control-socket client threads. Changes are serialised by the base class; reads of
 * the state are lock-free snapshots.
 */
final class AdminService extends TargetAdminService {

    private static final Logger LOG = LoggerFactory.getLogger(AdminService.class);
    /** Provisioning extents examined per file/RAM LUN when computing its used bytes. */
    private static final int MAX_EXTENTS = 1 << 16;

    private final OrionServer server;

    AdminService(OrionServer server) {
        super(server.targetDirectory());
        this.server = server;
        JobManager jobs = server.jobs();
        jobs.register(JobKind.SCRUB, this::scrubWork);
        jobs.register(JobKind.CLEANUP, this::cleanupWork);
        jobs.register(JobKind.COMPRESSION_OPTIMIZE, this::optimizeWork);
        jobs.register(JobKind.POST_PROCESS, this::postProcessWork);
    }

    // ---- the live half of the target changes -------------------------------------------------

    /**
     * Binds the portals the change needs first (a portal that cannot be bound refuses the change),
     * applies it, then closes the listeners no target uses any more — also when the change failed,
     * which undoes what it bound.
     */
    @Override
    protected void apply(TargetDefinition previous, TargetDefinition next) throws AdminException, IOException {
        try {
            applyLive(previous, next);
        } finally {
            server.reconcilePortals();
        }
    }

    private void applyLive(TargetDefinition previous, TargetDefinition next) throws AdminException, IOException {
        if (next != null) {
            for (PortalGroup g : next.portalGroups()) {
                for (HostPort p : g.portals()) {
                    if (p.port() == 0) {
                        throw new AdminException("portal " + p + ": a portal needs a fixed port (initiators must find it again)");
                    }
                }
            }
        }
        bindPortals(previous, next);
        if (previous == null) {
            try {
                server.activate(next);
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new AdminException("cannot create target " + next.iqn() + ": " + e.getMessage());
            }
            LOG.info("target {} created", next.iqn());
            return;
        }
        LiveTarget live = server.live(previous.iqn())
                .orElseThrow(() -> new AdminException("target " + previous.iqn() + " is not running"));
        if (next == null) {
            server.deactivate(previous.iqn());
            LOG.info("target {} deleted", previous.iqn());
            return;
        }
        List<LunDefinition> added = new ArrayList<>();
        List<LunDefinition> removed = new ArrayList<>();
        List<LunDefinition[]> resized = new ArrayList<>();
        List<LunDefinition> modeChanged = new ArrayList<>();
        for (LunDefinition n : next.luns()) {
            Optional<LunDefinition> p = previous.lun(n.id());
            if (p.isEmpty()) {
                added.add(n);
            } else if (!sameDevice(p.get(), n)) {
                removed.add(p.get());
                added.add(n);
            } else {
                if (p.get().size() != n.size()) {
                    resized.add(new LunDefinition[] {p.get(), n});
                }
                if (!java.util.Objects.equals(p.get().dedup(), n.dedup())) {
                    modeChanged.add(n); // its dedup key changed: the volume's stored mode follows
                }
            }
        }
        for (LunDefinition p : previous.luns()) {
            if (next.lun(p.id()).isEmpty()) {
                removed.add(p);
            }
        }
        List<LunDefinition[]> done = new ArrayList<>();
        try {
            for (LunDefinition[] r : resized) {
                BlockDevice dev = live.devices().get(r[1].id());
                if (dev == null) {
                    throw new AdminException("LUN " + r[1].id() + " of " + next.iqn() + " has no open device");
                }
                dev.resize(r[1].blockCount());
                done.add(r);
            }
        } catch (AdminException | IOException | RuntimeException e) {
            for (LunDefinition[] r : done) {
                live.devices().get(r[0].id()).resize(r[0].blockCount());
            }
            throw e;
        }
        for (LunDefinition m : modeChanged) {
            server.volumes().applyDedupMode(m);
        }
        for (LunDefinition r : removed) {
            server.detach(live, r.id());
        }
        List<LunDefinition> attached = new ArrayList<>();
        try {
            for (LunDefinition a : added) {
                server.attach(live, a);
                attached.add(a);
            }
        } catch (IOException | RuntimeException e) {
            for (LunDefinition a : attached) {
                server.detach(live, a.id());
            }
            if (e instanceof IOException io) {
                throw io;
            }
            throw new AdminException("cannot create LUN: " + e.getMessage());
        }
        live.definition(next);
        Set<String> rescan = viewChanged(previous, next);
        if (!rescan.isEmpty()) {
            // the LUNs these initiators see changed (SPC-4 §7.9): their sessions rescan
            live.scsi().reportedLunsChanged(n -> rescan.contains(IscsiName.normalize(n.initiatorName())));
        }
        for (AclDefinition gone : previous.acls()) {
            if (next.acl(gone.initiator()).isEmpty()) {
                // LIO ends the sessions of a removed node ACL (target_shutdown_sessions)
                int n = server.iscsi().dropSessions(next.iqn(), gone.initiator());
                LOG.info("ACL of {} removed from {}; {} session(s) of it dropped", gone.initiator(), next.iqn(), n);
            }
        }
        for (LunDefinition[] r : resized) {
            live.scsi().lunResized(r[1].id());
            LOG.info("LUN {} of {} resized from {} to {} bytes", r[1].id(), next.iqn(), r[0].size(), r[1].size());
        }
        removed.forEach(r -> LOG.info("LUN {} ({}) removed from {}", r.id(), r.volume(), next.iqn()));
        added.forEach(a -> LOG.info("LUN {} ({}, {} bytes) added to {}", a.id(), a.volume(), a.size(), next.iqn()));
    }

    /**
     * The initiators with an ACL in {@code next} whose mapped LUNs differ from {@code previous}
     * (a new ACL counts: until then the initiator saw every LUN, or none).
     */
    static Set<String> viewChanged(TargetDefinition previous, TargetDefinition next) {
        Set<String> out = new HashSet<>();
        for (AclDefinition a : next.acls()) {
            Optional<AclDefinition> before = previous.acl(a.initiator());
            if (before.isEmpty() || !Set.copyOf(before.get().mappedLuns()).equals(Set.copyOf(a.mappedLuns()))) {
                out.add(a.initiator());
            }
        }
        return out;
    }

    /** Same device behind the LUN: only the size may differ. */
    private static boolean sameDevice(LunDefinition a, LunDefinition b) {
        return a.volume().equals(b.volume()) && a.blockSize() == b.blockSize() && a.backing() == b.backing()
                && a.readOnly() == b.readOnly() && a.dedupBlockSize() == b.dedupBlockSize()
                && java.util.Objects.equals(a.path(), b.path());
    }

    /** Binds what the definitions after the change need; unbinding waits for {@link #apply}'s end. */
    private void bindPortals(TargetDefinition previous, TargetDefinition next) throws AdminException {
        List<TargetDefinition> after = new ArrayList<>();
        for (LiveTarget t : server.liveTargets()) {
            if (previous == null || !t.definition().iqn().equals(previous.iqn())) {
                after.add(t.definition());
            }
        }
        if (next != null) {
            after.add(next);
        }
        try {
            server.syncPortals(after, false);
        } catch (IOException e) {
            throw new AdminException("cannot listen on a portal of " + (next != null ? next : previous).iqn() + ": "
                    + e.getMessage());
        }
    }

    @Override
    protected int sessions(String iqn) {
        return sessionsOf(iqn).size();
    }

    /** Sessions that sent commands to the LUN (what makes a LUN "in use"). */
    @Override
    protected int sessionsUsing(String iqn, int lun) {
        return (int) sessionsOf(iqn).stream().filter(s -> s.lunsInUse().contains((long) lun)).count();
    }

    @Override
    protected List<HostPort> defaultPortals() {
        return server.serverPortals().stream().map(AdminService::hostPortOf).toList();
    }

    @Override
    protected int defaultDedupBlockSize() {
        return server.config().deduplication().hashBlockSize();
    }

    // ---- volumes -----------------------------------------------------------------------------

    /** The pool's dedup volumes (opening a pool that exists on disk) and the image files in {@code <data>/luns}. */
    @Override
    protected List<VolumeSummary> storedVolumes() throws IOException {
        List<VolumeSummary> out = new ArrayList<>();
        Optional<DedupPool> pool = server.volumes().existingPool();
        if (pool.isPresent()) {
            for (io.orion.dedup.dedup.VolumeInfo v : pool.get().volumes()) {
                Optional<DedupVolume> vol = pool.get().openVolume(v.name());
                if (vol.isPresent()) {
                    out.add(summary(vol.get()));
                }
            }
        }
        Path dir = server.volumes().lunsDir();
        if (Files.isDirectory(dir)) {
            try (var files = Files.list(dir)) {
                for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".img")).sorted().toList()) {
                    String n = f.getFileName().toString();
                    String name = n.substring(0, n.length() - ".img".length());
                    if (LunDefinition.validVolumeName(name)) {
                        out.add(fileSummary(name, f));
                    }
                }
            }
        }
        return out;
    }

    @Override
    protected Set<String> storedVolumeNames() throws IOException {
        Set<String> out = new HashSet<>();
        Optional<DedupPool> pool = server.volumes().existingPool();
        pool.ifPresent(p -> p.volumes().forEach(v -> out.add(v.name())));
        Path dir = server.volumes().lunsDir();
        if (Files.isDirectory(dir)) {
            try (var files = Files.list(dir)) {
                files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".img"))
                        .forEach(n -> out.add(n.substring(0, n.length() - ".img".length())));
            }
        }
        return out;
    }

    @Override
    protected Optional<VolumeSummary> storedVolume(LunDefinition lun) throws IOException {
        return switch (lun.backing()) {
            case DEDUP -> {
                Optional<DedupPool> pool = server.volumes().existingPool();
                Optional<DedupVolume> v = pool.isEmpty() ? Optional.empty() : pool.get().openVolume(lun.volume());
                yield v.isEmpty() ? Optional.empty() : Optional.of(summary(v.get()));
            }
            case FILE -> {
                Path f = server.volumes().imageFile(lun);
                yield Files.exists(f) ? Optional.of(fileSummary(lun.volume(), f)) : Optional.empty();
            }
            case RAM -> Optional.empty();
        };
    }

    @Override
    protected VolumeRelease destroyVolume(VolumeSummary v) throws AdminException, IOException {
        if (v.backing().equals("dedup")) {
            DedupPool pool = server.volumes().existingPool()
                    .orElseThrow(() -> new AdminException(AdminError.NOT_FOUND, "no volume " + v.volume()));
            if (pool.readOnlyReason() != null) {
                throw new AdminException(AdminError.READ_ONLY, "the pool is read-only (" + pool.readOnlyReason() + ")");
            }
            if (!pool.deleteVolume(v.volume())) {
                throw new AdminException(AdminError.NOT_FOUND, "no volume " + v.volume());
            }
            LOG.info("volume {} destroyed: {} mapped bytes, {} stored bytes of references dropped", v.volume(),
                    v.logicalUsedBytes(), v.storedBytes());
        } else if (v.backing().equals("file") && v.path() != null) {
            Files.deleteIfExists(Path.of(v.path()));
            Files.deleteIfExists(server.volumes().reservationsFile(v.volume())); // its persistent reservations
            LOG.info("volume {} destroyed: image file {} removed", v.volume(), v.path());
        }
        return new VolumeRelease(v.volume(), v.backing(), true, v.logicalUsedBytes(), v.storedBytes());
    }

    private static VolumeSummary summary(DedupVolume v) {
        long used = -1;
        long stored = -1;
        long exclusive = -1;
        try {
            VolumeStats s = v.stats();
            used = s.logicalBytes();
            stored = s.storedBytes();
            exclusive = s.exclusiveBytes();
        } catch (IOException e) {
            LOG.warn("figures of volume {} unavailable: {}", v.name(), e.getMessage());
        }
        return new VolumeSummary(v.name(), "dedup", v.blockCount() * v.blockSize(), v.blockSize(), v.dedupBlockSize(),
                used, stored, null, null, null, v.readOnly(), v.origin(), isoTime(v.originMillis(), v.origin()),
                exclusive);
    }

    private static String isoTime(long millis, String origin) {
        return origin == null ? null : java.time.Instant.ofEpochMilli(millis).truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
                .toString();
    }

    /** The dedup mode label of pool volume {@code name} ({@code inline}, {@code post}, {@code off}), or null. */
    private static String modeLabel(Optional<DedupPool> pool, String name) {
        io.orion.dedup.dedup.DedupMode m = pool.isEmpty() ? null : pool.get().dedupMode(name);
        return m == null ? null : m.label();
    }

    /** Blocks of pool volume {@code name} waiting for the post-process pass, or null without a pool. */
    private static Long staged(Optional<DedupPool> pool, String name) throws IOException {
        return pool.isEmpty() ? null : pool.get().stagedBlocks(name);
    }

    @Override
    protected String volumeDedupMode(LunDefinition l) {
        try {
            return modeLabel(server.volumes().existingPool(), l.volume());
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    protected String[] volumeOrigin(LunDefinition l) {
        try {
            Optional<DedupPool> pool = server.volumes().existingPool();
            Optional<DedupVolume> v = pool.isEmpty() ? Optional.empty() : pool.get().openVolume(l.volume());
            if (v.isEmpty() || v.get().origin() == null) {
                return null;
            }
            return new String[] {v.get().origin(), isoTime(v.get().originMillis(), v.get().origin())};
        } catch (IOException e) {
            return null;
        }
    }

    private DedupPool writablePool() throws AdminException, IOException {
        DedupPool pool = server.volumes().existingPool()
                .orElseThrow(() -> new AdminException(AdminError.NOT_FOUND, "no dedup pool: no dedup volume was ever created here"));
        if (pool.readOnlyReason() != null) {
            throw new AdminException(AdminError.READ_ONLY, "the pool is read-only (" + pool.readOnlyReason() + ")");
        }
        return pool;
    }

    @Override
    protected VolumeSummary cloneVolume(String source, String name, boolean readOnly) throws AdminException, IOException {
        DedupPool pool = writablePool();
        DedupVolume v;
        try {
            v = pool.cloneVolume(source, name, readOnly);
        } catch (IllegalArgumentException e) {
            throw new AdminException(e.getMessage());
        }
        LOG.info("volume {} {} from {}", name, readOnly ? "snapshotted" : "cloned", source);
        return summary(v);
    }

    @Override
    protected long rollbackVolume(TargetDefinition t, LunDefinition l, String snapshot)
            throws AdminException, IOException {
        DedupPool pool = writablePool();
        DedupVolume v;
        Optional<LiveTarget> live = server.live(t.iqn());
        try {
            v = live.isEmpty() ? pool.rollbackVolume(l.volume(), snapshot)
                    : live.get().scsi().replaceContents(l.id(), () -> pool.rollbackVolume(l.volume(), snapshot));
        } catch (IllegalArgumentException e) {
            throw new AdminException(e.getMessage());
        }
        LOG.info("LUN {} of {} (volume {}) rolled back to snapshot {}", l.id(), t.iqn(), l.volume(), snapshot);
        return v.blockCount() * v.blockSize();
    }

    private static VolumeSummary fileSummary(String name, Path f) throws IOException {
        long allocated = -1;
        try {
            Object blocks = Files.getAttribute(f, "unix:blocks");
            allocated = ((Number) blocks).longValue() * 512;
        } catch (UnsupportedOperationException | IllegalArgumentException | IOException e) {
            LOG.debug("allocated size of {} unknown: {}", f, e.toString());
        }
        return new VolumeSummary(name, "file", Files.size(f), 0, 0, allocated, allocated, f.toString(), null, null);
    }

    private List<io.orion.dedup.iscsi.SessionInfo> sessionsOf(String iqn) {
        return server.iscsi().sessions().stream()
                .filter(s -> !s.discovery() && s.targetName() != null && s.targetName().equalsIgnoreCase(iqn))
                .toList();
    }

    private static HostPort hostPortOf(InetSocketAddress a) {
        String host = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return new HostPort(host, a.getPort());
    }

    private static String hostPort(InetSocketAddress a) {
        return hostPortOf(a).toString();
    }

    // ---- server ------------------------------------------------------------------------------

    @Override
    public StatusReport status() {
        List<SessionInfo> sessions = new ArrayList<>();
        for (io.orion.dedup.iscsi.SessionInfo s : server.iscsi().sessions()) {
            sessions.add(new SessionInfo(s.initiatorName(), s.targetName() == null ? "" : s.targetName(),
                    String.format("%012x", s.isid()), s.tsih(), s.connections().size(),
                    s.connections().isEmpty() ? "" : s.connections().get(0), null));
        }
        int luns = server.targetDirectory().targets().stream().mapToInt(t -> t.luns().size()).sum();
        Optional<DedupPool> pool = server.volumes().openPool();
        return new StatusReport(io.orion.dedup.BuildInfo.current().describe(),
                (System.currentTimeMillis() - server.startedMillis()) / 1000,
                server.portals().stream().map(AdminService::hostPort).toList(), server.dataDir().toString(),
                server.targetDirectory().targets().size(), luns, sessions,
                server.metricsAddress().map(AdminService::hostPort).orElse(null),
                server.config().pool().durableCommits(), pool.map(p -> p.readOnlyReason() == null
                        ? StatusReport.POOL_READ_WRITE : StatusReport.POOL_READ_ONLY).orElse(StatusReport.POOL_NOT_OPEN),
                pool.map(DedupPool::readOnlyReason).orElse(null));
    }

    @Override
    public StatsReport stats(boolean verbose) throws AdminException, IOException {
        Optional<DedupPool> pool = server.volumes().existingPool();
        PoolStats ps = null;
        if (pool.isPresent()) {
            try {
                ps = pool.get().stats();
            } catch (IOException e) {
                // damaged metadata (the pool is then read-only): the pool figures and each LUN's
                // mapped bytes still come; only the per-volume chunk walk is left out
                LOG.warn("per-volume statistics unavailable: {}", e.getMessage());
                ps = pool.get().stats(false);
            }
        }
        List<io.orion.dedup.admin.VolumeStats> vols = new ArrayList<>();
        for (LiveTarget live : server.liveTargets()) {
            TargetDefinition t = live.definition();
            for (LunDefinition l : t.luns()) {
                BlockDevice dev = live.devices().get(l.id());
                if (dev == null) {
                    continue;
                }
                long used;
                long stored;
                long exclusive = -1;
                long unique = -1;
                VolumeStats vs = ps == null ? null
                        : ps.volumes().stream().filter(v -> v.name().equals(l.volume())).findFirst().orElse(null);
                if (dev instanceof DedupVolume && vs != null) {
                    used = vs.logicalBytes();
                    stored = vs.storedBytes();
                    exclusive = vs.exclusiveBytes();
                    unique = vs.uniqueBytes();
                } else if (dev instanceof DedupVolume) {
                    used = -1; // its block map cannot be walked (damaged metadata): unknown
                    stored = -1;
                } else {
                    used = mappedBytes(dev);
                    stored = used;
                }
                vols.add(new io.orion.dedup.admin.VolumeStats(l.volume(), t.iqn(), l.id(), dev.blockCount() * dev.blockSize(),
                        used, stored, exclusive, unique, dev instanceof DedupVolume ? modeLabel(pool, l.volume()) : null,
                        dev instanceof DedupVolume ? staged(pool, l.volume()) : null));
            }
        }
        if (ps != null) {
            // detached volumes: no LUN, but their chunks still take pool space
            Set<String> attached = new HashSet<>();
            for (TargetDefinition t : server.targetDirectory().targets()) {
                t.luns().stream().filter(l -> l.backing() == io.orion.dedup.config.LunBacking.DEDUP)
                        .forEach(l -> attached.add(l.volume()));
            }
            for (VolumeStats v : ps.volumes()) {
                if (!attached.contains(v.name())) {
                    vols.add(new io.orion.dedup.admin.VolumeStats(v.name(), null, null, v.capacityBytes(),
                            v.logicalBytes(), v.storedBytes(), v.exclusiveBytes(), v.uniqueBytes(),
                            modeLabel(pool, v.name()), staged(pool, v.name())));
                }
            }
        }
        if (ps == null) {
            return new StatsReport(vols, null, Map.of(), null);
        }
        io.orion.dedup.admin.PoolStats space = poolSpace(ps);
        long provisioned = pool.get().volumes().stream().mapToLong(v -> v.capacityBytes()).sum();
        return new StatsReport(vols, new io.orion.dedup.admin.PoolStats(space.sizeBytes(), space.usedBytes(),
                space.logicalBytes(), ps.uniqueBytes(), ps.storedBytes(), provisioned),
                counters(ps), ps.readOnlyReason());
    }

    /** Bytes of mapped blocks of a file or RAM LUN (from its provisioning status). */
    private static long mappedBytes(BlockDevice dev) throws IOException {
        long lba = 0;
        long mapped = 0;
        long n = dev.blockCount();
        for (int i = 0; lba < n && i < MAX_EXTENTS; i++) {
            LbaStatus s = dev.status(lba, n - lba);
            if (s.mapped()) {
                mapped += s.blocks();
            }
            lba = s.lba() + s.blocks();
        }
        return mapped * dev.blockSize();
    }

    /** The df-like pool line: device capacity (growing files: current size + free file-system space). */
    static io.orion.dedup.admin.PoolStats poolSpace(PoolStats ps) {
        long size = 0;
        long used = 0;
        for (DeviceStats d : ps.devices()) {
            used += d.usedBytes();
            if (d.capacityBytes() >= 0) {
                size += d.capacityBytes();
            } else {
                long free = 0;
                try {
                    Path p = Path.of(d.path());
                    Path probe = Files.exists(p) ? p : p.toAbsolutePath().getParent();
                    free = Files.getFileStore(probe).getUsableSpace();
                } catch (IOException | RuntimeException e) {
                    LOG.debug("free space of {} unknown: {}", d.path(), e.toString());
                }
                size += d.fileBytes() + free;
            }
        }
        return new io.orion.dedup.admin.PoolStats(size, used, ps.logicalBytes());
    }

    /** The engine's figures under their JSON keys: {@code pool} and {@code volumes} (by name). */
    private static Map<String, Object> counters(PoolStats ps) {
        Map<String, Object> pool = AdminJson.mapper().convertValue(ps, new TypeReference<LinkedHashMap<String, Object>>() {});
        pool.remove("volumes");
        Map<String, Object> volumes = new LinkedHashMap<>();
        for (VolumeStats v : ps.volumes()) {
            volumes.put(v.name(), AdminJson.mapper().convertValue(v, new TypeReference<LinkedHashMap<String, Object>>() {}));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("pool", pool);
        out.put("volumes", volumes);
        return out;
    }

    // ---- the product's management commands ---------------------------------------------------

    /** The dedup pool (opened now if no dedup LUN has opened it yet). */
    private DedupPool pool() throws IOException {
        return server.volumes().pool();
    }

    private DedupSettings settings() {
        return server.config().deduplication();
    }

    /** Blocks written through dedup (references), summed over volumes. */
    private static long references(PoolStats ps) {
        return ps.volumes().stream().mapToLong(VolumeStats::dataBlocks).sum();
    }

    private static long zeroBytes(PoolStats ps) {
        return ps.volumes().stream().mapToLong(v -> v.zeroBlocks() * v.dedupBlockSize()).sum();
    }

    @Override
    public Map<String, Object> hashInfo() throws AdminException, IOException {
        DedupSettings d = settings();
        PoolStats ps = pool().stats();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("hash_algorithm", d.hashAlgorithm());
        m.put("fingerprint_bytes", 32);
        m.put("hash_block_size", d.hashBlockSize());
        m.put("hash_cache_size", d.hashCacheSize());
        m.put("hash_optimization", d.hashOptimization());
        m.put("verify", d.verify());
        m.put("verify_mismatches", pool().verifyMismatches());
        m.put("fingerprint_cache_limit_bytes", ps.fingerprintCache().limitBytes());
        m.put("fingerprint_cache_weight_bytes", ps.fingerprintCache().weightBytes());
        m.put("volumes", ps.volumes().size());
        for (VolumeStats v : ps.volumes()) {
            m.put("volume." + v.name() + ".dedup_block_size", v.dedupBlockSize());
        }
        return m;
    }

    @Override
    public Map<String, Object> hashOptimize() throws AdminException, IOException {
        DedupPool.WarmResult w = pool().warmFingerprintCache();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("action", "fingerprint cache warmed from the most referenced chunks");
        m.put("chunks_scanned", w.chunksScanned());
        m.put("entries_loaded", w.entriesLoaded());
        m.put("capacity_entries", w.capacityEntries());
        m.put("min_refcount_loaded", w.minRefcountLoaded());
        m.put("fingerprint_cache_weight_bytes", pool().fingerprintCacheStats().weightBytes());
        return m;
    }

    @Override
    public Map<String, Object> hashStats() throws AdminException, IOException {
        PoolStats ps = pool().stats();
        long refs = references(ps);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("hashed_bytes", ps.hashedBytes());
        m.put("hash_mb_per_s", ps.hashMegabytesPerSecond());
        m.put("fingerprint_cache_hits", ps.fingerprintCache().hits());
        m.put("fingerprint_cache_misses", ps.fingerprintCache().misses());
        m.put("fingerprint_cache_hit_rate", ps.fingerprintCache().hitRate());
        m.put("unique_chunks", ps.uniqueChunks());
        m.put("mapped_blocks", refs);
        m.put("duplicate_blocks", Math.max(0, refs - ps.uniqueChunks()));
        m.put("zero_blocks", ps.zeroBlocks());
        m.put("dedup_ratio", ps.dedupRatio());
        return m;
    }

    @Override
    public Map<String, Object> referenceInfo() throws AdminException, IOException {
        DedupSettings d = settings();
        PoolStats ps = pool().stats();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("reference_max_count", d.referenceMaxCount());
        m.put("reference_cleanup_interval_seconds", d.referenceCleanupIntervalSeconds());
        m.put("background_processing", d.backgroundProcessing());
        m.put("reference_optimization", d.referenceOptimization());
        m.put("reference_metadata_size", d.referenceMetadataSize());
        m.put("metadata_bytes", ps.metadataBytes());
        m.put("containers", ps.containers());
        return m;
    }

    /** {@code dedup-reference-cleanup}: a cleanup job, waited for; its figures. */
    @Override
    public Map<String, Object> referenceCleanup() throws AdminException, IOException {
        DedupPool p = pool();
        if (p.readOnlyReason() != null) {
            throw new AdminException(AdminError.READ_ONLY, "reference cleanup refused: the pool is read-only (" + p.readOnlyReason() + ")");
        }
        return runJob(JobKind.CLEANUP);
    }

    private JobOutcome cleanupWork(JobContext ctx) throws IOException {
        DedupPool p = pool();
        PoolStats before = p.stats();
        long journalBefore = p.journalBytes();
        long t0 = System.nanoTime();
        CleanupResult r = p.cleanup(ctx);
        double seconds = (System.nanoTime() - t0) / 1e9;
        PoolStats after = p.stats();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("containers_compacted", r.containersCompacted());
        m.put("chunks_moved", r.chunksMoved());
        m.put("moved_bytes", r.bytesMoved());
        m.put("chunks_reclaimed", r.chunksReclaimed());
        m.put("reclaimed_bytes", r.bytesReclaimed());
        m.put("reclaimable_before_bytes", before.reclaimableBytes());
        m.put("reclaimable_after_bytes", after.reclaimableBytes());
        m.put("device_used_before_bytes", before.devices().stream().mapToLong(DeviceStats::usedBytes).sum());
        m.put("device_used_after_bytes", after.devices().stream().mapToLong(DeviceStats::usedBytes).sum());
        m.put("journal_before_bytes", journalBefore);
        m.put("journal_after_bytes", p.journalBytes());
        m.put("duration_seconds", seconds);
        m.put("cancelled", r.cancelled());
        LOG.info("reference cleanup: {} containers compacted, {} bytes reclaimed in {} s", r.containersCompacted(),
                r.bytesReclaimed(), String.format(java.util.Locale.ROOT, "%.3f", seconds));
        return new JobOutcome(m, io.orion.dedup.config.ByteSize.format(r.bytesReclaimed()) + " reclaimed", true);
    }

    @Override
    public Map<String, Object> referenceStats() throws AdminException, IOException {
        PoolStats ps = pool().stats();
        long refs = references(ps);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("unique_chunks", ps.uniqueChunks());
        m.put("references", refs);
        m.put("average_references_per_chunk", ps.uniqueChunks() == 0 ? 0.0 : (double) refs / ps.uniqueChunks());
        m.put("zero_blocks", ps.zeroBlocks());
        m.put("reclaimable_bytes", ps.reclaimableBytes());
        m.put("metadata_bytes", ps.metadataBytes());
        m.put("metadata_bytes_per_unique_chunk", ps.uniqueChunks() == 0 ? 0.0 : (double) ps.metadataBytes() / ps.uniqueChunks());
        for (VolumeStats v : ps.volumes()) {
            m.put("volume." + v.name() + ".references", v.dataBlocks());
            m.put("volume." + v.name() + ".unique_chunks", v.uniqueChunks());
        }
        return m;
    }

    @Override
    public Map<String, Object> cacheInfo() throws AdminException, IOException {
        DedupSettings d = settings();
        DedupPool p = pool();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cache_size", d.cacheSize());
        m.put("cache_policy", d.cachePolicy());
        m.put("cache_optimization", d.cacheOptimization());
        m.put("cache_compression", d.cacheCompression());
        m.put("hash_cache_size", d.hashCacheSize());
        m.put("block_cache_limit_bytes", p.blockCacheStats().limitBytes());
        m.put("block_cache_weight_bytes", p.blockCacheStats().weightBytes());
        m.put("fingerprint_cache_limit_bytes", p.fingerprintCacheStats().limitBytes());
        m.put("fingerprint_cache_weight_bytes", p.fingerprintCacheStats().weightBytes());
        return m;
    }

    @Override
    public synchronized Map<String, Object> cacheFlush() throws AdminException, IOException {
        DedupPool p = pool();
        var blockBefore = p.blockCacheStats();
        var fpBefore = p.fingerprintCacheStats();
        p.flushCaches();
        var blockAfter = p.blockCacheStats();
        var fpAfter = p.fingerprintCacheStats();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("block_cache_dropped_bytes", Math.max(0, blockBefore.weightBytes() - blockAfter.weightBytes()));
        m.put("fingerprint_cache_dropped_bytes", Math.max(0, fpBefore.weightBytes() - fpAfter.weightBytes()));
        m.put("block_cache_weight_bytes", blockAfter.weightBytes());
        m.put("fingerprint_cache_weight_bytes", fpAfter.weightBytes());
        LOG.info("caches flushed: {} block-cache bytes and {} fingerprint-cache bytes dropped",
                m.get("block_cache_dropped_bytes"), m.get("fingerprint_cache_dropped_bytes"));
        return m;
    }

    @Override
    public Map<String, Object> cacheStats() throws AdminException, IOException {
        DedupPool p = pool();
        Map<String, Object> m = new LinkedHashMap<>();
        for (var e : Map.of("block_cache", p.blockCacheStats(), "fingerprint_cache", p.fingerprintCacheStats())
                .entrySet().stream().sorted(Map.Entry.comparingByKey()).toList()) {
            String k = e.getKey();
            var c = e.getValue();
            m.put(k + "_hits", c.hits());
            m.put(k + "_misses", c.misses());
            m.put(k + "_hit_rate", c.hitRate());
            m.put(k + "_evictions", c.evictions());
            m.put(k + "_weight_bytes", c.weightBytes());
            m.put(k + "_limit_bytes", c.limitBytes());
        }
        return m;
    }

    @Override
    public Map<String, Object> compressionInfo() throws AdminException, IOException {
        DedupSettings d = settings();
        PoolStats ps = pool().stats();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("compression_enabled", d.compressionEnabled());
        m.put("compression_algorithm", d.compressionAlgorithm());
        m.put("compression_level", d.compressionLevel());
        m.put("compressor", d.fastCompressor() ? "lz4-fast" : "lz4-hc");
        m.put("compression_threshold", d.compressionThreshold());
        m.put("unique_bytes", ps.uniqueBytes());
        m.put("stored_bytes", ps.storedBytes());
        m.put("compression_saved_bytes", ps.uniqueBytes() - ps.storedBytes());
        m.put("compression_ratio", ps.compressionRatio());
        return m;
    }

    /**
     * {@code dedup-compression-optimize}: one recompression pass over the whole chunk index with the
     * running pool's compression settings ({@link DedupPool#recompress()}): chunks stored raw are
     * stored LZ4-compressed where that now pays; with LZ4 HC configured, LZ4 chunks are re-encoded
     * where HC is smaller. Reports the pass's figures and the pool's stored bytes before and after.
     * With {@code compression_enabled = false} nothing is examined and the answer says so.
     */
    @Override
    public Map<String, Object> compressionOptimize() throws AdminException, IOException {
        DedupPool p = pool();
        if (p.readOnlyReason() != null) {
            throw new AdminException(AdminError.READ_ONLY, "compression optimize refused: the pool is read-only (" + p.readOnlyReason() + ")");
        }
        return runJob(JobKind.COMPRESSION_OPTIMIZE);
    }

    private JobOutcome optimizeWork(JobContext ctx) throws IOException {
        DedupPool p = pool();
        PoolStats before = p.stats(false);
        io.orion.dedup.dedup.RecompressResult r = p.recompress(ctx);
        PoolStats after = p.stats(false);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("action", r.compressionEnabled()
                ? "chunks recompressed with the current compression settings where it saves space"
                : "nothing done: compression_enabled = false, chunks stay as they are stored");
        m.put("compression_enabled", r.compressionEnabled());
        m.put("compressor", r.compressor());
        m.put("compression_threshold", settings().compressionThreshold());
        m.put("chunks_scanned", r.chunksScanned());
        m.put("chunks_examined", r.chunksExamined());
        m.put("chunks_recompressed", r.chunksRecompressed());
        m.put("raw_chunks_compressed", r.rawChunksCompressed());
        m.put("lz4_chunks_recompressed", r.lz4ChunksRecompressed());
        m.put("chunks_left_raw", r.chunksLeftRaw());
        m.put("chunks_kept", r.chunksKept());
        m.put("chunks_failed_check", r.chunksFailedCheck());
        m.put("chunks_changed_meanwhile", r.chunksChangedMeanwhile());
        m.put("recompressed_before_bytes", r.bytesBefore());
        m.put("recompressed_after_bytes", r.bytesAfter());
        m.put("saved_bytes", r.bytesSaved());
        m.put("stored_before_bytes", before.storedBytes());
        m.put("stored_after_bytes", after.storedBytes());
        m.put("compression_ratio_before", before.compressionRatio());
        m.put("compression_ratio_after", after.compressionRatio());
        m.put("reclaimable_added_bytes", r.reclaimableAddedBytes());
        m.put("reclaimable_after_bytes", after.reclaimableBytes());
        m.put("elapsed_ms", r.elapsedMillis());
        m.put("cancelled", ctx.cancelled());
        LOG.info("compression optimize: {} of {} examined chunks recompressed, {} bytes saved, {} left raw in {} ms",
                r.chunksRecompressed(), r.chunksExamined(), r.bytesSaved(), r.chunksLeftRaw(), r.elapsedMillis());
        return new JobOutcome(m, r.compressionEnabled()
                ? io.orion.dedup.config.ByteSize.format(r.bytesSaved()) + " saved" : "compression disabled", true);
    }

    @Override
    public Map<String, Object> performanceStats() throws AdminException, IOException {
        double uptime = (System.currentTimeMillis() - server.startedMillis()) / 1000.0;
        Map<String, Object> m = new LinkedHashMap<>(server.metrics().performance(uptime));
        Optional<DedupPool> p = server.volumes().openPool();
        if (p.isPresent()) {
            PoolStats ps = p.get().stats();
            m.put("hash_mb_per_s", ps.hashMegabytesPerSecond());
            m.put("hashed_bytes", ps.hashedBytes());
            m.put("block_cache_hit_rate", ps.blockCache().hitRate());
            m.put("fingerprint_cache_hit_rate", ps.fingerprintCache().hitRate());
        }
        return m;
    }

    @Override
    public Map<String, Object> optimizationStats() throws AdminException, IOException {
        DedupSettings d = settings();
        PoolStats ps = pool().stats();
        long zero = zeroBytes(ps);
        long dataLogical = ps.logicalBytes() - zero;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("logical_bytes", ps.logicalBytes());
        m.put("hash_optimization", d.hashOptimization());
        m.put("zero_block_saved_bytes", zero);
        m.put("dedup_saved_bytes", Math.max(0, dataLogical - ps.uniqueBytes()));
        m.put("compression_enabled", d.compressionEnabled());
        m.put("compression_saved_bytes", ps.uniqueBytes() - ps.storedBytes());
        m.put("stored_bytes", ps.storedBytes());
        m.put("dedup_ratio", ps.dedupRatio());
        m.put("compression_ratio", ps.compressionRatio());
        m.put("saving_percent", ps.savingPercent());
        m.put("cache_optimization", d.cacheOptimization());
        m.put("block_cache_hit_rate", ps.blockCache().hitRate());
        m.put("performance_optimization", d.performanceOptimization());
        return m;
    }

    /** {@code stats --histogram}: the open pool's refcount histogram (an empty list while no pool exists). */
    @Override
    public List<io.orion.dedup.admin.RefcountBucket> refcountHistogram() throws AdminException, IOException {
        Optional<DedupPool> pool = server.volumes().existingPool();
        if (pool.isEmpty()) {
            return List.of();
        }
        return pool.get().refcountHistogram().stream().map(b -> new io.orion.dedup.admin.RefcountBucket(b.refcount(),
                b.chunks(), b.blocks(), b.uniqueBytes(), b.storedBytes(), b.referencedBytes())).toList();
    }

    /** Reads every chunk back and checks CRC32C and fingerprint (the {@code scrub} command): a scrub job, waited for. */
    @Override
    public Map<String, Object> scrub() throws AdminException, IOException {
        return runJob(JobKind.SCRUB);
    }

    /** {@code scrub --repair}: a scrub job that rewrites the damaged chunks it finds from good copies, waited for. */
    @Override
    public Map<String, Object> scrub(boolean repair) throws AdminException, IOException {
        return repair ? runJob(JobKind.SCRUB, Map.of(REPAIR, true)) : scrub();
    }

    /** The job option of a repairing scrub ({@code scrub --repair}, JSON-RPC {@code repair: true}). */
    private static final String REPAIR = "repair";

    private JobOutcome scrubWork(JobContext ctx) throws IOException {
        DedupPool p = pool();
        long t0 = System.nanoTime();
        boolean repair = ctx.flag(REPAIR);
        ScrubResult r = p.verify(ctx, repair);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("chunks_checked", r.chunksChecked());
        m.put("checked_bytes", r.bytesChecked());
        m.put("crc_errors", r.crcErrors());
        m.put("fingerprint_mismatches", r.fingerprintMismatches());
        m.put("read_errors", r.readErrors());
        m.put("metadata_errors", r.metadataErrors());
        m.put("container_errors", r.containerErrors());
        m.put("map_errors", r.mapErrors());
        m.put("mapped_blocks", r.mappedBlocks());
        if (repair) {
            m.put("repair", true);
            m.put("repaired", r.repaired());
            m.put("unrepairable", r.unrepairable());
            List<Map<String, Object>> left = new ArrayList<>();
            for (ScrubResult.Unrepairable u : r.unrepairableChunks()) {
                Map<String, Object> x = new LinkedHashMap<>();
                x.put("chunk", u.chunk());
                x.put("reason", u.reason());
                left.add(x);
            }
            m.put("unrepairable_chunks", left);
        }
        m.put("duration_seconds", (System.nanoTime() - t0) / 1e9);
        List<String> problems = new ArrayList<>(r.problems());
        List<Map<String, Object>> affected = new ArrayList<>();
        Map<String, String[]> luns = lunsByVolume();
        for (ScrubResult.Affected a : r.affected()) {
            String[] lun = luns.get(a.volume());
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("chunk", a.chunk());
            x.put("volume", a.volume());
            x.put("target", lun == null ? null : lun[0]);
            x.put("lun", lun == null ? null : Integer.valueOf(lun[1]));
            x.put("first_lba", a.firstLba());
            x.put("last_lba", a.lastLba());
            affected.add(x);
            if (problems.size() < 200) {
                problems.add("chunk " + a.chunk() + " is damaged: "
                        + (lun == null ? "detached volume " + a.volume() : lun[0] + " LUN " + lun[1] + " (volume "
                                + a.volume() + ")") + " LBA " + a.firstLba() + "-" + a.lastLba() + " cannot be read");
            }
        }
        m.put("affected", affected);
        m.put("cancelled", r.cancelled());
        m.put("problems", problems);
        long errors = r.crcErrors() + r.fingerprintMismatches() + r.readErrors() + r.metadataErrors() + r.containerErrors()
                + r.mapErrors();
        String summary = errors + " error" + (errors == 1 ? "" : "s");
        if (repair) {
            summary += ", " + r.repaired() + " repaired, " + r.unrepairable() + " unrepairable";
            if (r.repaired() > 0) {
                LOG.warn("scrub repaired {} damaged chunks from good copies", r.repaired());
            }
        }
        if (!r.clean()) {
            LOG.error("scrub found {} CRC errors, {} fingerprint mismatches, {} unreadable records, {} metadata errors,"
                    + " {} damaged containers and {} block-map errors: {}", r.crcErrors(), r.fingerprintMismatches(),
                    r.readErrors(), r.metadataErrors(), r.containerErrors(), r.mapErrors(), problems);
        }
        return new JobOutcome(m, summary, r.clean());
    }

    /** One post-process pass ({@code dedup run}, or {@code background_interval} while blocks are staged). */
    private JobOutcome postProcessWork(JobContext ctx) throws IOException {
        DedupPool p = pool();
        long staged = p.stagedBlocks();
        long t0 = System.nanoTime();
        io.orion.dedup.dedup.PostProcessResult r = p.postProcess(ctx);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("staged_blocks_before", staged);
        m.put("blocks_examined", r.blocksExamined());
        m.put("blocks_shared", r.blocksShared());
        m.put("chunks_indexed", r.chunksIndexed());
        m.put("chunks_freed", r.chunksFreed());
        m.put("stored_bytes_freed", r.storedBytesFreed());
        m.put("remaining", r.remaining());
        m.put("cancelled", r.cancelled());
        m.put("duration_seconds", (System.nanoTime() - t0) / 1e9);
        LOG.info("post-process pass: {} staged block(s) examined, {} shared, {} chunk(s) indexed, {} freed ({} bytes)"
                + "{}", r.blocksExamined(), r.blocksShared(), r.chunksIndexed(), r.chunksFreed(), r.storedBytesFreed(),
                r.remaining() > 0 ? ", " + r.remaining() + " left for the next pass" : "");
        return new JobOutcome(m, r.blocksShared() + " block" + (r.blocksShared() == 1 ? "" : "s") + " shared, "
                + io.orion.dedup.config.ByteSize.format(r.storedBytesFreed()) + " freed", true);
    }

    /** Volume name -> {target IQN, LUN number} of the LUNs defined now. */
    private Map<String, String[]> lunsByVolume() {
        Map<String, String[]> out = new java.util.HashMap<>();
        for (TargetDefinition t : server.targetDirectory().targets()) {
            for (io.orion.dedup.config.LunDefinition l : t.luns()) {
                if (l.volume() != null) {
                    out.put(l.volume(), new String[] {t.iqn(), String.valueOf(l.id())});
                }
            }
        }
        return out;
    }

    // ---- background jobs ---------------------------------------------------------------------

    /** Starts a job of {@code kind} and waits for it: the figures of a done job; a failed or cancelled one is an error. */
    private Map<String, Object> runJob(JobKind kind) throws AdminException, IOException {
        return runJob(kind, Map.of());
    }

    /** {@link #runJob(JobKind)} with options for the job's work. */
    private Map<String, Object> runJob(JobKind kind, Map<String, Object> options) throws AdminException, IOException {
        JobInfo started;
        try {
            started = server.jobs().start(kind, "admin", options);
        } catch (JobException e) {
            throw new AdminException(e.getMessage());
        }
        JobInfo end;
        try {
            do {
                end = server.jobs().await(started.id(), 3_600_000).orElseThrow();
            } while (!end.state().finished());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for job " + started.id());
        }
        if (end.state() == JobState.FAILED) {
            throw new IOException(end.error());
        }
        if (end.state() == JobState.CANCELLED) {
            throw new AdminException(kind.label() + " job " + end.id() + " was cancelled"
                    + (end.bytesTotal() == null ? "" : " after " + io.orion.dedup.config.ByteSize.format(end.bytesDone())
                    + " of " + io.orion.dedup.config.ByteSize.format(end.bytesTotal())));
        }
        Map<String, Object> m = new LinkedHashMap<>(end.result());
        m.put("job_id", end.id());
        return m;
    }

    /** Writes a backup of the pool's metadata (the {@code backup} command), while I/O goes on. */
    @Override
    public Map<String, Object> backup(String file) throws AdminException, IOException {
        Path target = Path.of(file);
        if (!target.isAbsolute()) {
            throw new AdminException("backup file must be an absolute path: " + file);
        }
        if (target.getParent() == null || !java.nio.file.Files.isDirectory(target.getParent())) {
            throw new AdminException("cannot write " + file + ": no such directory " + target.getParent());
        }
        if (java.nio.file.Files.isDirectory(target)) {
            throw new AdminException("cannot write " + file + ": it is a directory");
        }
        DedupPool p = server.volumes().existingPool()
                .orElseThrow(() -> new AdminException(AdminError.NOT_FOUND, "there is no pool to back up (no dedup LUN was ever created)"));
        long t0 = System.nanoTime();
        io.orion.dedup.meta.MetadataBackup.Header h;
        try {
            h = p.backup(target);
        } catch (IOException e) {
            LOG.error("backup to {} failed: {}", target, e.getMessage());
            throw new AdminException("backup to " + file + " failed: " + e.getMessage());
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", target.toString());
        m.put("pool_uuid", h.pool().toString());
        m.put("bytes", io.orion.dedup.meta.MetadataBackup.HEADER + h.imageLength());
        m.put("metadata_bytes", p.stats().metadataBytes());
        m.put("taken", h.taken().toString());
        m.put("duration_seconds", (System.nanoTime() - t0) / 1e9);
        LOG.info("metadata of pool {} backed up to {} ({} bytes)", h.pool(), target, m.get("bytes"));
        return m;
    }

    @Override
    public JobInfo startJob(String kind) throws AdminException {
        JobKind k = JobKind.of(kind).orElseThrow(() -> new AdminException("unknown job kind " + kind
                + ": one of scrub, cleanup, compression-optimize, post-process"));
        try {
            return server.jobs().start(k, "admin");
        } catch (JobException e) {
            throw new AdminException(e.getMessage());
        }
    }

    @Override
    public JobInfo startJob(String kind, boolean repair) throws AdminException {
        if (!repair) {
            return startJob(kind);
        }
        JobKind k = JobKind.of(kind).orElseThrow(() -> new AdminException("unknown job kind " + kind
                + ": one of scrub, cleanup, compression-optimize, post-process"));
        if (k != JobKind.SCRUB) {
            throw new AdminException(AdminError.INVALID_PARAMS, "repair applies to scrub jobs only, not " + kind);
        }
        try {
            return server.jobs().start(k, "admin", Map.of(REPAIR, true));
        } catch (JobException e) {
            throw new AdminException(e.getMessage());
        }
    }

    @Override
    public List<JobInfo> listJobs() {
        return server.jobs().list();
    }

    @Override
    public JobInfo showJob(long id) throws AdminException {
        return server.jobs().get(id).orElseThrow(() -> new AdminException(AdminError.NOT_FOUND, "no job " + id + "; see orion-dedup job list"));
    }

    @Override
    public JobInfo cancelJob(long id) throws AdminException {
        try {
            return server.jobs().cancel(id);
        } catch (JobException e) {
            throw new AdminException(e.getMessage());
        }
    }

    @Override
    public List<JobSummary> jobSummary() {
        return server.jobs().summary();
    }
}
