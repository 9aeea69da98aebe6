package io.orion.dedup.iscsi;

import java.util.List;
import java.util.Optional;

/**
 * The targets this server offers. Consulted at every login and SendTargets request, so targets
 * may be added, removed or changed at runtime. Implementations must be thread-safe and quick.
 */
public interface TargetCatalog {

    /** All targets, in the order SendTargets lists them. */
    List<IscsiTargetInfo> targets();

    /** The target with this iSCSI name (names compare case-insensitively, RFC 3722 §6). */
    Optional<IscsiTargetInfo> find(String iqn);

    /** A fixed catalog, handy for tests and single-target setups. */
    static TargetCatalog of(List<IscsiTargetInfo> targets) {
        List<IscsiTargetInfo> copy = List.copyOf(targets);
        return new TargetCatalog() {
            @Override
            public List<IscsiTargetInfo> targets() {
                return copy;
            }

            @Override
            public Optional<IscsiTargetInfo> find(String iqn) {
                return copy.stream().filter(t -> t.name().equalsIgnoreCase(iqn)).findFirst();
            }
        };
    }
}
