package io.orion.dedup.config;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * One iSCSI target as defined in {@code targets/<name>.toml}: its name (RFC 7143 §4.2.7), portal
 * groups (§3.4.1), LUNs, node ACLs, CHAP (§12.1.3) and attributes. Immutable; the {@code with...}
 * methods return changed copies, which the server validates with {@link #problems()} and saves with
 * {@link TargetDirectory#save}.
 *
 * @param iqn the target name, lower case
 * @param alias TargetAlias (RFC 7143 §13.6), or null
 * @param portalGroups at least one portal group
 * @param luns the logical units, in LUN order
 * @param acls node ACLs, one per initiator
 * @param chap target-wide CHAP (used with demo mode, and as fallback for ACLs without CHAP), or null
 * @param discoveryChap CHAP a discovery session must pass to see this target in SendTargets, or null
 * @param attributes authentication, demo mode, queue depth
 */
public record TargetDefinition(
        String iqn,
        String alias,
        List<PortalGroup> portalGroups,
        List<LunDefinition> luns,
        List<AclDefinition> acls,
        ChapCredentials chap,
        ChapCredentials discoveryChap,
        TargetAttributes attributes) {

    /**
     * A validation finding.
     *
     * @param key the key path as in the TOML file ({@code lun[1].size}, {@code acl[0].chap.secret})
     * @param message what is wrong
     */
    public record Problem(String key, String message) {
        @Override
        public String toString() {
            return key + ": " + message;
        }
    }

    public TargetDefinition {
        portalGroups = List.copyOf(portalGroups);
        luns = luns.stream().sorted((a, b) -> Integer.compare(a.id(), b.id())).toList();
        acls = List.copyOf(acls);
        if (attributes == null) {
            attributes = TargetAttributes.defaults();
        }
    }

    /** A new target as {@code target create} makes it: portal group 1, no LUNs, no ACLs. */
    public static TargetDefinition create(String iqn, String alias, boolean demoMode) {
        return new TargetDefinition(IscsiName.normalize(iqn), alias, List.of(PortalGroup.serverDefault()),
                List.of(), List.of(), null, null, new TargetAttributes(false, demoMode, 0));
    }

    /** Every problem with this definition; empty when valid. */
    public List<Problem> problems() {
        List<Problem> out = new ArrayList<>();
        String nameProblem = IscsiName.problem(iqn);
        if (nameProblem != null) {
            out.add(new Problem("iqn", nameProblem));
        } else if (!iqn.startsWith("iqn.") && !iqn.startsWith("eui.") && !iqn.startsWith("naa.")) {
            out.add(new Problem("iqn", "not an iSCSI name"));
        }
        if (alias != null && alias.length() > 255) {
            out.add(new Problem("alias", "at most 255 characters"));
        }
        if (portalGroups.isEmpty()) {
            out.add(new Problem("portal_group", "at least one portal group is required"));
        }
        Set<Integer> tags = new HashSet<>();
        for (int i = 0; i < portalGroups.size(); i++) {
            int tag = portalGroups.get(i).tag();
            if (tag < 1 || tag > 65535) {
                out.add(new Problem("portal_group[" + i + "].tag", "out of range 1..65535"));
            } else if (!tags.add(tag)) {
                out.add(new Problem("portal_group[" + i + "].tag", "portal group " + tag + " defined twice"));
            }
        }
        Set<Integer> ids = new HashSet<>();
        Set<String> volumes = new HashSet<>();
        for (int i = 0; i < luns.size(); i++) {
            lunProblems(out, "lun[" + i + "].", luns.get(i), ids, volumes);
        }
        Set<String> initiators = new HashSet<>();
        for (int i = 0; i < acls.size(); i++) {
            AclDefinition acl = acls.get(i);
            String p = "acl[" + i + "].";
            String np = IscsiName.problem(acl.initiator());
            if (np != null) {
                out.add(new Problem(p + "initiator", np));
            } else if (!initiators.add(acl.initiator())) {
                out.add(new Problem(p + "initiator", "ACL for " + acl.initiator() + " defined twice"));
            }
            for (int lun : acl.mappedLuns()) {
                if (!ids.contains(lun)) {
                    out.add(new Problem(p + "mapped_luns", "LUN " + lun + " does not exist in this target"));
                }
            }
            if (acl.chap() != null) {
                out.addAll(acl.chap().problems(p + "chap."));
            }
        }
        if (chap != null) {
            out.addAll(chap.problems("chap."));
        }
        if (discoveryChap != null) {
            out.addAll(discoveryChap.problems("discovery_chap."));
        }
        int depth = attributes.queueDepth();
        if (depth < 0 || depth > 1024) {
            out.add(new Problem("attributes.queue_depth", "out of range 0..1024 (0 = server default)"));
        }
        if (attributes.authentication() && chap == null) {
            if (attributes.demoMode()) {
                out.add(new Problem("attributes.authentication",
                        "authentication with demo_mode needs target-wide [chap] credentials"));
            } else {
                for (int i = 0; i < acls.size(); i++) {
                    if (acls.get(i).chap() == null) {
                        out.add(new Problem("acl[" + i + "].chap",
                                "authentication is required but this ACL has no CHAP and the target has no [chap]"));
                    }
                }
            }
        }
        return out;
    }

    private static void lunProblems(List<Problem> out, String p, LunDefinition l, Set<Integer> ids, Set<String> volumes) {
        if (l.id() < 0 || l.id() > LunDefinition.MAX_ID) {
            out.add(new Problem(p + "id", "out of range 0.." + LunDefinition.MAX_ID));
        } else if (!ids.add(l.id())) {
            out.add(new Problem(p + "id", "LUN " + l.id() + " defined twice"));
        }
        if (!LunDefinition.validVolumeName(l.volume())) {
            out.add(new Problem(p + "volume", "a volume name is 1..64 of A-Z a-z 0-9 . _ - (not starting with '.')"));
        } else if (!volumes.add(l.volume())) {
            out.add(new Problem(p + "volume", "volume " + l.volume() + " used twice"));
        }
        if (l.blockSize() != 512 && l.blockSize() != 4096) {
            out.add(new Problem(p + "block_size", "must be 512 or 4096"));
        } else if (l.size() < l.blockSize() || l.size() > LunDefinition.MAX_SIZE) {
            out.add(new Problem(p + "size", "out of range " + l.blockSize() + " bytes..1PiB"));
        } else if (l.size() % l.blockSize() != 0) {
            out.add(new Problem(p + "size", "must be a multiple of the block size " + l.blockSize()));
        }
        if (l.dedupBlockSize() != 0 && !DedupSettings.validBlockSize(l.dedupBlockSize())) {
            out.add(new Problem(p + "dedup_block_size", "must be 4096, 8192, 16384, 32768 or 65536"));
        }
        if (l.backing() == null) {
            out.add(new Problem(p + "backing", "must be \"dedup\", \"file\" or \"ram\""));
        } else if (l.backing() == LunBacking.DEDUP && !l.thin()) {
            out.add(new Problem(p + "thin", "a dedup volume is always thin; use backing = \"file\" for a thick LUN"));
        } else if (l.path() != null && l.backing() != LunBacking.FILE) {
            out.add(new Problem(p + "path", "only a backing = \"file\" LUN has a path"));
        } else if (l.dedup() != null && l.backing() != LunBacking.DEDUP) {
            out.add(new Problem(p + "dedup", "only a backing = \"dedup\" LUN has a dedup mode"));
        }
    }

    /** A copy safe to show: every CHAP secret masked. */
    public TargetDefinition masked() {
        return new TargetDefinition(iqn, alias, portalGroups, luns, acls.stream().map(AclDefinition::masked).toList(),
                chap == null ? null : chap.masked(), discoveryChap == null ? null : discoveryChap.masked(), attributes);
    }

    /** The LUN with this id. */
    public Optional<LunDefinition> lun(int id) {
        return luns.stream().filter(l -> l.id() == id).findFirst();
    }

    /** The ACL of this initiator. */
    public Optional<AclDefinition> acl(String initiator) {
        String n = IscsiName.normalize(initiator);
        return acls.stream().filter(a -> a.initiator().equals(n)).findFirst();
    }

    /** The portal group with this tag. */
    public Optional<PortalGroup> portalGroup(int tag) {
        return portalGroups.stream().filter(g -> g.tag() == tag).findFirst();
    }

    /** A copy with {@code lun} added or replacing the LUN of the same id. */
    public TargetDefinition withLun(LunDefinition lun) {
        List<LunDefinition> l = new ArrayList<>(luns);
        l.removeIf(x -> x.id() == lun.id());
        l.add(lun);
        return new TargetDefinition(iqn, alias, portalGroups, l, acls, chap, discoveryChap, attributes);
    }

    /** A copy without LUN {@code id} (and without it in ACL mappings). */
    public TargetDefinition withoutLun(int id) {
        List<LunDefinition> l = new ArrayList<>(luns);
        l.removeIf(x -> x.id() == id);
        List<AclDefinition> a = acls.stream().map(acl -> acl.mappedLuns().contains(id)
                ? new AclDefinition(acl.initiator(), acl.mappedLuns().stream().filter(x -> x != id).toList(),
                        acl.writeProtect(), acl.chap())
                : acl).toList();
        return new TargetDefinition(iqn, alias, portalGroups, l, a, chap, discoveryChap, attributes);
    }

    /** A copy with {@code acl} added or replacing the ACL of the same initiator. */
    public TargetDefinition withAcl(AclDefinition acl) {
        List<AclDefinition> a = new ArrayList<>(acls);
        int i = indexOfAcl(acl.initiator());
        if (i >= 0) {
            a.set(i, acl);
        } else {
            a.add(acl);
        }
        return new TargetDefinition(iqn, alias, portalGroups, luns, a, chap, discoveryChap, attributes);
    }

    /** A copy without the ACL of {@code initiator}. */
    public TargetDefinition withoutAcl(String initiator) {
        List<AclDefinition> a = new ArrayList<>(acls);
        String n = IscsiName.normalize(initiator);
        a.removeIf(x -> x.initiator().equals(n));
        return new TargetDefinition(iqn, alias, portalGroups, luns, a, chap, discoveryChap, attributes);
    }

    private int indexOfAcl(String initiator) {
        for (int i = 0; i < acls.size(); i++) {
            if (acls.get(i).initiator().equals(initiator)) {
                return i;
            }
        }
        return -1;
    }

    /** A copy with portal group {@code tag} transformed (created empty first when missing). */
    public TargetDefinition withPortalGroup(int tag, UnaryOperator<PortalGroup> change) {
        List<PortalGroup> g = new ArrayList<>(portalGroups);
        int i = 0;
        while (i < g.size() && g.get(i).tag() != tag) {
            i++;
        }
        if (i == g.size()) {
            g.add(new PortalGroup(tag, List.of()));
        }
        g.set(i, change.apply(g.get(i)));
        return new TargetDefinition(iqn, alias, g, luns, acls, chap, discoveryChap, attributes);
    }

    /** A copy with other target-wide CHAP (null clears it). */
    public TargetDefinition withChap(ChapCredentials c) {
        return new TargetDefinition(iqn, alias, portalGroups, luns, acls, c, discoveryChap, attributes);
    }

    /** A copy with other discovery CHAP (null clears it). */
    public TargetDefinition withDiscoveryChap(ChapCredentials c) {
        return new TargetDefinition(iqn, alias, portalGroups, luns, acls, chap, c, attributes);
    }

    /** A copy with other attributes. */
    public TargetDefinition withAttributes(TargetAttributes a) {
        return new TargetDefinition(iqn, alias, portalGroups, luns, acls, chap, discoveryChap, a);
    }
}
