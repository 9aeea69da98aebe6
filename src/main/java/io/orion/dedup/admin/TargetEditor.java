package io.orion.dedup.admin;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.config.TargetDirectory;
import java.io.IOException;
import java.util.List;

/**
 * The definition half of the admin commands, saving at once: each method computes the change with
 * {@link TargetChanges} (refusing it with an admin-readable reason) and saves the changed
 * definition atomically to {@code targets/}. Thread-safe: changes are serialised. To apply a
 * change to a live server before saving it, use {@link TargetAdminService} instead.
 */
public final class TargetEditor {

    private final TargetDirectory targets;
    private final TargetChanges changes;

    public TargetEditor(TargetDirectory targets) {
        this.targets = targets;
        this.changes = new TargetChanges(targets);
    }

    /** The directory being edited. */
    public TargetDirectory directory() {
        return targets;
    }

    /** The current definition of a target. */
    public TargetDefinition get(String iqn) throws AdminException {
        return changes.get(iqn);
    }

    /** All current definitions. */
    public List<TargetDefinition> all() {
        return targets.targets();
    }

    /** Saves a validated definition; returns it. */
    public synchronized TargetDefinition save(TargetDefinition t) throws AdminException, IOException {
        try {
            targets.save(t);
            return t;
        } catch (ConfigException e) {
            throw new AdminException(AdminError.INVALID_VALUE, e.key() + ": " + e.reason(), java.util.Map.of("field", e.key()));
        }
    }

    public synchronized TargetDefinition createTarget(String iqn, String alias, boolean demoMode)
            throws AdminException, IOException {
        return save(changes.createTarget(iqn, alias, demoMode));
    }

    public synchronized TargetDefinition setAttributes(String iqn, TargetAttributes attributes)
            throws AdminException, IOException {
        return save(changes.setAttributes(iqn, attributes));
    }

    /** Removes a target and its file; returns what it was. */
    public synchronized TargetDefinition deleteTarget(String iqn) throws AdminException, IOException {
        TargetDefinition t = changes.get(iqn);
        targets.delete(t.iqn());
        return t;
    }

    public synchronized TargetDefinition addLun(String iqn, LunDefinition lun) throws AdminException, IOException {
        return save(changes.addLun(iqn, lun));
    }

    public synchronized TargetDefinition removeLun(String iqn, int lun) throws AdminException, IOException {
        return save(changes.removeLun(iqn, lun));
    }

    /** Changes a LUN's capacity; shrinking is refused because it would cut off written data. */
    public synchronized TargetDefinition resizeLun(String iqn, int lun, long newSize) throws AdminException, IOException {
        return save(changes.resizeLun(iqn, lun, newSize));
    }

    /** The LUN or a refusal naming it. */
    public static LunDefinition lun(TargetDefinition t, int lun) throws AdminException {
        return TargetChanges.lun(t, lun);
    }

    public synchronized TargetDefinition addPortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        return save(changes.addPortal(iqn, tag, portal));
    }

    public synchronized TargetDefinition removePortal(String iqn, int tag, HostPort portal)
            throws AdminException, IOException {
        return save(changes.removePortal(iqn, tag, portal));
    }

    /** Adds or replaces an ACL; a replacement without CHAP keeps the old ACL's CHAP. */
    public synchronized TargetDefinition addAcl(String iqn, AclDefinition acl) throws AdminException, IOException {
        return save(changes.addAcl(iqn, acl));
    }

    public synchronized TargetDefinition removeAcl(String iqn, String initiator) throws AdminException, IOException {
        return save(changes.removeAcl(iqn, initiator));
    }

    /** Sets CHAP of one scope; {@code chap} null clears it. */
    public synchronized TargetDefinition setChap(String iqn, ChapScope scope, String initiator, ChapCredentials chap)
            throws AdminException, IOException {
        return save(changes.setChap(iqn, scope, initiator, chap));
    }
}
