package io.orion.dedup.admin;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.IscsiName;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.config.TargetDirectory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An AdminApi over a real TargetDirectory, without an iSCSI server: definitions change and are
 * saved like the real server does; engine figures are fixed test values; "in use" LUNs are
 * whatever the test marks.
 */
public class FakeAdminApi implements AdminApi {

    public final TargetDirectory targets;
    public final TargetEditor editor;
    public final Set<String> busyLuns = ConcurrentHashMap.newKeySet();
    public final List<String> calls = new ArrayList<>();
    public int cacheFlushes;

    public FakeAdminApi(Path targetsDir) throws IOException, ConfigException {
        this.targets = TargetDirectory.load(targetsDir);
        this.editor = new TargetEditor(targets);
    }

    private synchronized void record(String call) {
        calls.add(call);
    }

    private TargetDefinition target(String iqn) throws AdminException {
        return editor.get(iqn);
    }

    private static LunInfo info(String iqn, LunDefinition l) {
        return new LunInfo(iqn, l.id(), l.volume(), l.size(), l.blockSize(), l.dedupBlockSize(4096), l.readOnly(),
                l.thin(), l.backing().tomlName(), 0);
    }

    @Override
    public List<TargetSummary> listTargets() {
        record("target.list");
        return targets.targets().stream().map(t -> new TargetSummary(t.iqn(), t.alias(), t.luns().size(),
                t.acls().size(), 0, t.attributes().demoMode(), t.attributes().authentication(),
                t.portalGroups().stream().map(g -> g.tag() + ":" + (g.portals().isEmpty() ? "0.0.0.0:3260" : g.portals().get(0))).toList()))
                .toList();
    }

    @Override
    public TargetDefinition showTarget(String iqn) throws AdminException {
        record("target.show");
        return target(iqn);
    }

    @Override
    public TargetDefinition createTarget(String iqn, String alias, boolean demoMode) throws AdminException, IOException {
        record("target.create");
        return editor.createTarget(iqn, alias, demoMode);
    }

    @Override
    public TargetDefinition setAttributes(String iqn, TargetAttributes attributes) throws AdminException, IOException {
        return editor.setAttributes(iqn, attributes);
    }

    @Override
    public List<VolumeRelease> deleteTarget(String iqn, boolean force, boolean destroy)
            throws AdminException, IOException {
        record("target.delete " + iqn + (destroy ? " destroy" : ""));
        TargetDefinition t = editor.deleteTarget(iqn);
        List<VolumeRelease> out = new ArrayList<>();
        for (LunDefinition l : t.luns()) {
            out.add(release(l, destroy));
        }
        return out;
    }

    /** Volumes kept by this fake's "pool": detached ones the test put here and those of deleted LUNs. */
    public final Map<String, VolumeSummary> detached = new LinkedHashMap<>();
    /** The pool's read-only reason as status and stats report it (null: read-write). */
    public volatile String poolReadOnly;

    private VolumeRelease release(LunDefinition l, boolean destroy) {
        if (!destroy) {
            detached.put(l.volume(), new VolumeSummary(l.volume(), l.backing().tomlName(), l.size(), l.blockSize(),
                    l.dedupBlockSize(4096), 0, 0, null, null, null));
        }
        return new VolumeRelease(l.volume(), l.backing().tomlName(), destroy, 0, 0);
    }

    @Override
    public LunInfo createLun(String iqn, LunDefinition lun, boolean attach) throws AdminException, IOException {
        record("lun.create " + lun.volume() + (attach ? " attach" : "") + " size=" + lun.size() + " block=" + lun.blockSize());
        String name = lun.volume() != null ? lun.volume()
                : io.orion.dedup.config.TargetFiles.defaultVolumeName(IscsiName.normalize(iqn), lun.id());
        VolumeSummary v = detached.get(name);
        if (v != null && !attach) {
            throw new AdminException("volume " + name + " already exists; use --attach");
        }
        if (v == null && attach) {
            throw new AdminException("no volume " + name + " to attach");
        }
        LunDefinition d = lun.withVolume(name, lun.size() == 0 && v != null ? v.sizeBytes() : lun.size(),
                lun.blockSize() == 0 ? (v != null ? v.blockSize() : 512) : lun.blockSize(), lun.dedupBlockSize());
        editor.addLun(iqn, d);
        detached.remove(name);
        return info(IscsiName.normalize(iqn), d);
    }

    @Override
    public VolumeRelease deleteLun(String iqn, int lun, boolean force, boolean destroy)
            throws AdminException, IOException {
        LunDefinition l = TargetEditor.lun(target(iqn), lun);
        if (busyLuns.contains(iqn + "/" + lun) && !force) {
            throw new AdminException("LUN " + lun + " is in use by 1 session; use --force to delete it anyway");
        }
        editor.removeLun(iqn, lun);
        return release(l, destroy);
    }

    @Override
    public List<VolumeSummary> listVolumes() {
        List<VolumeSummary> out = new ArrayList<>(detached.values());
        for (TargetDefinition t : targets.targets()) {
            for (LunDefinition l : t.luns()) {
                out.add(new VolumeSummary(l.volume(), l.backing().tomlName(), l.size(), l.blockSize(),
                        l.dedupBlockSize(4096), 0, 0, null, t.iqn(), l.id()));
            }
        }
        return out;
    }

