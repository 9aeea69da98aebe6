package io.orion.dedup.iscsi.session;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The session's command numbering window (RFC 7143 §3.2.2.1, §4.2.2.1): non-immediate requests are
 * delivered in CmdSN order; a CmdSN outside [ExpCmdSN, MaxCmdSN] (serial arithmetic, RFC 1982) is
 * silently dropped. MaxCmdSN = ExpCmdSN - 1 + depth - active, never decreasing, where active counts
 * delivered SCSI commands that have not finished.
 *
 * <p>Thread-safe: connections of one session may run on different event loops.
 */
public final class CmdSnWindow {

    /** What {@link #offer} decided. */
    public enum Verdict { DELIVER, QUEUED, DROP }

    private record Pending(Runnable action, boolean counts) {
    }

    private final int depth;
    private int expCmdSN;
    private int maxCmdSN;
    private int active;
    private final Map<Integer, Pending> pending = new HashMap<>();

    public CmdSnWindow(int initialCmdSN, int depth) {
        this.depth = depth;
        this.expCmdSN = initialCmdSN;
        this.maxCmdSN = initialCmdSN + depth - 1;
    }

    /** True if a - b &gt; 0 in 32-bit serial number arithmetic. */
    public static boolean after(int a, int b) {
        return a - b > 0;
    }

    /** Whether {@code cmdSN} lies in [ExpCmdSN, MaxCmdSN]. */
    public synchronized boolean inWindow(int cmdSN) {
        return cmdSN - expCmdSN >= 0 && maxCmdSN - cmdSN >= 0;
    }

    /**
     * Offers a non-immediate request. When it is the next expected one, it and any queued
     * successors are appended to {@code runNow} in order (the caller runs them outside any lock).
     *
     * @param counts true for SCSI commands, which occupy a queue slot until {@link #finished()}
     */
    public Verdict offer(int cmdSN, boolean counts, Runnable action, List<Runnable> runNow) {
        synchronized (this) {
            if (!(cmdSN - expCmdSN >= 0 && maxCmdSN - cmdSN >= 0) || pending.containsKey(cmdSN)) {
                return Verdict.DROP;
            }
            if (cmdSN != expCmdSN) {
                pending.put(cmdSN, new Pending(action, counts));
                return Verdict.QUEUED;
            }
            runNow.add(action);
            advance(counts);
            Pending next;
            while ((next = pending.remove(expCmdSN)) != null) {
                runNow.add(next.action());
                advance(next.counts());
            }
            return Verdict.DELIVER;
        }
    }

    /** Marks {@code cmdSN} as received without delivering anything (RFC 7143 §11.5.1 ABORT TASK case b). */
    public synchronized void consume(int cmdSN, List<Runnable> runNow) {
        if (!(cmdSN - expCmdSN >= 0 && maxCmdSN - cmdSN >= 0) || pending.containsKey(cmdSN)) {
            return;
        }
        pending.put(cmdSN, new Pending(() -> { }, false));
        Pending next;
        while ((next = pending.remove(expCmdSN)) != null) {
            runNow.add(next.action());
            advance(next.counts());
        }
    }

    private void advance(boolean counts) {
        expCmdSN++;
        if (counts) {
            active++;
        }
        recompute();
    }

    /** A delivered SCSI command finished: its slot opens again. */
    public synchronized void finished() {
        active--;
        recompute();
    }

    private void recompute() {
        int candidate = expCmdSN - 1 + depth - Math.max(active, 0);
        if (candidate - maxCmdSN > 0) {
            maxCmdSN = candidate;
        }
    }

    public synchronized int expCmdSN() {
        return expCmdSN;
    }

    public synchronized int maxCmdSN() {
        return maxCmdSN;
    }

    /** Both values at once: ExpCmdSN in the high 32 bits, MaxCmdSN in the low 32 bits. */
    public synchronized long snapshot() {
        return ((long) expCmdSN << 32) | (maxCmdSN & 0xffffffffL);
    }

    public synchronized int active() {
        return active;
    }
}
