package io.orion.dedup.server;

import com.fasterxml.jackson.core.type.TypeReference;
import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.AdminException;
import io.orion.dedup.admin.AdminJson;
import io.orion.dedup.admin.ChapScope;
import io.orion.dedup.admin.LunInfo;
import io.orion.dedup.admin.SaveResult;
import io.orion.dedup.admin.SessionInfo;
import io.orion.dedup.admin.StatsReport;
import io.orion.dedup.admin.StatusReport;
import io.orion.dedup.admin.TargetSummary;
import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.DedupSettings;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.IscsiName;
import io.orion.dedup.config.LunBacking;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.dedup.CleanupResult;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.DeviceStats;
import io.orion.dedup.dedup.PoolStats;
import io.orion.dedup.dedup.ScrubResult;
import io.orion.dedup.dedup.VolumeStats;
import io.orion.dedup.storage.BlockDevice;
import io.orion.dedup.storage.LbaStatus;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link AdminApi} of a running server: every change is checked against the current target
 * definitions, saved atomically to {@code targets/} (temp file + rename, {@code TargetDirectory.save}),
 * then applied to the live target — new LUNs are added to the running SCSI target so initiators
 * see them without restart (REPORTED LUNS DATA HAS CHANGED, SPC-4 §7.9), resizes raise CAPACITY
 * DATA HAS CHANGED, new portals start listening at once, ACL and CHAP changes apply at the next
 * login. The management commands run on the live dedup pool and report its real figures.
 *
 * <p>Threads: control-socket client threads. Changes are serialised on this object; reads of the
 * state are lock-free snapshots.
 */
final class AdminService implements AdminApi {

    private static final Logger LOG = LoggerFactory.getLogger(AdminService.class);
    /** Provisioning extents examined per file/RAM LUN when computing its used bytes. */
    private static final int MAX_EXTENTS = 1 << 16;

    private final OrionServer server;

    AdminService(OrionServer server) {
        this.server = server;
    }

    // ---- helpers -----------------------------------------------------------------------------

    private TargetDefinition definition(String iqn) throws AdminException {
        if (iqn == null || iqn.isBlank()) {
            throw new AdminException("a target name is required");
        }
        return server.targetDirectory().find(iqn).orElseThrow(() -> new AdminException("no such target: " + iqn));
    }

    private LiveTarget live(TargetDefinition d) throws AdminException {
        return server.live(d.iqn()).orElseThrow(() -> new AdminException("target " + d.iqn() + " is not running"));
    }

    private static LunDefinition lun(TargetDefinition t, int id) throws AdminException {
        return t.lun(id).orElseThrow(() -> new AdminException("no LUN " + id + " in " + t.iqn()));
    }

    /** Refuses an invalid definition, or one this server cannot honour, before anything changes. */
    private void check(TargetDefinition t) throws AdminException {
        List<TargetDefinition.Problem> problems = t.problems();
        if (!problems.isEmpty()) {
            TargetDefinition.Problem p = problems.get(0);
            throw new AdminException(p.key().replace("attributes.", "") + ": " + p.message());
        }
        String unsupported = OrionServer.unsupported(t, server.config());
        if (unsupported != null) {
            throw new AdminException("queue_depth: " + unsupported);
        }
    }

    /** Saves a changed definition atomically and makes it the live one. */
    private void save(LiveTarget live, TargetDefinition t) throws AdminException, IOException {
        save(t);
        live.definition(t);
    }

    private void save(TargetDefinition t) throws AdminException, IOException {
        try {
            Path file = server.targetDirectory().save(t);
            LOG.info("saved {} to {}", t.iqn(), file);
        } catch (ConfigException e) {
            throw new AdminException((e.key() == null ? "invalid" : e.key()) + ": " + e.reason());
        }
    }

    private List<io.orion.dedup.iscsi.SessionInfo> sessionsOf(String iqn) {
        return server.iscsi().sessions().stream()
                .filter(s -> !s.discovery() && s.targetName() != null && s.targetName().equalsIgnoreCase(iqn))
                .toList();
    }

