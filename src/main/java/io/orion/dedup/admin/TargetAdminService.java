package io.orion.dedup.admin;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.LunBacking;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.config.TargetDirectory;
import io.orion.dedup.config.TargetFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The target, LUN, portal, ACL and CHAP half of {@link AdminApi}, for the server to extend. Each
 * change is computed and validated ({@link TargetChanges}), then applied to the live server
 * ({@link #apply}), then saved atomically to {@code targets/} — so a change that cannot be applied
 * (a volume that cannot be opened, a portal that cannot be bound) is refused and leaves the files
 * as they were, and a change that was applied survives a restart.
 *
 * <p>The subclass implements {@link #apply}, the session counts used to refuse deleting what is
 * in use, and the engine half of the API ({@code status}, {@code stats}, management commands).
 * Changes are serialised by one lock; reads see the last saved definitions.
 */
public abstract class TargetAdminService implements AdminApi {

    private final TargetDirectory targets;
    private final TargetChanges changes;
    private final Object lock = new Object();

    protected TargetAdminService(TargetDirectory targets) {
        this.targets = targets;
        this.changes = new TargetChanges(targets);
    }

    /** The definitions this service edits. */
    protected final TargetDirectory targets() {
        return targets;
    }

    /**
     * Makes the live server match {@code next}. Called with the change validated but not yet
     * saved; throwing leaves the saved definitions unchanged.
     *
     * @param previous the definition before the change, or null for a new target
     * @param next the definition after the change, or null when the target is deleted
     */
    protected abstract void apply(TargetDefinition previous, TargetDefinition next) throws AdminException, IOException;

    /** Sessions logged in to a target. */
    protected abstract int sessions(String iqn);

    /** Sessions that can reach a LUN of a target. */
    protected abstract int sessionsUsing(String iqn, int lun);

    /** The server's portals, used by portal groups that list none. */
    protected abstract List<HostPort> defaultPortals();

    /** The chunk size of dedup LUNs that do not choose one ({@code hash_block_size}). */
    protected abstract int defaultDedupBlockSize();

    /**
     * The volumes kept in storage, attached or not (the pool's dedup volumes, image files in the
     * default place); {@code target}/{@code lun} are filled in by this class.
     */
    protected abstract List<VolumeSummary> storedVolumes() throws AdminException, IOException;

    /**
     * The stored volume a LUN definition would use (dedup: the pool volume of that name; file:
     * the file at its path or default place), or empty when there is none (always for RAM).
     */
    protected abstract Optional<VolumeSummary> storedVolume(LunDefinition lun) throws AdminException, IOException;

    /** The names of {@link #storedVolumes()}, without their figures (cheaper: no block map walk). */
    protected java.util.Set<String> storedVolumeNames() throws AdminException, IOException {
        java.util.Set<String> out = new java.util.HashSet<>();
        for (VolumeSummary v : storedVolumes()) {
            out.add(v.volume());
        }
        return out;
    }

    /** Destroys a stored volume no LUN uses any more; returns what it held. */
    protected abstract VolumeRelease destroyVolume(VolumeSummary volume) throws AdminException, IOException;

    /**
     * Creates dedup volume {@code name} as a reference copy of dedup volume {@code source}
     * (read-only: a snapshot); see {@link AdminApi#cloneLun}. The default refuses.
     */
    protected VolumeSummary cloneVolume(String source, String name, boolean readOnly) throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot clone volumes");
    }

    /**
     * Rolls the volume of LUN {@code l} of {@code t} back to {@code snapshot} and tells the LUN's
     * initiators; returns the volume's capacity afterwards (the snapshot's). The default refuses.
     */
    protected long rollbackVolume(TargetDefinition t, LunDefinition l, String snapshot)
            throws AdminException, IOException {
        throw new AdminException(AdminError.NOT_SUPPORTED, "this server cannot roll volumes back");
    }

    /** The dedup mode of a dedup LUN's volume ({@code inline}, {@code post}, {@code off}), or null when unknown. */
    protected String volumeDedupMode(LunDefinition l) {
        return l.dedup() == null ? null : l.dedup().label();
    }

    /** The origin (volume name, ISO-8601 time) of a LUN's volume, or null. */
    protected String[] volumeOrigin(LunDefinition l) {
        return null;
    }

    private TargetDefinition commit(TargetDefinition previous, TargetDefinition next) throws AdminException, IOException {
        apply(previous, next);
        if (next == null) {
            targets.delete(previous.iqn());
            return null;
        }
        try {
            targets.save(next);
        } catch (ConfigException e) {
            throw new AdminException(AdminError.INVALID_VALUE, e.key() + ": " + e.reason(), java.util.Map.of("field", e.key()));
        }
        return next;
    }

    private TargetDefinition change(String iqn, Change c) throws AdminException, IOException {
        synchronized (lock) {
            TargetDefinition previous = changes.get(iqn);
            return commit(previous, c.compute());
        }
    }

    @FunctionalInterface
    private interface Change {
        TargetDefinition compute() throws AdminException, IOException;
    }

    /** A LUN as {@code lun list} shows it. */
    protected LunInfo info(TargetDefinition t, LunDefinition l) {
        String[] origin = l.backing() == LunBacking.DEDUP ? volumeOrigin(l) : null;
        return new LunInfo(t.iqn(), l.id(), l.volume(), l.size(), l.blockSize(),
                l.backing() == LunBacking.DEDUP ? l.dedupBlockSize(defaultDedupBlockSize()) : 0, l.readOnly(), l.thin(),
                l.backing().tomlName(), sessionsUsing(t.iqn(), l.id()), origin == null ? null : origin[0],
                origin == null ? null : origin[1], l.backing() == LunBacking.DEDUP ? volumeDedupMode(l) : null);
    }

    /** The dedup LUN {@code lun} of {@code t}, or a refusal naming what it is instead. */
    private static LunDefinition dedupLun(TargetDefinition t, int lun, String what) throws AdminException {
        LunDefinition l = TargetChanges.lun(t, lun);
        if (l.backing() != LunBacking.DEDUP) {
            throw new AdminException("LUN " + lun + " of " + t.iqn() + " is a " + l.backing().tomlName() + " LUN; only"
                    + " dedup LUNs can be " + what + " (a reference copy inside the pool, no bytes copied)");
        }
        return l;
    }

    @Override
    public LunInfo cloneLun(String iqn, int lun, String toIqn, Integer toLun) throws AdminException, IOException {
        if (toIqn == null) {
            throw new AdminException("the target of the clone is required: --to IQN");
        }
        synchronized (lock) {
            TargetDefinition t = changes.get(iqn);
            LunDefinition l = dedupLun(t, lun, "cloned");
            TargetDefinition dest = changes.get(toIqn);
            int id;
            if (toLun != null) {
                id = toLun;
                if (dest.lun(id).isPresent()) {
                    throw new AdminException(AdminError.ALREADY_EXISTS, "LUN " + id + " already exists in " + dest.iqn());
                }
            } else {
                id = 0;
                while (dest.lun(id).isPresent()) {
                    id++;
                }
            }
            String name = freshVolumeName(dest.iqn(), id);
            cloneVolume(l.volume(), name, false);
            LunDefinition copy = new LunDefinition(id, name, l.size(), l.blockSize(), l.dedupBlockSize(), false,
                    l.thin(), LunBacking.DEDUP, null, l.dedup());
            TargetDefinition next;
            try {
                next = change(dest.iqn(), () -> changes.addLun(dest.iqn(), copy));
            } catch (AdminException | IOException | RuntimeException e) {
                // the LUN could not be added: the new volume goes again (it is nobody's yet)
                try {
                    storedVolume(copy).ifPresent(v -> {
                        try {
                            destroyVolume(v);
                        } catch (AdminException | IOException x) {
                            e.addSuppressed(x);
                        }
                    });
                } catch (AdminException | IOException x) {
                    e.addSuppressed(x);
                }
                throw e;
            }
            return info(next, TargetChanges.lun(next, id));
        }
    }

    @Override
    public VolumeSummary snapshotLun(String iqn, int lun, String name) throws AdminException, IOException {
        synchronized (lock) {
            TargetDefinition t = changes.get(iqn);
            LunDefinition l = dedupLun(t, lun, "snapshotted");
            String snap = name;
            if (snap == null) {
                String stamp = java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
                        .withZone(java.time.ZoneOffset.UTC).format(java.time.Instant.now());
                String base = l.volume();
                int room = 64 - ".snap-".length() - stamp.length();
                snap = (base.length() > room ? base.substring(0, room) : base) + ".snap-" + stamp;
            }
            if (!LunDefinition.validVolumeName(snap)) {
                throw new AdminException("invalid snapshot name '" + snap + "': 1-64 of A-Z a-z 0-9 . _ -, not starting"
                        + " with '.'");
            }
            if (storedVolumeNames().contains(snap)) {
                throw new AdminException(AdminError.ALREADY_EXISTS, "a volume named " + snap + " already exists; give another --name");
            }
            for (TargetDefinition o : targets.targets()) {
                for (LunDefinition x : o.luns()) {
                    if (x.volume().equals(snap)) {
                        throw new AdminException("volume " + snap + " is the volume of LUN " + x.id() + " of " + o.iqn()
                                + "; give another --name");
                    }
                }
            }
            return cloneVolume(l.volume(), snap, true);
        }
    }

    @Override
    public LunInfo rollbackLun(String iqn, int lun, String snapshot, boolean force) throws AdminException, IOException {
        if (snapshot == null) {
            throw new AdminException("the snapshot to roll back to is required: --to SNAPSHOT");
        }
        synchronized (lock) {
            TargetDefinition t = changes.get(iqn);
            LunDefinition l = dedupLun(t, lun, "rolled back");
            int n = sessionsUsing(t.iqn(), lun);
            if (n > 0 && !force) {
                throw new AdminException(AdminError.BUSY, "LUN " + lun + " of " + t.iqn() + " is in use by " + n + " session"
                        + (n == 1 ? "" : "s") + " (a mounted file system would see its blocks change under it);"
                        + " log them out first, or use --force");
            }
            long size = rollbackVolume(t, l, snapshot);
            TargetDefinition now = t;
            if (size != l.size()) {
                // the LUN takes the snapshot's size: saved, and CAPACITY DATA HAS CHANGED for its nexuses
                now = commit(t, t.withLun(l.withSize(size)));
            }
            return info(now, TargetChanges.lun(now, lun));
        }
    }

    @Override
    public List<TargetSummary> listTargets() {
        List<TargetSummary> out = new ArrayList<>();
        for (TargetDefinition t : targets.targets()) {
            List<String> portals = new ArrayList<>();
            for (PortalGroup g : t.portalGroups()) {
                for (HostPort p : g.portals().isEmpty() ? defaultPortals() : g.portals()) {
                    portals.add(g.tag() + ":" + p);
                }
            }
            out.add(new TargetSummary(t.iqn(), t.alias(), t.luns().size(), t.acls().size(), sessions(t.iqn()),
                    t.attributes().demoMode(), t.attributes().authentication(), portals));
        }
        return out;
    }

    @Override
    public TargetDefinition showTarget(String iqn) throws AdminException {
        return changes.get(iqn);
    }

    @Override
    public TargetDefinition createTarget(String iqn, String alias, boolean demoMode) throws AdminException, IOException {
        synchronized (lock) {
            return commit(null, changes.createTarget(iqn, alias, demoMode));
        }
    }

    @Override
    public TargetDefinition setAttributes(String iqn, TargetAttributes attributes) throws AdminException, IOException {
        return change(iqn, () -> changes.setAttributes(iqn, attributes));
    }

    @Override
    public List<VolumeRelease> deleteTarget(String iqn, boolean force, boolean destroy)
            throws AdminException, IOException {
        synchronized (lock) {
            TargetDefinition t = changes.get(iqn);
            int n = sessions(t.iqn());
            if (n > 0 && !force) {
                throw new AdminException(AdminError.BUSY, "target " + t.iqn() + " has " + n + " session" + (n == 1 ? "" : "s")
                        + "; use --force to delete it anyway");
            }
            if (destroy) {
                for (LunDefinition l : t.luns()) {
                    checkDestroyable(t, l);
                }
            }
            List<Optional<VolumeSummary>> stored = new ArrayList<>();
            for (LunDefinition l : t.luns()) {
                stored.add(storedVolume(l));
            }
            commit(t, null);
            List<VolumeRelease> out = new ArrayList<>();
            for (int i = 0; i < t.luns().size(); i++) {
                out.add(release(t, t.luns().get(i), stored.get(i), destroy));
            }
            return out;
        }
    }

    /**
     * Adds a LUN on a new volume, or (with {@code attach}) on an existing detached one; see
     * {@link AdminApi#createLun(String, LunDefinition, boolean)}.
     */
    @Override
    public LunInfo createLun(String iqn, LunDefinition lun, boolean attach) throws AdminException, IOException {
        if (lun == null) {
            throw new AdminException("a LUN definition is required");
        }
        TargetDefinition t = change(iqn, () -> {
            TargetDefinition before = changes.get(iqn);
            return changes.addLun(iqn, resolveVolume(before, lun, attach));
        });
        return info(t, TargetChanges.lun(t, lun.id()));
    }

    /** The LUN with its volume chosen and its geometry complete, or a refusal. */
    private LunDefinition resolveVolume(TargetDefinition t, LunDefinition lun, boolean attach)
            throws AdminException, IOException {
        if (t.lun(lun.id()).isPresent()) {
            throw new AdminException(AdminError.ALREADY_EXISTS, "LUN " + lun.id() + " already exists in " + t.iqn());
        }
        String name = lun.volume();
        if (name == null) {
            if (attach) {
                throw new AdminException("--attach needs the volume to attach: --volume NAME");
            }
            name = freshVolumeName(t.iqn(), lun.id());
        } else {
            for (TargetDefinition other : targets.targets()) {
                for (LunDefinition o : other.luns()) {
                    if (o.volume().equals(name)) {
                        throw new AdminException(AdminError.ALREADY_EXISTS, "volume " + name + " already backs LUN " + o.id() + " of " + other.iqn()
                                + "; a volume backs one LUN only");
                    }
                }
            }
        }
        LunDefinition named = lun.withVolume(name, lun.size(), lun.blockSize(), lun.dedupBlockSize());
        Optional<VolumeSummary> existing = LunDefinition.validVolumeName(name) ? storedVolume(named) : Optional.empty();
        if (!attach) {
            if (existing.isPresent()) {
                VolumeSummary v = existing.get();
                throw new AdminException(AdminError.ALREADY_EXISTS, "volume " + name + " already exists (" + v.backing() + ", " + v.sizeBytes()
                        + " bytes, detached, its data kept); use --attach to give it to this LUN with its data,"
                        + " volume delete " + name + " to destroy it, or another --volume name");
            }
            if (lun.size() <= 0) {
                throw new AdminException("a size is required for a new volume: --size SIZE");
            }
            return named.withVolume(name, lun.size(), lun.blockSize() == 0 ? 512 : lun.blockSize(),
                    lun.dedupBlockSize());
        }
        if (existing.isEmpty()) {
            throw new AdminException(AdminError.NOT_FOUND, "no volume " + name + " to attach (volume list shows the volumes)");
        }
        VolumeSummary v = existing.get();
        if (!v.backing().equals(lun.backing().tomlName())) {
            throw new AdminException("volume " + name + " is a " + v.backing() + " volume, not " + lun.backing().tomlName());
        }
        long size = lun.size() == 0 ? v.sizeBytes() : lun.size();
        if (size < v.sizeBytes()) {
            throw new AdminException("volume " + name + " is " + v.sizeBytes() + " bytes; attaching it as a "
                    + size + "-byte LUN would cut off its data; give --size " + v.sizeBytes()
                    + " (or more, which grows it) or leave --size out");
        }
        int block = lun.blockSize() == 0 ? (v.blockSize() == 0 ? 512 : v.blockSize()) : lun.blockSize();
        if (v.blockSize() != 0 && block != v.blockSize()) {
            throw new AdminException("volume " + name + " has " + v.blockSize() + "-byte blocks, not " + block
                    + "; leave --block-size out or give " + v.blockSize());
        }
        int dedupBlock = lun.dedupBlockSize();
        if (v.dedupBlockSize() != 0) {
            if (dedupBlock != 0 && dedupBlock != v.dedupBlockSize()) {
                throw new AdminException("volume " + name + " has " + v.dedupBlockSize() + "-byte dedup blocks, not "
                        + dedupBlock + "; leave --dedup-block-size out");
            }
            dedupBlock = v.dedupBlockSize() == defaultDedupBlockSize() ? 0 : v.dedupBlockSize();
        }
        LunDefinition attached = named.withVolume(name, size, block, dedupBlock);
        if (v.readOnly() && !attached.readOnly()) {
            // a snapshot refuses writes anyway: say so to initiators up front (MODE SENSE WP)
            attached = new LunDefinition(attached.id(), attached.volume(), attached.size(), attached.blockSize(),
                    attached.dedupBlockSize(), true, attached.thin(), attached.backing(), attached.path(),
                    attached.dedup());
        }
        return attached;
    }

    /**
     * A volume name no LUN definition and no stored volume has: {@code <target-suffix>-<lun>},
     * else that with {@code -2}, {@code -3}, ... appended.
     */
    private String freshVolumeName(String iqn, int id) throws AdminException, IOException {
        java.util.Set<String> taken = new java.util.HashSet<>(storedVolumeNames());
        for (TargetDefinition t : targets.targets()) {
            for (LunDefinition l : t.luns()) {
                taken.add(l.volume());
            }
        }
        String base = TargetFiles.defaultVolumeName(iqn, id);
        if (base.length() > 56) {
            base = base.substring(0, 56);
        }
        String name = base;
        for (int n = 2; taken.contains(name); n++) {
            name = base + "-" + n;
        }
        return name;
    }

    /** Refuses a destroy this server will not do, before anything changes. */
    private static void checkDestroyable(TargetDefinition t, LunDefinition l) throws AdminException {
        if (l.backing() == LunBacking.FILE && l.path() != null) {
            throw new AdminException("LUN " + l.id() + " of " + t.iqn() + " uses the file " + l.path()
                    + ", which was given with --path; orion-dedup only deletes files it created"
                    + " (delete without --destroy, then remove the file yourself)");
        }
    }

    /** Destroys (or keeps) the volume of a LUN that was just removed. */
    private VolumeRelease release(TargetDefinition t, LunDefinition l, Optional<VolumeSummary> stored, boolean destroy)
            throws AdminException, IOException {
        if (stored.isEmpty()) {
            return new VolumeRelease(l.volume(), l.backing().tomlName(), l.backing() == LunBacking.RAM, -1, -1);
        }
        if (!destroy) {
            return new VolumeRelease(l.volume(), l.backing().tomlName(), false, stored.get().logicalUsedBytes(),
                    stored.get().storedBytes());
        }
        try {
            return destroyVolume(stored.get());
        } catch (AdminException | IOException e) {
            throw new AdminException("LUN " + l.id() + " was deleted from " + t.iqn() + ", but its volume " + l.volume()
                    + " could not be destroyed and is kept, detached: " + e.getMessage());
        }
    }

    @Override
    public VolumeRelease deleteLun(String iqn, int lun, boolean force, boolean destroy)
            throws AdminException, IOException {
        synchronized (lock) {
            TargetDefinition t = changes.get(iqn);
            LunDefinition l = TargetChanges.lun(t, lun);
            TargetDefinition next = changes.removeLun(iqn, lun);
            int n = sessionsUsing(next.iqn(), lun);
            if (n > 0 && !force) {
                throw new AdminException(AdminError.BUSY, "LUN " + lun + " of " + next.iqn() + " is in use by " + n + " session"
                        + (n == 1 ? "" : "s") + "; use --force to delete it anyway");
            }
            if (destroy) {
                checkDestroyable(t, l);
            }
            Optional<VolumeSummary> stored = storedVolume(l);
            commit(t, next);
            return release(t, l, stored, destroy);
        }
    }

    @Override
    public List<VolumeSummary> listVolumes() throws AdminException, IOException {
        synchronized (lock) {
            List<VolumeSummary> out = new ArrayList<>();
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (VolumeSummary v : storedVolumes()) {
                VolumeSummary a = v.attachedTo(null, null);
                for (TargetDefinition t : targets.targets()) {
                    for (LunDefinition l : t.luns()) {
                        if (l.volume().equals(v.volume()) && l.backing().tomlName().equals(v.backing())) {
                            a = v.attachedTo(t.iqn(), l.id());
                        }
                    }
                }
                seen.add(a.backing() + "/" + a.volume());
                out.add(a);
            }
            for (TargetDefinition t : targets.targets()) {
                for (LunDefinition l : t.luns()) {
                    if (!seen.contains(l.backing().tomlName() + "/" + l.volume())) {
                        out.add(new VolumeSummary(l.volume(), l.backing().tomlName(), l.size(), l.blockSize(),
                                l.backing() == LunBacking.DEDUP ? l.dedupBlockSize(defaultDedupBlockSize()) : 0, -1, -1,
                                l.path() == null ? null : l.path().toString(), t.iqn(), l.id()));
                    }
                }
            }
            out.sort(java.util.Comparator.comparing(VolumeSummary::volume).thenComparing(VolumeSummary::backing));
            return out;
        }
    }

    @Override
    public VolumeRelease deleteVolume(String name) throws AdminException, IOException {
        if (name == null) {
            throw new AdminException("a volume name is required");
        }
        synchronized (lock) {
            for (TargetDefinition t : targets.targets()) {
                for (LunDefinition l : t.luns()) {
                    if (l.volume().equals(name)) {
                        throw new AdminException("volume " + name + " backs LUN " + l.id() + " of " + t.iqn()
                                + "; delete the LUN first (lun delete " + t.iqn() + " " + l.id() + " --destroy does both)");
                    }
                }
            }
            List<VolumeSummary> matches = new ArrayList<>();
            if (LunDefinition.validVolumeName(name)) {
                for (LunBacking b : List.of(LunBacking.DEDUP, LunBacking.FILE)) {
                    storedVolume(new LunDefinition(0, name, 0, 512, 0, false, true, b, null)).ifPresent(matches::add);
                }
            }
            if (matches.isEmpty()) {
                throw new AdminException(AdminError.NOT_FOUND, "no volume " + name);
            }
            if (matches.size() > 1) {
                throw new AdminException("both a dedup volume and the image file " + matches.get(1).path()
                        + " are named " + name + "; remove or rename the file, then delete the dedup volume");
            }
            return destroyVolume(matches.get(0));
        }
    }

    @Override
    public LunInfo resizeLun(String iqn, int lun, long newSizeBytes) throws AdminException, IOException {
        TargetDefinition t = change(iqn, () -> changes.resizeLun(iqn, lun, newSizeBytes));
        return info(t, TargetChanges.lun(t, lun));
    }

    @Override
    public List<LunInfo> listLuns(String iqn) throws AdminException {
        List<TargetDefinition> ts = iqn == null ? targets.targets() : List.of(changes.get(iqn));
        List<LunInfo> out = new ArrayList<>();
        for (TargetDefinition t : ts) {
            for (LunDefinition l : t.luns()) {
                out.add(info(t, l));
            }
        }
        return out;
    }

    @Override
    public void addPortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        change(iqn, () -> changes.addPortal(iqn, tag, portal));
    }

    @Override
    public void removePortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        change(iqn, () -> changes.removePortal(iqn, tag, portal));
    }

    @Override
    public void addAcl(String iqn, AclDefinition acl) throws AdminException, IOException {
        change(iqn, () -> changes.addAcl(iqn, acl));
    }

    @Override
    public void removeAcl(String iqn, String initiator) throws AdminException, IOException {
        change(iqn, () -> changes.removeAcl(iqn, initiator));
    }

    @Override
    public List<AclDefinition> listAcls(String iqn) throws AdminException {
        return changes.get(iqn).acls();
    }

    @Override
    public void setChap(String iqn, ChapScope scope, String initiator, ChapCredentials chap)
            throws AdminException, IOException {
        if (chap == null) {
            throw new AdminException("CHAP credentials are required (use chap clear to remove them)");
        }
        change(iqn, () -> changes.setChap(iqn, scope, initiator, chap));
    }

    @Override
    public void clearChap(String iqn, ChapScope scope, String initiator) throws AdminException, IOException {
        change(iqn, () -> changes.setChap(iqn, scope, initiator, null));
    }

    /**
     * Reads the targets directory again and applies the difference through {@link #apply}: removed targets
     * first (their portals may be what a new one needs), then changed ones, then new ones. Everything is
     * read and validated before anything changes; if applying one target fails, the ones before it stay
     * applied, the rest are as they were, and the reason names the target.
     */
    @Override
    public ReloadResult reload() throws AdminException, IOException {
        synchronized (lock) {
            TargetDirectory fresh;
            try {
                fresh = TargetDirectory.load(targets.dir());
            } catch (ConfigException e) {
                throw new AdminException("nothing reloaded: " + e.getMessage());
            }
            List<String> added = new ArrayList<>();
            List<String> changed = new ArrayList<>();
            List<String> removed = new ArrayList<>();
            int unchanged = 0;
            for (TargetDefinition old : targets.targets()) {
                if (fresh.find(old.iqn()).isEmpty()) {
                    step(old.iqn(), () -> apply(old, null));
                    targets.forget(old.iqn());
                    removed.add(old.iqn());
                }
            }
            for (TargetDefinition next : fresh.targets()) {
                Optional<TargetDefinition> old = targets.find(next.iqn());
                if (old.isPresent() && old.get().equals(next)) {
                    unchanged++;
                } else if (old.isPresent()) {
                    step(next.iqn(), () -> apply(old.get(), next));
                    targets.remember(next, fresh.fileOf(next.iqn()));
                    changed.add(next.iqn());
                }
            }
            for (TargetDefinition next : fresh.targets()) {
                if (targets.find(next.iqn()).isEmpty()) {
                    step(next.iqn(), () -> apply(null, next));
                    targets.remember(next, fresh.fileOf(next.iqn()));
                    added.add(next.iqn());
                }
            }
            return new ReloadResult(targets.dir().toString(), added, changed, removed, unchanged);
        }
    }

    @FunctionalInterface
    private interface Step {
        void run() throws AdminException, IOException;
    }

    private static void step(String iqn, Step c) throws AdminException, IOException {
        try {
            c.run();
        } catch (AdminException e) {
            throw new AdminException("reload stopped at " + iqn + ": " + e.getMessage());
        }
    }

    @Override
    public SaveResult saveConfig() throws IOException {
        synchronized (lock) {
            return new SaveResult(targets.saveAll().stream().map(Path::toString).toList());
        }
    }
}
