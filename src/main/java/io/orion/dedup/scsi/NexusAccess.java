package io.orion.dedup.scsi;

import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The per-nexus access table of one target: which logical units an initiator sees and which of
 * them it may only read. LUN masking lives here, in the SCSI core, as LIO keeps its node ACLs'
 * mapped LUNs (each with its own write-protect flag) in the target core: REPORT LUNS lists only the
 * LUNs a nexus sees, any other command to a LUN it does not see is answered exactly as for a LUN
 * that does not exist (INQUIRY with peripheral qualifier 011b, else LOGICAL UNIT NOT SUPPORTED),
 * and a LUN it may only read answers DATA PROTECT, WRITE PROTECTED (SBC-4 §4.12) to every command
 * that changes the medium, while MODE SENSE shows WP (SBC-4 §6.5.1).
 *
 * <p>The server fills the table from its ACLs ({@link #replace}) whenever they change; the table is
 * read at each command, so a change applies to the next command. Entries are keyed by initiator
 * node name, compared case-insensitively (iSCSI names are, RFC 3722): an ACL is per initiator node,
 * so every I_T nexus of that node (each session, each path) gets the same view. An initiator without
 * an entry sees every LUN read-write (no ACL: the login layer decides whether it may log in at all).
 * The LUN numbers are the target's own: ACLs do not renumber LUNs, so the table maps none.
 *
 * <p>Threads: replaced as a whole (a volatile immutable map), read lock-free by every command.
 */
public final class NexusAccess {

    /**
     * What one initiator may do.
     *
     * @param luns the LUN numbers it sees; null: every LUN of the target
     * @param readOnly the LUN numbers it may only read; null: every LUN it sees
     */
    public record View(Set<Long> luns, Set<Long> readOnly) {

        /** Every LUN, read-write. */
        public static final View ALL = new View(null, Set.of());

        public View {
            luns = luns == null ? null : Set.copyOf(luns);
            readOnly = readOnly == null ? null : Set.copyOf(readOnly);
        }

        /** An ACL's view: {@code mapped} empty = every LUN; {@code writeProtect}: all of them read-only. */
        public static View of(Collection<Integer> mapped, boolean writeProtect) {
            Set<Long> luns = mapped.isEmpty() ? null : mapped.stream().map(Integer::longValue).collect(Collectors.toSet());
            return new View(luns, writeProtect ? null : Set.of());
        }

        public boolean sees(long lun) {
            return luns == null || luns.contains(lun);
        }

        public boolean readOnly(long lun) {
            return readOnly == null || readOnly.contains(lun);
        }
    }

    private volatile Map<String, View> views = Map.of();

    /** Replaces the whole table: initiator node name → its view. */
    public void replace(Map<String, View> byInitiator) {
        views = byInitiator.entrySet().stream().collect(Collectors.toUnmodifiableMap(e -> key(e.getKey()),
                Map.Entry::getValue, (a, b) -> b));
    }

    private static String key(String initiatorName) {
        return initiatorName == null ? "" : initiatorName.strip().toLowerCase(Locale.ROOT);
    }

    public View view(Nexus nexus) {
        return views.getOrDefault(key(nexus.initiatorName()), View.ALL);
    }

    /** True when {@code nexus} sees LUN number {@code lun} (whether or not the LUN exists). */
    public boolean sees(Nexus nexus, long lun) {
        return view(nexus).sees(lun);
    }

    /** True when {@code nexus} may only read LUN number {@code lun}. */
    public boolean readOnly(Nexus nexus, long lun) {
        return view(nexus).readOnly(lun);
    }

    /** The LUNs among {@code luns} that {@code nexus} sees, in ascending order. */
    java.util.List<Long> visible(Nexus nexus, Collection<Long> luns) {
        View v = view(nexus);
        TreeSet<Long> out = new TreeSet<>();
        for (long lun : luns) {
            if (v.sees(lun)) {
                out.add(lun);
            }
        }
        return java.util.List.copyOf(out);
    }
}