    private LunInfo info(TargetDefinition t, LunDefinition l) {
        int dedup = l.backing() == LunBacking.DEDUP ? l.dedupBlockSize(server.config().deduplication().hashBlockSize()) : 0;
        Optional<LiveTarget> live = server.live(t.iqn());
        if (dedup != 0 && live.isPresent() && live.get().devices().get(l.id()) instanceof DedupVolume v) {
            dedup = v.dedupBlockSize();
        }
        int sessions = (int) sessionsOf(t.iqn()).stream().filter(s -> mapsLun(t, s.initiatorName(), l.id())).count();
        return new LunInfo(t.iqn(), l.id(), l.volume(), l.size(), l.blockSize(), dedup, l.readOnly(), l.thin(),
                l.backing().name().toLowerCase(java.util.Locale.ROOT), sessions);
    }

    private static boolean mapsLun(TargetDefinition t, String initiator, int lun) {
        Optional<AclDefinition> acl = t.acl(initiator);
        return acl.map(a -> a.maps(lun)).orElse(t.attributes().demoMode());
    }

    // ---- targets -----------------------------------------------------------------------------

    @Override
    public List<TargetSummary> listTargets() {
        List<TargetSummary> out = new ArrayList<>();
        for (TargetDefinition t : server.targetDirectory().targets()) {
            List<String> portals = new ArrayList<>();
            for (PortalGroup g : t.portalGroups()) {
                if (g.portals().isEmpty()) {
                    for (InetSocketAddress a : server.portals()) {
                        portals.add(g.tag() + ":" + hostPort(a));
                    }
                } else {
                    g.portals().forEach(p -> portals.add(g.tag() + ":" + p));
                }
            }
            out.add(new TargetSummary(t.iqn(), t.alias(), t.luns().size(), t.acls().size(), sessionsOf(t.iqn()).size(),
                    t.attributes().demoMode(), t.attributes().authentication(), portals));
        }
        return out;
    }

    private static String hostPort(InetSocketAddress a) {
        String host = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return new HostPort(host, a.getPort()).toString();
    }

    @Override
    public TargetDefinition showTarget(String iqn) throws AdminException {
        return definition(iqn);
    }

    @Override
    public synchronized TargetDefinition createTarget(String iqn, String alias, boolean demoMode)
            throws AdminException, IOException {
        if (iqn == null || iqn.isBlank()) {
            throw new AdminException("a target name is required");
        }
        String name = IscsiName.normalize(iqn);
        if (server.targetDirectory().find(name).isPresent()) {
            throw new AdminException("target " + name + " already exists");
        }
        TargetDefinition t = TargetDefinition.create(name, alias, demoMode);
        check(t);
        save(t);
        server.activate(t);
        LOG.info("target {} created", name);
        return t;
    }

    @Override
    public synchronized TargetDefinition setAttributes(String iqn, TargetAttributes attributes)
            throws AdminException, IOException {
        TargetDefinition t = definition(iqn);
        TargetDefinition changed = t.withAttributes(attributes);
        check(changed);
        save(live(t), changed);
        return changed;
    }

    @Override
    public synchronized void deleteTarget(String iqn, boolean force) throws AdminException, IOException {
        TargetDefinition t = definition(iqn);
        int sessions = sessionsOf(t.iqn()).size();
        if (sessions > 0 && !force) {
            throw new AdminException("target " + t.iqn() + " has " + sessions + " logged-in session"
                    + (sessions == 1 ? "" : "s") + "; log them out first or use --force");
        }
        server.targetDirectory().delete(t.iqn());
        server.deactivate(t.iqn());
        LOG.info("target {} deleted{}; its volumes stay in the pool", t.iqn(), sessions > 0 ? " (forced)" : "");
    }

    // ---- LUNs --------------------------------------------------------------------------------

