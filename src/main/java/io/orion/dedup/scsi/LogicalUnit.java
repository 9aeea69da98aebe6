package io.orion.dedup.scsi;

import io.orion.dedup.blockdev.BlockDevice;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The state of one logical unit that outlives a command: its device and options, current mode
 * parameters, unit attentions per I_T nexus (SAM-5 §5.14), the SCSI-2 reservation (SPC-2 §7.21)
 * and persistent reservations (SPC-4 §5.9).
 *
 * <p>Concurrency: mode bits are volatile; unit attention queues and the reservation are guarded by
 * this object's monitor. All methods are short and never do I/O.
 */
final class LogicalUnit {

    /** Control mode page defaults (SPC-4 §7.5.8). */
    static final boolean DEFAULT_WCE = true;

    final long lun;
    final BlockDevice device;
    final LunOptions options;
    final PersistentReservations pr;
    final TaskSet tasks = new TaskSet();
    /** Results of this LU's third-party copies, for RECEIVE COPY RESULTS / ROD TOKEN INFORMATION. */
    final CopyResults copyResults = new CopyResults();

    /**
     * Third-party copies (sent to another LUN) using this LU as source or destination right now: a
     * LUN being removed waits for them too ({@link ScsiTargetService#awaitIdle}).
     */
    final java.util.concurrent.atomic.AtomicInteger copyUsers = new java.util.concurrent.atomic.AtomicInteger();

    volatile boolean wce = DEFAULT_WCE;
    volatile boolean dSense;
    volatile boolean swp;
    volatile boolean preventRemoval;

    private final Map<Nexus, Deque<SenseReason>> attentions = new ConcurrentHashMap<>();
    private Nexus reservedBy;

    /** A SANITIZE runs: other commands get NOT READY, SANITIZE IN PROGRESS (SBC-4 §4.11). */
    volatile boolean sanitizing;
    /**
     * The last SANITIZE failed: medium access gets MEDIUM ERROR, SANITIZE COMMAND FAILED until a
     * SANITIZE succeeds (or EXIT FAILURE MODE, if the failed one had AUSE set) (SBC-4 §4.11).
     */
    volatile boolean sanitizeFailed;
    /** The AUSE bit of the last SANITIZE that started an operation. */
    volatile boolean sanitizeAuse;
    /** The soft threshold was reached and reported; re-armed when usage falls below it. */
    private boolean spaceWarned;
    private long spaceCheckedAt;
    /** How often {@link #checkSpace} looks at the device's provisioning figures. */
    static volatile long spaceCheckNanos = 100_000_000L;

    LogicalUnit(long lun, BlockDevice device, LunOptions options) {
        this.lun = lun;
        this.device = device;
        this.options = options;
        this.pr = new PersistentReservations();
    }

    /** With {@code prStore}: persistent reservations saved with APTPL are restored from it. */
    LogicalUnit(long lun, BlockDevice device, LunOptions options, PrStore prStore) throws java.io.IOException {
        this.lun = lun;
        this.device = device;
        this.options = options;
        this.pr = new PersistentReservations(prStore);
    }

    /** True when writes must fail with DATA PROTECT: read-only LUN or SWP set in the control page. */
    boolean writeProtected() {
        return options.readOnly() || swp;
    }

    // ---- soft threshold (SBC-4 §4.7.3.7) --------------------------------------------------------

