package io.orion.dedup.scsi;

import io.orion.dedup.scsi.PrState.Registration;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Persistent reservation state of one logical unit (SPC-4 §5.14): registrations (an I_T nexus, or
 * with ALL_TG_PT every target port of an initiator port, or with a format 00b TransportID every
 * initiator port of an initiator name) with their keys, the reservation, the PR generation and the
 * APTPL flag. With APTPL = 1 every change is saved through the logical unit's {@link PrStore}
 * before the command completes, and the state is restored when the LU is created again after a
 * restart (SPC-4 §5.14.5); with APTPL = 0 it lives in memory and is lost at restart.
 *
 * <p>Concurrency: the current {@link PrState} is an immutable published version read without
 * locks (every command's conflict check reads it). PERSISTENT RESERVE OUT service actions are
 * serialised by {@link #writeLock}: each works on a copy, saves it when needed, and publishes it
 * only after the save succeeded — a failed save changes nothing. Methods return the registrations
 * that must see a unit attention; the caller establishes them.
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

    /** Outcome of a PERSISTENT RESERVE OUT service action. */
    enum Result { GOOD, CONFLICT, INVALID_RELEASE, INVALID_PARAMETER, INVALID_TRANSPORT_ID, INVALID_CDB }

    /** A service action applied to a copy of the state; adds registrations to notify to {@code ua}. */
    @FunctionalInterface
    interface Change {
        Result apply(PrState s, List<Registration> ua);
    }

    private final PrStore store;
    private final Object writeLock = new Object();
    private volatile PrState current = new PrState();

    PersistentReservations() {
        this.store = PrStore.NONE;
    }

    /**
     * @param store where APTPL state is kept; its saved state is restored here when it was saved
     *              with APTPL = 1
     * @throws IOException if the saved state cannot be read or is damaged
     */
    PersistentReservations(PrStore store) throws IOException {
        this.store = store;
        byte[] image = store.load();
        if (image != null) {
            PrState saved = PrState.decode(image);
            if (saved.aptpl) {
                current = saved;
            }
        }
    }

    static boolean validType(int type) {
        return type == WRITE_EXCLUSIVE || type == EXCLUSIVE_ACCESS || type == WRITE_EXCLUSIVE_RO
                || type == EXCLUSIVE_ACCESS_RO || type == WRITE_EXCLUSIVE_AR || type == EXCLUSIVE_ACCESS_AR;
    }

    /** PTPL_C: whether APTPL = 1 can be honoured on this LU. */
    boolean canPersist() {
        return store.persistent();
    }

    /** The current state (never modified; read it once per command for a consistent view). */
    PrState snapshot() {
        return current;
    }

    /** True when any registration exists: SCSI-2 RESERVE/RELEASE then conflict (SPC-4 §5.9.3). */
    boolean active() {
        return !current.registrations.isEmpty();
    }

    /** Whether a command of class {@code access} from {@code nexus} conflicts (SPC-4 Table 43). */
    boolean conflicts(Nexus nexus, Access access) {
        PrState s = current;
        if (!s.reserved() || access == Access.ALWAYS) {
            return false;
        }
        Registration r = s.registrationOf(nexus);
        if (s.holds(r)) {
            return false;
        }
        boolean registered = r != null;
        return switch (s.type) {
            case WRITE_EXCLUSIVE -> access == Access.WRITE;
            case EXCLUSIVE_ACCESS -> true;
            case WRITE_EXCLUSIVE_RO, WRITE_EXCLUSIVE_AR -> !registered && access == Access.WRITE;
            case EXCLUSIVE_ACCESS_RO, EXCLUSIVE_ACCESS_AR -> !registered;
            default -> true;
        };
    }

    /**
     * Applies {@code change} to a copy of the state; when it succeeds and APTPL is (or was) set, the
     * new state is saved (or, APTPL turned off, the saved one removed) before it is published.
     *
     * @throws IOException if saving failed: the state is unchanged
     */
    Result apply(Change change, List<Registration> ua) throws IOException {
        synchronized (writeLock) {
            PrState before = current;
            PrState next = before.copy();
            List<Registration> notify = new ArrayList<>();
            Result r = change.apply(next, notify);
            if (r != Result.GOOD) {
                return r;
            }
            if (store.persistent() && (next.aptpl || before.aptpl)) {
                byte[] image = next.aptpl ? next.encode() : null;
                boolean same = image != null && before.aptpl && java.util.Arrays.equals(image, before.encode());
                if (!same) {
                    store.save(image);
                }
            }
            current = next;
            ua.addAll(notify);
            return r;
        }
    }

    // ---- service actions (SPC-4 §5.14.7 - §5.14.11), each on a copy of the state ----------------

    /**
     * REGISTER / REGISTER AND IGNORE EXISTING KEY (SPC-4 §5.14.7); {@code others} are the
     * registrations SPEC_I_PT asked for (null without SPEC_I_PT), already carrying {@code newKey}.
     */
    static Change register(Nexus nexus, long key, long newKey, boolean ignoreExisting, boolean allTgPt,
                           boolean aptpl, List<Registration> others) {
        List<Registration> specified = others == null ? List.of() : others;
        return (s, ua) -> {
            Registration current = s.registrationOf(nexus);
            if (current == null) {
                if (!ignoreExisting && key != 0) {
                    return Result.CONFLICT;
                }
                if (newKey == 0) {
                    return Result.GOOD; // nothing to register
                }
                Registration mine = Registration.of(nexus, allTgPt, newKey);
                List<Registration> added = new ArrayList<>();
                added.add(mine);
                for (Registration o : specified) {
                    if (o.matches(nexus)) {
                        continue; // the issuing I_T nexus itself: registered anyway
                    }
                    for (Registration r : s.registrations) {
                        if (r.overlaps(o)) {
                            return Result.INVALID_TRANSPORT_ID; // already registered (SPC-4 §5.14.7)
                        }
                    }
                    for (Registration r : added) {
                        if (r.overlaps(o)) {
                            return Result.INVALID_TRANSPORT_ID; // named twice
                        }
                    }
                    added.add(o);
                }
                s.registrations.addAll(added);
                s.generation++;
                s.aptpl = aptpl;
                return Result.GOOD;
            }
            if (!ignoreExisting && current.key != key) {
                return Result.CONFLICT;
            }
            if (others != null) {
                return Result.INVALID_CDB; // SPEC_I_PT from a registered I_T nexus (SPC-4 Table 47)
            }
            if (newKey == 0) {
                unregister(s, current, ua);
            } else {
                current.key = newKey;
            }
            s.generation++;
            s.aptpl = aptpl;
            return Result.GOOD;
        };
    }

    /** Removes a registration; releases the reservation it held (SPC-4 §5.14.11.2.2). */
    private static void unregister(PrState s, Registration r, List<Registration> releasedUa) {
        s.registrations.remove(r);
        if (!s.reserved()) {
            return;
        }
        if (s.allRegistrants()) {
            if (s.registrations.isEmpty()) {
                s.type = 0;
            }
        } else if (r == s.holder) {
            int type = s.type;
            s.type = 0;
            s.holder = null;
            if (type == WRITE_EXCLUSIVE_RO || type == EXCLUSIVE_ACCESS_RO) {
                releasedUa.addAll(s.registrations);
            }
        }
    }

    private static Registration keyed(PrState s, Nexus nexus, long key) {
        Registration r = s.registrationOf(nexus);
        return r != null && r.key == key ? r : null;
    }

    private static void reserveFor(PrState s, Registration r, int type) {
        s.type = type;
        s.holder = s.allRegistrants() ? null : r;
    }

    /** RESERVE (SPC-4 §5.14.9). */
    static Change reserve(Nexus nexus, long key, int type) {
        return (s, ua) -> {
            Registration r = keyed(s, nexus, key);
            if (r == null) {
                return Result.CONFLICT;
            }
            if (!s.reserved()) {
                reserveFor(s, r, type);
                return Result.GOOD;
            }
            return s.holds(r) && s.type == type ? Result.GOOD : Result.CONFLICT;
        };
    }

    /** RELEASE (SPC-4 §5.14.11.2); {@code ua} receives registrants to notify. */
    static Change release(Nexus nexus, long key, int type) {
        return (s, ua) -> {
            Registration r = keyed(s, nexus, key);
            if (r == null) {
                return Result.CONFLICT;
            }
            if (!s.reserved() || !s.holds(r)) {
                return Result.GOOD;
            }
            if (s.type != type) {
                return Result.INVALID_RELEASE;
            }
            int old = s.type;
            s.type = 0;
            s.holder = null;
            if (old != WRITE_EXCLUSIVE && old != EXCLUSIVE_ACCESS) {
                for (Registration o : s.registrations) {
                    if (o != r) {
                        ua.add(o);
                    }
                }
            }
            return Result.GOOD;
        };
    }

    /** CLEAR (SPC-4 §5.14.11.6); {@code ua} receives the other registrants. */
    static Change clear(Nexus nexus, long key) {
        return (s, ua) -> {
            Registration r = keyed(s, nexus, key);
            if (r == null) {
                return Result.CONFLICT;
            }
            for (Registration o : s.registrations) {
                if (o != r) {
                    ua.add(o);
                }
            }
            s.registrations.clear();
            s.type = 0;
            s.holder = null;
            s.generation++;
            return Result.GOOD;
        };
    }

    /** PREEMPT (SPC-4 §5.14.11.4); {@code ua} receives the registrations removed. */
    static Change preempt(Nexus nexus, long key, long victim, int type) {
        return (s, ua) -> {
            Registration me = keyed(s, nexus, key);
            if (me == null) {
                return Result.CONFLICT;
            }
            if (s.reserved() && s.allRegistrants()) {
                if (victim == 0) {
                    for (Registration o : new ArrayList<>(s.registrations)) {
                        if (o != me) {
                            s.registrations.remove(o);
                            ua.add(o);
                        }
                    }
                    reserveFor(s, me, type);
                    s.generation++;
                    return Result.GOOD;
                }
                if (!removeKey(s, me, victim, ua)) {
                    return Result.CONFLICT;
                }
                s.generation++;
                return Result.GOOD;
            }
            if (s.reserved() && s.holder.key == victim) {
                removeKey(s, me, victim, ua);
                reserveFor(s, me, type);
                s.generation++;
                return Result.GOOD;
            }
            if (victim == 0) {
                return Result.INVALID_PARAMETER;
            }
            if (!removeKey(s, me, victim, ua)) {
                return Result.CONFLICT;
            }
            s.generation++;
            return Result.GOOD;
        };
    }

    private static boolean removeKey(PrState s, Registration issuer, long victim, List<Registration> removed) {
        boolean any = false;
        for (Registration r : new ArrayList<>(s.registrations)) {
            if (r.key == victim && r != issuer) {
                s.registrations.remove(r);
                if (r == s.holder) {
                    s.holder = null;
                    s.type = 0;
                }
                removed.add(r);
                any = true;
            }
        }
        return any;
    }

    /**
     * REGISTER AND MOVE (SPC-4 §5.14.8): the reservation held through {@code nexus} moves to the
     * I_T nexus {@code dest} names (registered with {@code newKey}); with {@code unreg} the issuing
     * I_T nexus is unregistered. The reservation keeps its type; the CDB's TYPE is ignored.
     */
    static Change registerAndMove(Nexus nexus, long key, long newKey, Registration dest, boolean unreg,
                                  boolean aptpl) {
        return (s, ua) -> {
            Registration me = keyed(s, nexus, key);
            if (me == null) {
                return Result.CONFLICT;
            }
            if (newKey == 0) {
                return Result.INVALID_PARAMETER;
            }
            if (dest.matches(nexus) || me.overlaps(dest)) {
                return Result.INVALID_TRANSPORT_ID; // the destination is the issuing I_T nexus
            }
            if (!s.reserved()) {
                return Result.INVALID_CDB;
            }
            if (s.allRegistrants() || !s.holds(me)) {
                return Result.CONFLICT;
            }
            Registration target = null;
            for (Registration r : s.registrations) {
                if (r.overlaps(dest)) {
                    target = r;
                    break;
                }
            }
            if (target == null) {
                target = dest;
                s.registrations.add(target);
            }
            target.key = newKey;
            s.holder = target;
            if (unreg) {
                s.registrations.remove(me);
            }
            s.generation++;
            s.aptpl = aptpl;
            return Result.GOOD;
        };
    }
}
