package io.orion.dedup.scsi;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Persistent reservation state of one logical unit (SPC-4 §5.9): the registered I_T nexuses with
 * their reservation keys, the PR generation, and the reservation (holder and type), if any.
 * Registrations survive nexus loss; they are not persisted across restarts (PTPL_C is 0).
 *
 * <p>Concurrency: guarded by this object's monitor. Methods return the nexuses that must see a
 * unit attention; the caller establishes them outside this monitor.
 */
final class PersistentReservations {

    /** Reservation types (SPC-4 §6.16.3.4, Table 171). */
    static final int WRITE_EXCLUSIVE = 1;
    static final int EXCLUSIVE_ACCESS = 3;
    static final int WRITE_EXCLUSIVE_RO = 5;
    static final int EXCLUSIVE_ACCESS_RO = 6;
    static final int WRITE_EXCLUSIVE_AR = 7;
    static final int EXCLUSIVE_ACCESS_AR = 8;

    /** How a command is affected by a persistent reservation (SPC-4 §5.9.1, Table 43). */
    enum Access { ALWAYS, READ, WRITE }

    /** A registered nexus and its key, in registration order. */
    record Registration(Nexus nexus, long key) {
    }

    /** A reservation: its holder (null for all-registrants types) and type. */
    record Reservation(Nexus holder, int type) {
        boolean allRegistrants() {
            return type == WRITE_EXCLUSIVE_AR || type == EXCLUSIVE_ACCESS_AR;
        }
    }

    private final Map<Nexus, Long> registrations = new LinkedHashMap<>();
    private Reservation reservation;
    private int generation;

    static boolean validType(int type) {
        return type == WRITE_EXCLUSIVE || type == EXCLUSIVE_ACCESS || type == WRITE_EXCLUSIVE_RO
                || type == EXCLUSIVE_ACCESS_RO || type == WRITE_EXCLUSIVE_AR || type == EXCLUSIVE_ACCESS_AR;
    }

    /** True when any registration exists: SCSI-2 RESERVE/RELEASE then conflict (SPC-4 §5.9.3). */
    synchronized boolean active() {
        return !registrations.isEmpty();
    }

    synchronized int generation() {
        return generation;
    }

    synchronized List<Registration> registrations() {
        List<Registration> out = new ArrayList<>();
        registrations.forEach((n, k) -> out.add(new Registration(n, k)));
        return out;
    }

    synchronized Reservation reservation() {
        return reservation;
    }

    synchronized Long keyOf(Nexus nexus) {
        return registrations.get(nexus);
    }

    /** True if {@code nexus} holds the reservation (any registrant, for all-registrants types). */
    synchronized boolean isHolder(Nexus nexus) {
        if (reservation == null) {
            return false;
        }
        return reservation.allRegistrants() ? registrations.containsKey(nexus) : nexus.equals(reservation.holder());
    }

    /** Whether a command of class {@code access} from {@code nexus} conflicts (SPC-4 Table 43). */
    synchronized boolean conflicts(Nexus nexus, Access access) {
        if (reservation == null || access == Access.ALWAYS || isHolder(nexus)) {
            return false;
        }
        boolean registered = registrations.containsKey(nexus);
        return switch (reservation.type()) {
            case WRITE_EXCLUSIVE -> access == Access.WRITE;
            case EXCLUSIVE_ACCESS -> true;
            case WRITE_EXCLUSIVE_RO, WRITE_EXCLUSIVE_AR -> !registered && access == Access.WRITE;
            case EXCLUSIVE_ACCESS_RO, EXCLUSIVE_ACCESS_AR -> !registered;
            default -> true;
        };
    }

    /** Outcome of a PERSISTENT RESERVE OUT service action. */
    enum Result { GOOD, CONFLICT, INVALID_RELEASE, INVALID_PARAMETER }

    /** REGISTER / REGISTER AND IGNORE EXISTING KEY (SPC-4 §5.9.5). */
    synchronized Result register(Nexus nexus, long key, long newKey, boolean ignoreExisting, List<Nexus> ua) {
        Long current = registrations.get(nexus);
        if (current == null) {
            if (!ignoreExisting && key != 0) {
                return Result.CONFLICT;
            }
            if (newKey != 0) {
                registrations.put(nexus, newKey);
                generation++;
            }
            return Result.GOOD;
        }
        if (!ignoreExisting && current != key) {
            return Result.CONFLICT;
        }
        if (newKey == 0) {
            unregister(nexus, ua);
        } else {
            registrations.put(nexus, newKey);
        }
        generation++;
        return Result.GOOD;
    }

