package io.orion.dedup.config;

import java.util.List;

/**
 * A node ACL: an initiator allowed to log in to the target, what it sees and how it authenticates.
 *
 * @param initiator the initiator's iSCSI name (RFC 7143 §4.2.7), lower case
 * @param mappedLuns LUNs this initiator sees; empty means all of the target's LUNs
 * @param writeProtect writes from this initiator fail with DATA PROTECT
 * @param chap CHAP this initiator must pass, or null to use the target-wide {@code [chap]} (or none)
 */
public record AclDefinition(String initiator, List<Integer> mappedLuns, boolean writeProtect, ChapCredentials chap) {

    public AclDefinition {
        mappedLuns = List.copyOf(mappedLuns);
    }

    /** True if this initiator sees LUN {@code lun}. */
    public boolean maps(int lun) {
        return mappedLuns.isEmpty() || mappedLuns.contains(lun);
    }

    /** A copy with CHAP secrets masked. */
    public AclDefinition masked() {
        return new AclDefinition(initiator, mappedLuns, writeProtect, chap == null ? null : chap.masked());
    }

    /** A copy with other CHAP credentials (null clears them). */
    public AclDefinition withChap(ChapCredentials c) {
        return new AclDefinition(initiator, mappedLuns, writeProtect, c);
    }
}
