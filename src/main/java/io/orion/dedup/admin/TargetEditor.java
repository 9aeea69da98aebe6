package io.orion.dedup.admin;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.IscsiName;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.config.TargetDirectory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The definition half of the admin commands: checks a requested change against the current
 * target definitions, refuses it with an admin-readable reason, or saves the changed definition
 * atomically to {@code targets/} and returns it. The server's {@link AdminApi} implementation
 * calls this and then applies the returned definition to the live target (and decides what "in
 * use" means for deletions). Thread-safe: changes are serialised.
 */
public final class TargetEditor {

    private final TargetDirectory targets;

    public TargetEditor(TargetDirectory targets) {
        this.targets = targets;
    }

    /** The directory being edited. */
    public TargetDirectory directory() {
        return targets;
    }

    /** The current definition of a target. */
    public TargetDefinition get(String iqn) throws AdminException {
        return targets.find(iqn).orElseThrow(() -> new AdminException("no such target: " + iqn));
    }

    /** All current definitions. */
    public List<TargetDefinition> all() {
        return targets.targets();
    }

    private TargetDefinition save(TargetDefinition t) throws AdminException, IOException {
        try {
            targets.save(t);
            return t;
        } catch (ConfigException e) {
            throw new AdminException(describe(e.key()) + ": " + e.reason());
        }
    }

    /** Turns a definition key path ({@code lun[1].size}) into words where it helps. */
    private static String describe(String key) {
        if (key == null) {
            return "invalid";
        }
        return key.replace("attributes.", "");
    }

    public synchronized TargetDefinition createTarget(String iqn, String alias, boolean demoMode)
            throws AdminException, IOException {
        String name = IscsiName.normalize(iqn);
        String problem = IscsiName.problem(name);
        if (problem != null) {
            throw new AdminException(iqn + ": " + problem);
        }
        if (targets.find(name).isPresent()) {
            throw new AdminException("target " + name + " already exists");
        }
        return save(TargetDefinition.create(name, alias, demoMode));
    }

    public synchronized TargetDefinition setAttributes(String iqn, TargetAttributes attributes)
            throws AdminException, IOException {
        return save(get(iqn).withAttributes(attributes));
    }

    /** Removes a target and its file; returns what it was. */
    public synchronized TargetDefinition deleteTarget(String iqn) throws AdminException, IOException {
        TargetDefinition t = get(iqn);
        targets.delete(t.iqn());
        return t;
    }

    public synchronized TargetDefinition addLun(String iqn, LunDefinition lun) throws AdminException, IOException {
        TargetDefinition t = get(iqn);
        if (t.lun(lun.id()).isPresent()) {
            throw new AdminException("LUN " + lun.id() + " already exists in " + t.iqn());
        }
        for (TargetDefinition other : targets.targets()) {
            for (LunDefinition l : other.luns()) {
                if (l.volume().equals(lun.volume())) {
                    throw new AdminException("volume " + lun.volume() + " is already LUN " + l.id() + " of " + other.iqn());
                }
            }
        }
        return save(t.withLun(lun));
    }

    public synchronized TargetDefinition removeLun(String iqn, int lun) throws AdminException, IOException {
        TargetDefinition t = get(iqn);
        lun(t, lun);
        return save(t.withoutLun(lun));
    }

    /** Changes a LUN's capacity; shrinking is refused because it would cut off written data. */
    public synchronized TargetDefinition resizeLun(String iqn, int lun, long newSize) throws AdminException, IOException {
        TargetDefinition t = get(iqn);
        LunDefinition l = lun(t, lun);
        if (newSize < l.size()) {
            throw new AdminException("LUN " + lun + " is " + l.size() + " bytes; shrinking to " + newSize
                    + " would cut off data and is not supported");
        }
        return save(t.withLun(l.withSize(newSize)));
    }

    /** The LUN or a refusal naming it. */
    public static LunDefinition lun(TargetDefinition t, int lun) throws AdminException {
        return t.lun(lun).orElseThrow(() -> new AdminException("no LUN " + lun + " in " + t.iqn()));
    }

    public synchronized TargetDefinition addPortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        TargetDefinition t = get(iqn);
        if (t.portalGroup(tag).map(g -> g.portals().contains(portal)).orElse(false)) {
            throw new AdminException("portal " + portal + " is already in portal group " + tag);
        }
        return save(t.withPortalGroup(tag, g -> {
            List<HostPort> p = new ArrayList<>(g.portals());
            p.add(portal);
            return new PortalGroup(tag, p);
        }));
    }

    public synchronized TargetDefinition removePortal(String iqn, int tag, HostPort portal)
            throws AdminException, IOException {
        TargetDefinition t = get(iqn);
        PortalGroup g = t.portalGroup(tag).orElseThrow(() -> new AdminException("no portal group " + tag + " in " + iqn));
        if (!g.portals().contains(portal)) {
            throw new AdminException("portal " + portal + " is not in portal group " + tag
                    + (g.portals().isEmpty() ? " (it uses the server's portals)" : ""));
        }
        return save(t.withPortalGroup(tag, x -> new PortalGroup(tag,
                x.portals().stream().filter(p -> !p.equals(portal)).toList())));
    }

    /** Adds or replaces an ACL; a replacement without CHAP keeps the old ACL's CHAP. */
    public synchronized TargetDefinition addAcl(String iqn, AclDefinition acl) throws AdminException, IOException {
        TargetDefinition t = get(iqn);
        AclDefinition a = new AclDefinition(IscsiName.normalize(acl.initiator()), acl.mappedLuns(), acl.writeProtect(),
                acl.chap());
        AclDefinition old = t.acl(a.initiator()).orElse(null);
        return save(t.withAcl(a.chap() == null && old != null ? a.withChap(old.chap()) : a));
    }

    public synchronized TargetDefinition removeAcl(String iqn, String initiator) throws AdminException, IOException {
        TargetDefinition t = get(iqn);
        acl(t, initiator);
        return save(t.withoutAcl(initiator));
    }

    private static AclDefinition acl(TargetDefinition t, String initiator) throws AdminException {
        if (initiator == null) {
            throw new AdminException("an initiator name is required");
        }
        return t.acl(initiator).orElseThrow(() -> new AdminException("no ACL for " + initiator + " in " + t.iqn()));
    }

    /** Sets CHAP of one scope; {@code chap} null clears it. */
    public synchronized TargetDefinition setChap(String iqn, ChapScope scope, String initiator, ChapCredentials chap)
            throws AdminException, IOException {
        TargetDefinition t = get(iqn);
        TargetDefinition changed = switch (scope) {
            case TARGET -> t.withChap(chap);
            case DISCOVERY -> t.withDiscoveryChap(chap);
            case ACL -> t.withAcl(acl(t, initiator).withChap(chap));
        };
        return save(changed);
    }
}