    /** Removes a registration; releases the reservation it held (SPC-4 §5.9.11.2). */
    private void unregister(Nexus nexus, List<Nexus> releasedUa) {
        registrations.remove(nexus);
        if (reservation == null) {
            return;
        }
        if (reservation.allRegistrants()) {
            if (registrations.isEmpty()) {
                reservation = null;
            }
        } else if (nexus.equals(reservation.holder())) {
            int type = reservation.type();
            reservation = null;
            if (type == WRITE_EXCLUSIVE_RO || type == EXCLUSIVE_ACCESS_RO) {
                releasedUa.addAll(registrations.keySet());
            }
        }
    }

    private boolean keyMatches(Nexus nexus, long key) {
        Long current = registrations.get(nexus);
        return current != null && current == key;
    }

    /** RESERVE (SPC-4 §5.9.7). */
    synchronized Result reserve(Nexus nexus, long key, int type) {
        if (!keyMatches(nexus, key)) {
            return Result.CONFLICT;
        }
        if (reservation == null) {
            reservation = new Reservation(nexus, type);
            return Result.GOOD;
        }
        if (isHolder(nexus) && reservation.type() == type) {
            return Result.GOOD;
        }
        return Result.CONFLICT;
    }

    /** RELEASE (SPC-4 §5.9.11.2); {@code ua} receives registrants to notify. */
    synchronized Result release(Nexus nexus, long key, int type, List<Nexus> ua) {
        if (!keyMatches(nexus, key)) {
            return Result.CONFLICT;
        }
        if (reservation == null || !isHolder(nexus)) {
            return Result.GOOD;
        }
        if (reservation.type() != type) {
            return Result.INVALID_RELEASE;
        }
        int old = reservation.type();
        reservation = null;
        if (old != WRITE_EXCLUSIVE && old != EXCLUSIVE_ACCESS) {
            for (Nexus n : registrations.keySet()) {
                if (!n.equals(nexus)) {
                    ua.add(n);
                }
            }
        }
        return Result.GOOD;
    }

    /** CLEAR (SPC-4 §5.9.11.6); {@code ua} receives the other registrants. */
    synchronized Result clear(Nexus nexus, long key, List<Nexus> ua) {
        if (!keyMatches(nexus, key)) {
            return Result.CONFLICT;
        }
        for (Nexus n : registrations.keySet()) {
            if (!n.equals(nexus)) {
                ua.add(n);
            }
        }
        registrations.clear();
        reservation = null;
        generation++;
        return Result.GOOD;
    }

    /** PREEMPT (SPC-4 §5.9.11.4); {@code ua} receives the nexuses whose registrations were removed. */
    synchronized Result preempt(Nexus nexus, long key, long victim, int type, List<Nexus> ua) {
        if (!keyMatches(nexus, key)) {
            return Result.CONFLICT;
        }
        if (reservation != null && reservation.allRegistrants()) {
            if (victim == 0) {
                for (Nexus n : new ArrayList<>(registrations.keySet())) {
                    if (!n.equals(nexus)) {
                        registrations.remove(n);
                        ua.add(n);
                    }
                }
                reservation = new Reservation(nexus, type);
                generation++;
                return Result.GOOD;
            }
            removeKey(nexus, victim, ua);
            if (ua.isEmpty()) {
                return Result.CONFLICT;
            }
            generation++;
            return Result.GOOD;
        }
        if (reservation != null && registrations.get(reservation.holder()) != null
                && registrations.get(reservation.holder()) == victim) {
            removeKey(nexus, victim, ua);
            reservation = new Reservation(nexus, type);
            generation++;
            return Result.GOOD;
        }
        if (victim == 0) {
            return Result.INVALID_PARAMETER;
        }
        removeKey(nexus, victim, ua);
        if (ua.isEmpty()) {
            return Result.CONFLICT;
        }
        generation++;
        return Result.GOOD;
    }

    private void removeKey(Nexus issuer, long victim, List<Nexus> removed) {
        for (Map.Entry<Nexus, Long> e : new ArrayList<>(registrations.entrySet())) {
            if (e.getValue() == victim && !e.getKey().equals(issuer)) {
                registrations.remove(e.getKey());
                removed.add(e.getKey());
            }
        }
    }
}
