package io.orion.dedup.admin;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.IscsiName;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.PortalGroup;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.config.TargetDirectory;
import java.util.ArrayList;
import java.util.List;

/**
 * Computes the target definition an admin command asks for, without saving anything: each method
 * checks the request against the current definitions and returns the changed, fully validated
 * definition, or refuses with an admin-readable {@link AdminException}. {@link TargetEditor}
 * saves the result at once; {@link TargetAdminService} first applies it to the live server.
 */
public final class TargetChanges {

    private final TargetDirectory targets;

    public TargetChanges(TargetDirectory targets) {
        this.targets = targets;
    }

    /** The current definition of a target. */
    public TargetDefinition get(String iqn) throws AdminException {
        if (iqn == null) {
            throw new AdminException("a target name is required");
        }
        return targets.find(iqn).orElseThrow(() -> new AdminException(AdminError.NOT_FOUND, "no such target: " + iqn));
    }

    /** The LUN or a refusal naming it. */
    public static LunDefinition lun(TargetDefinition t, int lun) throws AdminException {
        return t.lun(lun).orElseThrow(() -> new AdminException(AdminError.NOT_FOUND, "no LUN " + lun + " in " + t.iqn()));
    }

    /** The ACL or a refusal naming it. */
    public static AclDefinition acl(TargetDefinition t, String initiator) throws AdminException {
        if (initiator == null) {
            throw new AdminException("an initiator name is required");
        }
        return t.acl(initiator).orElseThrow(() -> new AdminException(AdminError.NOT_FOUND, "no ACL for " + initiator + " in " + t.iqn()));
    }

    /**
     * Validates a definition as a whole and against the other targets (volume names are unique
     * in the server).
     */
    public TargetDefinition validate(TargetDefinition t) throws AdminException {
        List<TargetDefinition.Problem> problems = t.problems();
        if (!problems.isEmpty()) {
            TargetDefinition.Problem p = problems.get(0);
            throw new AdminException(AdminError.INVALID_VALUE, p.key().replace("attributes.", "") + ": " + p.message(),
                    java.util.Map.of("field", p.key().replace("attributes.", "")));
        }
        for (TargetDefinition other : targets.targets()) {
            if (other.iqn().equals(t.iqn())) {
                continue;
            }
            for (LunDefinition l : t.luns()) {
                for (LunDefinition o : other.luns()) {
                    if (o.volume().equals(l.volume())) {
                        throw new AdminException(AdminError.ALREADY_EXISTS, "volume " + l.volume() + " is already LUN " + o.id() + " of " + other.iqn());
                    }
                }
            }
        }
        return t;
    }

    public TargetDefinition createTarget(String iqn, String alias, boolean demoMode) throws AdminException {
        if (iqn == null) {
            throw new AdminException("a target name is required");
        }
        String name = IscsiName.normalize(iqn);
        String problem = IscsiName.problem(name);
        if (problem != null) {
            throw new AdminException(AdminError.INVALID_VALUE, iqn + ": " + problem, java.util.Map.of("field", "iqn"));
        }
        if (targets.find(name).isPresent()) {
            throw new AdminException(AdminError.ALREADY_EXISTS, "target " + name + " already exists");
        }
        return validate(TargetDefinition.create(name, alias, demoMode));
    }

    public TargetDefinition setAttributes(String iqn, TargetAttributes attributes) throws AdminException {
        return validate(get(iqn).withAttributes(attributes));
    }

    public TargetDefinition addLun(String iqn, LunDefinition lun) throws AdminException {
        TargetDefinition t = get(iqn);
        if (t.lun(lun.id()).isPresent()) {
            throw new AdminException(AdminError.ALREADY_EXISTS, "LUN " + lun.id() + " already exists in " + t.iqn());
        }
        return validate(t.withLun(lun));
    }

    public TargetDefinition removeLun(String iqn, int lun) throws AdminException {
        TargetDefinition t = get(iqn);
        lun(t, lun);
        return validate(t.withoutLun(lun));
    }

    /** Changes a LUN's capacity; shrinking is refused because it would cut off written data. */
    public TargetDefinition resizeLun(String iqn, int lun, long newSize) throws AdminException {
        TargetDefinition t = get(iqn);
        LunDefinition l = lun(t, lun);
        if (newSize < l.size()) {
            throw new AdminException("LUN " + lun + " is " + l.size() + " bytes; shrinking to " + newSize
                    + " would cut off data and is not supported");
        }
        return validate(t.withLun(l.withSize(newSize)));
    }

    public TargetDefinition addPortal(String iqn, int tag, HostPort portal) throws AdminException {
        TargetDefinition t = get(iqn);
        if (t.portalGroup(tag).map(g -> g.portals().contains(portal)).orElse(false)) {
            throw new AdminException(AdminError.ALREADY_EXISTS, "portal " + portal + " is already in portal group " + tag);
        }
        return validate(t.withPortalGroup(tag, g -> {
            List<HostPort> p = new ArrayList<>(g.portals());
            p.add(portal);
            return new PortalGroup(tag, p);
        }));
    }

    public TargetDefinition removePortal(String iqn, int tag, HostPort portal) throws AdminException {
        TargetDefinition t = get(iqn);
        PortalGroup g = t.portalGroup(tag).orElseThrow(() -> new AdminException(AdminError.NOT_FOUND, "no portal group " + tag + " in " + iqn));
        if (!g.portals().contains(portal)) {
            throw new AdminException(AdminError.NOT_FOUND, "portal " + portal + " is not in portal group " + tag
                    + (g.portals().isEmpty() ? " (it uses the server's portals)" : ""));
        }
        return validate(t.withPortalGroup(tag, x -> new PortalGroup(tag,
                x.portals().stream().filter(p -> !p.equals(portal)).toList())));
    }

    /** Adds or replaces an ACL; a replacement without CHAP keeps the old ACL's CHAP. */
    public TargetDefinition addAcl(String iqn, AclDefinition acl) throws AdminException {
        TargetDefinition t = get(iqn);
        if (acl.initiator() == null) {
            throw new AdminException("an initiator name is required");
        }
        AclDefinition a = new AclDefinition(IscsiName.normalize(acl.initiator()), acl.mappedLuns(), acl.writeProtect(),
                acl.chap());
        AclDefinition old = t.acl(a.initiator()).orElse(null);
        return validate(t.withAcl(a.chap() == null && old != null ? a.withChap(old.chap()) : a));
    }

    public TargetDefinition removeAcl(String iqn, String initiator) throws AdminException {
        TargetDefinition t = get(iqn);
        acl(t, initiator);
        return validate(t.withoutAcl(initiator));
    }

    /** Sets CHAP of one scope; {@code chap} null clears it. */
    public TargetDefinition setChap(String iqn, ChapScope scope, String initiator, ChapCredentials chap)
            throws AdminException {
        TargetDefinition t = get(iqn);
        if (scope == null) {
            throw new AdminException("a CHAP scope is required");
        }
        return validate(switch (scope) {
            case TARGET -> t.withChap(chap);
            case DISCOVERY -> t.withDiscoveryChap(chap);
            case ACL -> t.withAcl(acl(t, initiator).withChap(chap));
        });
    }
}
