package io.orion.dedup.scsi;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Persistent reservation state of one logical unit (SPC-4 §5.9): registered I_T nexuses with their
 * reservation keys, and the reservation (holder and type), if any.
 *
 * <p>Concurrency: guarded by this object's monitor.
 */
final class PersistentReservations {

    private final Map<Nexus, Long> registrations = new LinkedHashMap<>();
    private Nexus holder;
    private int type;
    private int generation;

    /** True when any registration exists: SCSI-2 RESERVE/RELEASE then conflict (SPC-4 §5.9.3). */
    synchronized boolean active() {
        return !registrations.isEmpty();
    }

    synchronized Map<Nexus, Long> registrations() {
        return new LinkedHashMap<>(registrations);
    }

    synchronized Nexus holder() {
        return holder;
    }

    synchronized int type() {
        return type;
    }

    synchronized int generation() {
        return generation;
    }
}