    @Override
    public synchronized LunInfo createLun(String iqn, LunDefinition lun) throws AdminException, IOException {
        if (lun == null) {
            throw new AdminException("a LUN definition is required");
        }
        TargetDefinition t = definition(iqn);
        LiveTarget live = live(t);
        if (t.lun(lun.id()).isPresent()) {
            throw new AdminException("LUN " + lun.id() + " already exists in " + t.iqn());
        }
        for (TargetDefinition other : server.targetDirectory().targets()) {
            for (LunDefinition l : other.luns()) {
                if (l.volume().equals(lun.volume())) {
                    throw new AdminException("volume " + lun.volume() + " is already LUN " + l.id() + " of " + other.iqn());
                }
            }
        }
        TargetDefinition changed = t.withLun(lun);
        check(changed);
        try {
            server.attach(live, lun);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new AdminException("cannot create LUN " + lun.id() + ": " + e.getMessage());
        }
        try {
            save(live, changed);
        } catch (AdminException | IOException | RuntimeException e) {
            server.detach(live, lun.id());
            throw e;
        }
        LOG.info("LUN {} ({}, {} bytes) added to {}", lun.id(), lun.volume(), lun.size(), t.iqn());
        return info(changed, lun);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The volume itself is kept: its data stays in the pool, and a later {@code lun create}
     * naming the same volume attaches it again with its data.
     */
    @Override
    public synchronized void deleteLun(String iqn, int id, boolean force) throws AdminException, IOException {
        TargetDefinition t = definition(iqn);
        LiveTarget live = live(t);
        lun(t, id);
        if (!force && server.iscsi().lunInUse(t.iqn(), id)) {
            long n = sessionsOf(t.iqn()).stream().filter(s -> s.lunsInUse().contains((long) id)).count();
            throw new AdminException("LUN " + id + " of " + t.iqn() + " is in use by " + n + " session"
                    + (n == 1 ? "" : "s") + "; log out first or use --force");
        }
        save(live, t.withoutLun(id));
        server.detach(live, id);
        LOG.info("LUN {} removed from {}{}", id, t.iqn(), force ? " (forced)" : "");
    }

    @Override
    public synchronized LunInfo resizeLun(String iqn, int id, long newSizeBytes) throws AdminException, IOException {
        TargetDefinition t = definition(iqn);
        LiveTarget live = live(t);
        LunDefinition l = lun(t, id);
        if (newSizeBytes < l.size()) {
            throw new AdminException("LUN " + id + " is " + l.size() + " bytes; shrinking it to " + newSizeBytes
                    + " would cut off data and is refused");
        }
        LunDefinition resized = l.withSize(newSizeBytes);
        TargetDefinition changed = t.withLun(resized);
        check(changed);
        if (newSizeBytes == l.size()) {
            return info(t, l);
        }
        BlockDevice dev = live.devices().get(id);
        if (dev == null) {
            throw new AdminException("LUN " + id + " of " + t.iqn() + " has no open device");
        }
        long oldBlocks = dev.blockCount();
        dev.resize(resized.blockCount());
        try {
            save(live, changed);
        } catch (AdminException | IOException | RuntimeException e) {
            dev.resize(oldBlocks);
            throw e;
        }
        live.scsi().lunResized(id);
        LOG.info("LUN {} of {} resized from {} to {} bytes", id, t.iqn(), l.size(), newSizeBytes);
        return info(changed, resized);
    }

    @Override
    public List<LunInfo> listLuns(String iqn) throws AdminException {
        List<TargetDefinition> defs = iqn == null ? server.targetDirectory().targets() : List.of(definition(iqn));
        List<LunInfo> out = new ArrayList<>();
        for (TargetDefinition t : defs) {
            for (LunDefinition l : t.luns()) {
                out.add(info(t, l));
            }
        }
        return out;
    }

    // ---- portals, ACLs, CHAP -----------------------------------------------------------------

    @Override
    public synchronized void addPortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        TargetDefinition t = definition(iqn);
        LiveTarget live = live(t);
        if (portal == null) {
            throw new AdminException("a portal (host:port) is required");
        }
        if (portal.port() == 0) {
            throw new AdminException("portal " + portal + ": a portal needs a fixed port (initiators must find it again)");
        }
        if (t.portalGroup(tag).map(g -> g.portals().contains(portal)).orElse(false)) {
            throw new AdminException("portal " + portal + " is already in portal group " + tag + " of " + t.iqn());
        }
        TargetDefinition changed = t.withPortalGroup(tag, g -> {
            List<HostPort> p = new ArrayList<>(g.portals());
            p.add(portal);
            return new PortalGroup(tag, p);
        });
        check(changed);
        try {
            server.bindPortal(portal);
        } catch (IOException e) {
            throw new AdminException("cannot listen on " + portal + ": " + e.getMessage());
        }
        save(live, changed);
    }