    /** The device's soft threshold in percent, 0 when it has none (or its figures are unavailable). */
    int warningPercent() {
        try {
            return device.provisioning().warningPercent();
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /**
     * Looks at the device's provisioning figures (at most every {@link #spaceCheckNanos}): when the
     * used space reaches the soft threshold, every nexus that knows this LU gets THIN PROVISIONING
     * SOFT THRESHOLD REACHED once; the threshold re-arms only after usage falls below it again.
     */
    void checkSpace() {
        long now = System.nanoTime();
        synchronized (this) {
            if (spaceCheckedAt != 0 && now - spaceCheckedAt < spaceCheckNanos) {
                return;
            }
            spaceCheckedAt = now == 0 ? 1 : now;
        }
        boolean above;
        try {
            above = device.provisioning().aboveWarning();
        } catch (IOException | RuntimeException e) {
            return;
        }
        synchronized (this) {
            if (above && !spaceWarned) {
                spaceWarned = true;
                raise(SenseReason.THIN_PROVISIONING_SOFT_THRESHOLD_REACHED, null);
            } else if (!above && spaceWarned) {
                spaceWarned = false;
            }
        }
    }

    // ---- unit attentions -------------------------------------------------------------------

    /** Registers the nexus on first sight with a POWER ON, RESET UA; returns its queue. */
    synchronized void seen(Nexus nexus) {
        attentions.computeIfAbsent(nexus, n -> {
            Deque<SenseReason> q = new ArrayDeque<>();
            q.add(SenseReason.POWER_ON_RESET);
            return q;
        });
    }

    /** Takes the oldest pending unit attention for {@code nexus}, or null. */
    synchronized SenseReason takeAttention(Nexus nexus) {
        Deque<SenseReason> q = attentions.get(nexus);
        return q == null ? null : q.pollFirst();
    }

    synchronized SenseReason peekAttention(Nexus nexus) {
        Deque<SenseReason> q = attentions.get(nexus);
        return q == null ? null : q.peekFirst();
    }

    synchronized void clearAttention(Nexus nexus, SenseReason reason) {
        Deque<SenseReason> q = attentions.get(nexus);
        if (q != null) {
            q.remove(reason);
        }
    }

    /** Establishes {@code reason} for every known nexus except {@code except} (may be null). */
    synchronized void raise(SenseReason reason, Nexus except) {
        for (Map.Entry<Nexus, Deque<SenseReason>> e : attentions.entrySet()) {
            if (e.getKey().equals(except)) {
                continue;
            }
            raiseOn(e.getValue(), reason);
        }
    }

    synchronized void raiseFor(Nexus nexus, SenseReason reason) {
        Deque<SenseReason> q = attentions.get(nexus);
        if (q != null) {
            raiseOn(q, reason);
        }
    }

    private static void raiseOn(Deque<SenseReason> q, SenseReason reason) {
        if (reason == SenseReason.POWER_ON_RESET || reason == SenseReason.BUS_DEVICE_RESET) {
            // A reset supersedes every older condition (SAM-5 §5.14).
            q.clear();
            q.add(reason);
        } else if (!q.contains(reason)) {
            q.add(reason);
        }
    }

    synchronized Iterable<Nexus> knownNexuses() {
        return java.util.List.copyOf(attentions.keySet());
    }

    // ---- SCSI-2 reservations -----------------------------------------------------------------

    synchronized Nexus reservedBy() {
        return reservedBy;
    }

    /** RESERVE: true on success (also when {@code nexus} already holds it). */
    synchronized boolean reserve(Nexus nexus) {
        if (reservedBy != null && !reservedBy.equals(nexus)) {
            return false;
        }
        reservedBy = nexus;
        return true;
    }

    /** RELEASE: releases only if {@code nexus} holds it; otherwise a no-op (SPC-2 §7.17). */
    synchronized void release(Nexus nexus) {
        if (nexus.equals(reservedBy)) {
            reservedBy = null;
        }
    }

    // ---- events ----------------------------------------------------------------------------

    /** The nexus went away: its reservation is released, its unit attentions forgotten. */
    synchronized void nexusLost(Nexus nexus) {
        if (nexus.equals(reservedBy)) {
            reservedBy = null;
        }
        attentions.remove(nexus);
        copyResults.forget(nexus);
    }

    /**
     * A logical unit reset (SAM-5 §6.3.3), as part of a LOGICAL UNIT RESET (SAM-5 §7.7) or a target
     * reset: the SCSI-2 reservation is released, mode state returns to its defaults and a unit
     * attention {@code reason} is established for every I_T nexus that knows this LU, the one that
     * asked for the reset included. Persistent reservations are not affected.
     */
    synchronized void reset(SenseReason reason) {
        reservedBy = null;
        preventRemoval = false;
        wce = DEFAULT_WCE;
        dSense = false;
        swp = false;
        raise(reason, null);
    }
}
