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
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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

    private TargetDefinition commit(TargetDefinition previous, TargetDefinition next) throws AdminException, IOException {
        apply(previous, next);
        if (next == null) {
            targets.delete(previous.iqn());
            return null;
        }
        try {
            targets.save(next);
        } catch (ConfigException e) {
            throw new AdminException(e.key() + ": " + e.reason());
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
        TargetDefinition compute() throws AdminException;
    }

    /** A LUN as {@code lun list} shows it. */
    protected LunInfo info(TargetDefinition t, LunDefinition l) {
        return new LunInfo(t.iqn(), l.id(), l.volume(), l.size(), l.blockSize(),
                l.backing() == LunBacking.DEDUP ? l.dedupBlockSize(defaultDedupBlockSize()) : 0, l.readOnly(), l.thin(),
                l.backing().tomlName(), sessionsUsing(t.iqn(), l.id()));
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
    public void deleteTarget(String iqn, boolean force) throws AdminException, IOException {
        synchronized (lock) {
            TargetDefinition t = changes.get(iqn);
            int n = sessions(t.iqn());
            if (n > 0 && !force) {
                throw new AdminException("target " + t.iqn() + " has " + n + " session" + (n == 1 ? "" : "s")
                        + "; use --force to delete it anyway");
            }
            commit(t, null);
        }
    }

    @Override
    public LunInfo createLun(String iqn, LunDefinition lun) throws AdminException, IOException {
        TargetDefinition t = change(iqn, () -> changes.addLun(iqn, lun));
        return info(t, TargetChanges.lun(t, lun.id()));
    }

    @Override
    public void deleteLun(String iqn, int lun, boolean force) throws AdminException, IOException {
        change(iqn, () -> {
            TargetDefinition next = changes.removeLun(iqn, lun);
            int n = sessionsUsing(next.iqn(), lun);
            if (n > 0 && !force) {
                throw new AdminException("LUN " + lun + " of " + next.iqn() + " is in use by " + n + " session"
                        + (n == 1 ? "" : "s") + "; use --force to delete it anyway");
            }
            return next;
        });
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

    @Override
    public SaveResult saveConfig() throws IOException {
        synchronized (lock) {
            return new SaveResult(targets.saveAll().stream().map(Path::toString).toList());
        }
    }
}