    /**
     * {@inheritDoc}
     *
     * <p>SendTargets stops advertising the portal at once. The transport has no way to stop one
     * listener, so the socket stays open (for every target) until the server restarts.
     */
    @Override
    public synchronized void removePortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        TargetDefinition t = definition(iqn);
        LiveTarget live = live(t);
        PortalGroup g = t.portalGroup(tag).orElseThrow(() -> new AdminException("no portal group " + tag + " in " + iqn));
        if (portal == null || !g.portals().contains(portal)) {
            throw new AdminException("portal " + portal + " is not in portal group " + tag
                    + (g.portals().isEmpty() ? " (it uses the server's portals)" : ""));
        }
        TargetDefinition changed = t.withPortalGroup(tag, x -> new PortalGroup(tag,
                x.portals().stream().filter(p -> !p.equals(portal)).toList()));
        check(changed);
        save(live, changed);
        LOG.info("portal {} removed from {}; the listener stays open until restart", portal, t.iqn());
    }

    @Override
    public synchronized void addAcl(String iqn, AclDefinition acl) throws AdminException, IOException {
        TargetDefinition t = definition(iqn);
        LiveTarget live = live(t);
        if (acl == null || acl.initiator() == null || acl.initiator().isBlank()) {
            throw new AdminException("an initiator name is required");
        }
        AclDefinition a = new AclDefinition(IscsiName.normalize(acl.initiator()), acl.mappedLuns(), acl.writeProtect(),
                acl.chap());
        AclDefinition old = t.acl(a.initiator()).orElse(null);
        if (a.chap() == null && old != null) {
            a = a.withChap(old.chap());
        }
        TargetDefinition changed = t.withAcl(a);
        check(changed);
        save(live, changed);
        LOG.info("ACL for {} {} in {}", a.initiator(), old == null ? "added" : "replaced", t.iqn());
    }

    @Override
    public synchronized void removeAcl(String iqn, String initiator) throws AdminException, IOException {
        TargetDefinition t = definition(iqn);
        LiveTarget live = live(t);
        if (initiator == null || t.acl(initiator).isEmpty()) {
            throw new AdminException("no ACL for " + initiator + " in " + t.iqn());
        }
        TargetDefinition changed = t.withoutAcl(initiator);
        check(changed);
        save(live, changed);
        LOG.info("ACL for {} removed from {}", IscsiName.normalize(initiator), t.iqn());
    }

    @Override
    public List<AclDefinition> listAcls(String iqn) throws AdminException {
        return definition(iqn).acls();
    }

    @Override
    public synchronized void setChap(String iqn, ChapScope scope, String initiator, ChapCredentials chap)
            throws AdminException, IOException {
        if (chap == null) {
            throw new AdminException("CHAP credentials are required");
        }
        changeChap(iqn, scope, initiator, chap);
    }

    @Override
    public synchronized void clearChap(String iqn, ChapScope scope, String initiator) throws AdminException, IOException {
        changeChap(iqn, scope, initiator, null);
    }

    private void changeChap(String iqn, ChapScope scope, String initiator, ChapCredentials chap)
            throws AdminException, IOException {
        TargetDefinition t = definition(iqn);
        LiveTarget live = live(t);
        if (scope == null) {
            throw new AdminException("a CHAP scope (acl, target or discovery) is required");
        }
        TargetDefinition changed = switch (scope) {
            case TARGET -> t.withChap(chap);
            case DISCOVERY -> t.withDiscoveryChap(chap);
            case ACL -> {
                if (initiator == null) {
                    throw new AdminException("an initiator name is required for ACL CHAP");
                }
                AclDefinition a = t.acl(initiator)
                        .orElseThrow(() -> new AdminException("no ACL for " + initiator + " in " + t.iqn()));
                yield t.withAcl(a.withChap(chap));
            }
        };
        check(changed);
        save(live, changed);
        // the user name is not secret; the secret never reaches a log
        LOG.info("{} CHAP of {}{} {}", scope.name().toLowerCase(java.util.Locale.ROOT), t.iqn(),
                initiator == null ? "" : " for " + initiator, chap == null ? "cleared" : "set (user " + chap.user() + ")");
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
        String version = OrionServer.class.getPackage().getImplementationVersion();
        return new StatusReport(version == null ? "dev" : version,
                (System.currentTimeMillis() - server.startedMillis()) / 1000,
                server.portals().stream().map(AdminService::hostPort).toList(), server.dataDir().toString(),
                server.targetDirectory().targets().size(), luns, sessions,
                server.metricsAddress().map(AdminService::hostPort).orElse(null));
    }

    @Override
    public synchronized SaveResult saveConfig() throws IOException {
        return new SaveResult(server.targetDirectory().saveAll().stream().map(Path::toString).toList());
    }

    @Override
    public StatsReport stats(boolean verbose) throws AdminException, IOException {
        Optional<DedupPool> pool = server.volumes().openPool();
        PoolStats ps = pool.isPresent() ? pool.get().stats() : null;
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
                VolumeStats vs = ps == null ? null
                        : ps.volumes().stream().filter(v -> v.name().equals(l.volume())).findFirst().orElse(null);
                if (dev instanceof DedupVolume && vs != null) {
                    used = vs.logicalBytes();
                    stored = vs.storedBytes();
                } else {
                    used = mappedBytes(dev);
                    stored = used;
                }
                vols.add(new io.orion.dedup.admin.VolumeStats(l.volume(), t.iqn(), l.id(), dev.blockCount() * dev.blockSize(),
                        used, stored));
            }
        }
        if (ps == null) {
            return new StatsReport(vols, null, Map.of());
        }
        return new StatsReport(vols, poolSpace(ps), counters(ps));
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
    private static io.orion.dedup.admin.PoolStats poolSpace(PoolStats ps) {
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
        m.put("fingerprint_cache_limit_bytes", ps.fingerprintCache().limitBytes());
        m.put("fingerprint_cache_weight_bytes", ps.fingerprintCache().weightBytes());
        m.put("volumes", ps.volumes().size());
        for (VolumeStats v : ps.volumes()) {
            m.put("volume." + v.name() + ".dedup_block_size", v.dedupBlockSize());
        }
        return m;
    }

    @Override
    public Map<String, Object> hashOptimize() throws AdminException {
        throw new AdminException("dedup-hash-optimize is not available: the dedup engine offers no way to warm "
                + "the fingerprint cache from the index (DedupPool has no warm-up API)");
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

    @Override
    public synchronized Map<String, Object> referenceCleanup() throws AdminException, IOException {
        DedupPool p = pool();
        if (p.readOnlyReason() != null) {
            throw new AdminException("reference cleanup refused: the pool is read-only (" + p.readOnlyReason() + ")");
        }
        PoolStats before = p.stats();
        long t0 = System.nanoTime();
        CleanupResult r = p.cleanup();
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
        m.put("duration_seconds", seconds);
        LOG.info("reference cleanup: {} containers compacted, {} bytes reclaimed in {} s", r.containersCompacted(),
                r.bytesReclaimed(), String.format(java.util.Locale.ROOT, "%.3f", seconds));
        return m;
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

    @Override
    public Map<String, Object> compressionOptimize() throws AdminException {
        throw new AdminException("dedup-compression-optimize is not available: the dedup engine offers no way to "
                + "recompress stored chunks (DedupPool has no recompress API)");
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

    /** Reads every chunk back and checks CRC32C and fingerprint (the {@code scrub} command). */
    @Override
    public Map<String, Object> scrub() throws AdminException, IOException {
        DedupPool p = pool();
        long t0 = System.nanoTime();
        ScrubResult r = p.verify();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("chunks_checked", r.chunksChecked());
        m.put("checked_bytes", r.bytesChecked());
        m.put("crc_errors", r.crcErrors());
        m.put("fingerprint_mismatches", r.fingerprintMismatches());
        m.put("duration_seconds", (System.nanoTime() - t0) / 1e9);
        m.put("problems", r.problems());
        if (!r.clean()) {
            LOG.error("scrub found {} CRC errors and {} fingerprint mismatches: {}", r.crcErrors(),
                    r.fingerprintMismatches(), r.problems());
        }
        return m;
    }
}