    @Override
    public VolumeRelease deleteVolume(String name) throws AdminException {
        for (VolumeSummary v : listVolumes()) {
            if (v.volume().equals(name) && v.attached()) {
                throw new AdminException("volume " + name + " backs " + v.where() + "; delete the LUN first");
            }
        }
        VolumeSummary v = detached.remove(name);
        if (v == null) {
            throw new AdminException("no volume " + name);
        }
        return new VolumeRelease(name, v.backing(), true, v.logicalUsedBytes(), v.storedBytes());
    }

    @Override
    public LunInfo resizeLun(String iqn, int lun, long newSizeBytes) throws AdminException, IOException {
        TargetDefinition t = editor.resizeLun(iqn, lun, newSizeBytes);
        return info(t.iqn(), t.lun(lun).orElseThrow());
    }

    @Override
    public List<LunInfo> listLuns(String iqn) throws AdminException {
        List<TargetDefinition> ts = iqn == null ? targets.targets() : List.of(target(iqn));
        List<LunInfo> out = new ArrayList<>();
        for (TargetDefinition t : ts) {
            for (LunDefinition l : t.luns()) {
                out.add(info(t.iqn(), l));
            }
        }
        return out;
    }

    @Override
    public void addPortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        editor.addPortal(iqn, tag, portal);
    }

    @Override
    public void removePortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        editor.removePortal(iqn, tag, portal);
    }

    @Override
    public void addAcl(String iqn, AclDefinition acl) throws AdminException, IOException {
        editor.addAcl(iqn, acl);
    }

    @Override
    public void removeAcl(String iqn, String initiator) throws AdminException, IOException {
        editor.removeAcl(iqn, initiator);
    }

    @Override
    public List<AclDefinition> listAcls(String iqn) throws AdminException {
        return target(iqn).acls();
    }

    @Override
    public void setChap(String iqn, ChapScope scope, String initiator, ChapCredentials chap)
            throws AdminException, IOException {
        editor.setChap(iqn, scope, initiator, chap);
    }

    @Override
    public void clearChap(String iqn, ChapScope scope, String initiator) throws AdminException, IOException {
        editor.setChap(iqn, scope, initiator, null);
    }

    @Override
    public StatusReport status() {
        return new StatusReport("0.1.0-test", 42, List.of("127.0.0.1:3260"), "data", targets.targets().size(),
                targets.targets().stream().mapToInt(t -> t.luns().size()).sum(),
                List.of(new SessionInfo("iqn.1994-05.com.redhat:c1", "iqn.2026-11.io.orion:default", "400001370000", 1,
                        1, "127.0.0.1:51000", null)),
                "127.0.0.1:9572", false, poolReadOnly == null ? StatusReport.POOL_READ_WRITE : StatusReport.POOL_READ_ONLY,
                poolReadOnly);
    }

    @Override
    public SaveResult saveConfig() throws IOException {
        return new SaveResult(targets.saveAll().stream().map(Path::toString).toList());
    }

    @Override
    public StatsReport stats(boolean verbose) {
        Map<String, Object> counters = new LinkedHashMap<>();
        if (verbose) {
            counters.put("writes", 1000);
            counters.put("duplicate_blocks", 750);
            counters.put("stored_bytes", 4L << 20);
        }
        return new StatsReport(List.of(new VolumeStats("default-0", "iqn.2026-11.io.orion:default", 0, 16L << 30,
                        8L << 30, 2L << 30, 1L << 30)),
                new PoolStats(100L << 30, 2L << 30, 8L << 30), counters, poolReadOnly);
    }

    private static Map<String, Object> figures(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Override
    public Map<String, Object> hashInfo() {
        return figures("algorithm", "sha256", "block_size_bytes", 4096, "cache_size_bytes", 256L << 20);
    }

    @Override
    public Map<String, Object> hashOptimize() {
        return figures("entries_loaded", 1234);
    }

    @Override
    public Map<String, Object> hashStats() {
        return figures("blocks_hashed", 100000, "hash_throughput_bytes_per_second", 1_500_000_000L, "duplicate_ratio", 0.75);
    }

    @Override
    public Map<String, Object> referenceInfo() {
        return figures("max_references", 65536);
    }

    @Override
    public Map<String, Object> referenceCleanup() {
        return figures("chunks_reclaimed", 12, "reclaimed_bytes", 49152);
    }

    @Override
    public Map<String, Object> referenceStats() {
        return figures("chunks", 1000, "references", 4000);
    }

    @Override
    public Map<String, Object> cacheInfo() {
        return figures("policy", "lru (W-TinyLFU)", "chunk_cache_size_bytes", 1L << 30);
    }

    @Override
    public synchronized Map<String, Object> cacheFlush() {
        cacheFlushes++;
        return figures("entries_dropped", 77, "dropped_bytes", 315392);
    }

    @Override
    public Map<String, Object> cacheStats() {
        return figures("hit_percent", 93.5, "block_cache", figures("hits", 10, "size_bytes", 1L << 20),
                "devices", List.of(figures("path", "/dev/nvme1n1"), figures("path", "/srv/chunks.1")));
    }

    @Override
    public Map<String, Object> compressionInfo() {
        return figures("algorithm", "lz4", "level", 1);
    }

    @Override
    public Map<String, Object> compressionOptimize() {
        return figures("chunks_recompressed", 3, "saved_bytes", 2048);
    }

    @Override
    public Map<String, Object> performanceStats() {
        return figures("read_iops", 100, "write_latency_p99_micros", 850);
    }

    @Override
    public Map<String, Object> optimizationStats() {
        return figures("zero_blocks_skipped", 5000, "identical_overwrites_skipped", 20);
    }
}
