package io.orion.dedup.scsi;

import io.orion.dedup.logging.RateLimitedLog;
import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.IoBatch;
import io.orion.dedup.blockdev.OutOfSpaceException;
import io.orion.dedup.blockdev.ReadOnlyVolumeException;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SCSI command layer of one target (SAM-5, SPC-4, SBC-4): its logical units, per-nexus unit
 * attentions, reservations and the opcode table.
 *
 * <p>Flow of {@link #execute}: on the caller's thread, find the LU, note a new I_T nexus (it gets a
 * POWER ON, RESET unit attention), look up the opcode, report a pending unit attention, check
 * reservations, then parse (decode, validate, range check). The parsed executor runs on the I/O
 * executor; its outcome — data, a {@link SenseException}, or an {@link IOException} (MEDIUM ERROR;
 * {@link ReadOnlyVolumeException} becomes DATA PROTECT, {@link OutOfSpaceException} DATA PROTECT / SPACE
 * ALLOCATION FAILED WRITE PROTECT) — completes the future, which never completes
 * exceptionally.
 *
 * <p>Threads: callers (transport threads) and the I/O pool. LU and nexus state are concurrent maps
 * and small monitors; nothing blocks the caller.
 */
public final class ScsiTargetService implements ScsiTarget, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ScsiTargetService.class);
    /**
     * Refused writes (read-only or full volume) and I/O errors repeat with every command an
     * initiator sends: per LUN and kind, 5 lines per 10 s, the rest counted in a summary line.
     */
    private final RateLimitedLog refusals = new RateLimitedLog(LOG, 5, java.util.concurrent.TimeUnit.SECONDS.toNanos(10));

    private final String targetName;
    /** Which LUNs each nexus sees and which it may only read (LUN masking, filled from the ACLs). */
    private final NexusAccess access = new NexusAccess();
    /** Commands in flight per LUN number (the counters stay; there are at most 16384). */
    private final ConcurrentMap<Long, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    /** The target's port groups, one target port each ({@link #targetPortGroups(Supplier)}). */
    private volatile Supplier<int[]> portGroups = () -> new int[] {1};
    private final ExecutorService io;
    private final boolean ownsIo;
    private final CommandTable table = new CommandTable();
    private final ConcurrentMap<Long, LogicalUnit> units = new ConcurrentHashMap<>();
    /** LUs removed and not yet awaited ({@link #awaitIdle} also waits for copies using them). */
    private final ConcurrentMap<Long, LogicalUnit> removed = new ConcurrentHashMap<>();
    private volatile CopyManager copies = new CopyManager();

    /**
     * @param targetName the target's iSCSI name (used in the device identification VPD page)
     * @param io executor for block I/O; null to create an own {@link BlockIoExecutor} (shut down by
     *     {@link #close})
     */
    public ScsiTargetService(String targetName, ExecutorService io) {
        this.targetName = targetName;
        refusals.who(targetName);
        if (io == null) {
            this.io = new BlockIoExecutor(Math.max(4, Runtime.getRuntime().availableProcessors() * 2), 64, "scsi-io-");
            this.ownsIo = true;
        } else {
            this.io = io;
            this.ownsIo = false;
        }
    }

    public String targetName() {
        return targetName;
    }

    CommandTable table() {
        return table;
    }

    /**
     * Shares {@code manager} with the server's other targets, so third-party copies (EXTENDED COPY,
     * WRITE USING TOKEN) may name their LUNs; until called, this target has a manager of its own.
     */
    public void useCopyManager(CopyManager manager) {
        CopyManager old = copies;
        copies = manager;
        units.values().forEach(lu -> {
            old.unregister(lu);
            manager.register(lu, targetName);
        });
    }

    CopyManager copies() {
        return copies;
    }

    // ---- LUN management ----------------------------------------------------------------------

    /**
     * The per-nexus access table (LUN masking, read-only LUNs); until filled, every nexus sees every
     * LUN read-write. Adding or removing a LUN raises REPORTED LUNS DATA HAS CHANGED only for the
     * nexuses that see that LUN number: the others' inventory did not change.
     */
    public NexusAccess access() {
        return access;
    }

    /** Names the target's port groups (the iSCSI portal group tags) for REPORT TARGET PORT GROUPS. */
    public void targetPortGroups(Supplier<int[]> tags) {
        portGroups = tags;
    }

    int[] targetPortGroups() {
        return portGroups.get();
    }

    /**
     * REPORTED LUNS DATA HAS CHANGED (SPC-4 §7.9) for the nexuses {@code who} selects, on every LUN
     * they have addressed: their view of the inventory changed (an ACL's mapped LUNs, for instance).
     */
    public void reportedLunsChanged(Predicate<Nexus> who) {
        for (LogicalUnit lu : units.values()) {
            for (Nexus n : lu.knownNexuses()) {
                if (who.test(n)) {
                    lu.raiseFor(n, SenseReason.REPORTED_LUNS_DATA_CHANGED);
                }
            }
        }
    }

    /** Adds a logical unit; every nexus that sees it gets REPORTED LUNS DATA HAS CHANGED. */
    public void addLun(long lun, BlockDevice device, LunOptions options) {
        try {
            addLun(lun, device, options, PrStore.NONE);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // PrStore.NONE has nothing to read
        }
    }

    /**
     * Adds a logical unit whose persistent reservations are kept in {@code prStore} (SPC-4 §5.14.5):
     * state saved there with APTPL = 1 is restored now.
     *
     * @throws IOException if the saved reservations cannot be read (the LU is not added)
     */
    public void addLun(long lun, BlockDevice device, LunOptions options, PrStore prStore) throws IOException {
        if (lun < 0 || lun > 16383) {
            throw new IllegalArgumentException("LUN out of range 0..16383: " + lun);
        }
        LogicalUnit lu = new LogicalUnit(lun, device, options == null ? LunOptions.defaults() : options, prStore);
        if (units.putIfAbsent(lun, lu) != null) {
            throw new IllegalStateException("LUN " + lun + " already exists");
        }
        copies.register(lu, targetName);
        lunsChanged(lun);
    }

    /** Removes a logical unit (the device is not closed: its owner closes it). */
    public void removeLun(long lun) {
        LogicalUnit lu = units.remove(lun);
        if (lu != null) {
            removed.put(lun, lu);
            copies.unregister(lu);
            lunsChanged(lun);
        }
    }

    /** The device behind {@code lun} changed capacity: CAPACITY DATA HAS CHANGED for every nexus. */
    public void lunResized(long lun) {
        LogicalUnit lu = units.get(lun);
        if (lu != null) {
            lu.raise(SenseReason.CAPACITY_DATA_CHANGED, null);
        }
    }

    /**
     * The device behind {@code lun} holds other contents (a rollback): NOT READY TO READY CHANGE,
     * MEDIUM MAY HAVE CHANGED (SPC-4 §7.9 / SBC-4 §4.8) for every nexus, so hosts drop cached data.
     */
    public void lunMediumChanged(long lun) {
        LogicalUnit lu = units.get(lun);
        if (lu != null) {
            copies().changing(lu, 0, 0); // its ROD tokens named the old contents
            lu.raise(SenseReason.MEDIUM_MAY_HAVE_CHANGED, null);
        }
    }

    /** What replaces the contents of a LUN's device (a rollback); see {@link #replaceContents}. */
    @FunctionalInterface
    public interface ContentsSwap<T> {
        T swap() throws IOException;
    }

    /**
     * Runs {@code swap}, which gives the device behind {@code lun} other contents, then reports the
     * medium change ({@link #lunMediumChanged}). The LU's ROD tokens are revoked before the swap, so
     * a WRITE USING TOKEN reading during it fails (its check after each read), and again after it.
     */
    public <T> T replaceContents(long lun, ContentsSwap<T> swap) throws IOException {
        LogicalUnit lu = units.get(lun);
        if (lu != null) {
            copies().changing(lu, 0, 0);
        }
        T result = swap.swap();
        lunMediumChanged(lun);
        return result;
    }

    public Set<Long> luns() {
        return Set.copyOf(units.keySet());
    }

    List<Long> sortedLuns() {
        return new ArrayList<>(new TreeSet<>(units.keySet()));
    }

    /** The LUNs {@code nexus} sees, ascending (REPORT LUNS). */
    List<Long> sortedLuns(Nexus nexus) {
        return access.visible(nexus, units.keySet());
    }

    private void lunsChanged(long lun) {
        reportedLunsChanged(n -> access.sees(n, lun));
    }

    /**
     * Waits until no command addressed to {@code lun} is in flight, nor a third-party copy sent to
     * another LUN that resolved this one, at most {@code timeout}.
     * Called after {@link #removeLun}, so no new command can reach its device — the way LIO waits
     * for a LUN's outstanding commands before it releases the LUN. Returns false on timeout.
     */
    public boolean awaitIdle(long lun, Duration timeout) throws InterruptedException {
        AtomicInteger n = inFlight.get(lun);
        LogicalUnit lu = removed.remove(lun);
        AtomicInteger c = lu == null ? null : lu.copyUsers; // EXTENDED COPY sent to another LUN
        long deadline = System.nanoTime() + timeout.toNanos();
        while ((n != null && n.get() > 0) || (c != null && c.get() > 0)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    // ---- command execution -------------------------------------------------------------------

    /**
     * Runs a command, counted as in flight on its LUN until its response is ready (so a LUN being
     * removed can wait for the commands already under way, {@link #awaitIdle}).
     */
    @Override
    public CompletableFuture<ScsiResponse> execute(ScsiCommand command, IoBatch batch) {
        AtomicInteger n = inFlight.computeIfAbsent(command.lun(), k -> new AtomicInteger());
        n.incrementAndGet();
        CompletableFuture<ScsiResponse> f;
        try {
            f = dispatch(command, batch);
        } catch (RuntimeException e) {
            n.decrementAndGet();
            throw e;
        }
        f.whenComplete((r, t) -> n.decrementAndGet());
        return f;
    }

    private CompletableFuture<ScsiResponse> dispatch(ScsiCommand command, IoBatch batch) {
        // a LUN the nexus does not see is answered exactly as one that does not exist
        LogicalUnit lu = access.sees(command.nexus(), command.lun()) ? units.get(command.lun()) : null;
        boolean desc = lu != null && lu.dSense;
        CommandSpec spec = null;
        CommandSpec.Executor exec;
        try {
            if (lu != null) {
                lu.seen(command.nexus());
            }
            spec = table.lookup(command.cdb());
            if (!BlockCommands.supported(lu, spec.opcode())) {
                throw SenseReason.INVALID_COMMAND_OPERATION_CODE.ex(); // not on this LU's device
            }
            byte[] cdb = command.cdb();
            if (cdb.length < spec.usage().length) {
                throw SenseException.cdb(cdb.length - 1, -1);
            }
            if ((cdb[spec.usage().length - 1] & 0x04) != 0) {
                throw SenseException.cdb(spec.usage().length - 1, 2); // NACA: ACA is not supported
            }
            if (lu == null && !spec.has(CommandSpec.NO_LUN_OK)) {
                throw SenseReason.LOGICAL_UNIT_NOT_SUPPORTED.ex();
            }
            checkDirection(command, spec);
            if (lu != null && spec.changesMedium() && access.readOnly(command.nexus(), command.lun())) {
                throw SenseReason.WRITE_PROTECTED.ex(); // before unit attentions, as LIO's LUN lookup
            }
            if (lu != null && lu.sanitizing && !spec.has(CommandSpec.UA_EXEMPT)) {
                throw SenseReason.SANITIZE_IN_PROGRESS.ex(); // SBC-4 §4.11.2
            }
            if (lu != null && lu.sanitizeFailed && SanitizeCommands.mediumAccess(spec)) {
                throw SenseReason.SANITIZE_COMMAND_FAILED.ex(); // SBC-4 §4.11: sanitize failure
            }
            if (lu != null) {
                lu.checkSpace(); // the soft threshold's unit attention (SBC-4 §4.7.3.7.3)
            }
            if (lu != null && !spec.has(CommandSpec.UA_EXEMPT)) {
                SenseReason ua = lu.takeAttention(command.nexus());
                if (ua != null) {
                    return CompletableFuture.completedFuture(
                            Responses.check(SenseData.build(ua, desc), edtlOut(command)));
                }
            }
            if (lu != null && !spec.has(CommandSpec.CONFLICT_EXEMPT)) {
                Nexus holder = lu.reservedBy();
                if (holder != null && !holder.equals(command.nexus())) {
                    return CompletableFuture.completedFuture(Responses.conflict(edtlOut(command)));
                }
            }
            if (lu != null && lu.pr.conflicts(command.nexus(), spec.access())) {
                return CompletableFuture.completedFuture(Responses.conflict(edtlOut(command)));
            }
            exec = spec.parser().parse(new Request(command, lu, this));
        } catch (SenseException e) {
            return CompletableFuture.completedFuture(Responses.check(SenseData.build(e, desc), edtlOut(command)));
        } catch (RuntimeException e) {
            LOG.error("parsing {} failed", describe(command), e);
            return CompletableFuture.completedFuture(Responses.check(
                    SenseData.build(SenseReason.INTERNAL_TARGET_FAILURE, desc), edtlOut(command)));
        }
        boolean writes = spec.has(CommandSpec.WRITES);
        CompletableFuture<ScsiResponse> f = new CompletableFuture<>();
        Runnable task = () -> {
            try {
                if (exec instanceof CommandSpec.AsyncExecutor async) {
                    // a burst of writes goes to one I/O thread and shares one commit (IoBatch; a
                    // command admitted later, after an ordered one, runs on its own)
                    IoBatch.submit(batch, io, scope -> start(command, lu, async, writes, scope).whenComplete((r, ex) -> {
                        ScsiResponse out = ex == null ? r : outcome(command, lu, unwrap(ex), writes);
                        if (!f.complete(out)) {
                            out.releaseData();
                        }
                    }), async.lightBytes());
                    return;
                }
                io.execute(() -> {
                    ScsiResponse r = run(command, lu, exec, writes);
                    if (!f.complete(r)) {
                        r.releaseData();
                    }
                });
            } catch (RejectedExecutionException e) {
                f.complete(new ScsiResponse(ScsiResponse.BUSY, null, null, edtlOut(command)));
            }
        };
        if (lu == null) {
            task.run();
        } else {
            lu.tasks.admit(command.attribute(), f).whenComplete((v, t) -> task.run());
        }
        return f;
    }

    private ScsiResponse run(ScsiCommand command, LogicalUnit lu, CommandSpec.Executor exec, boolean writes) {
        try {
            return exec.run();
        } catch (IOException | RuntimeException | Error e) {
            return outcome(command, lu, unwrap(e), writes);
        }
    }

    private CompletableFuture<ScsiResponse> start(ScsiCommand command, LogicalUnit lu,
                                                  CommandSpec.AsyncExecutor exec, boolean writes,
                                                  IoBatch.Scope scope) {
        try {
            return exec.start(scope);
        } catch (IOException | RuntimeException | Error e) {
            return CompletableFuture.completedFuture(outcome(command, lu, e, writes));
        }
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** The response for a command whose work threw {@code failure}. */
    private ScsiResponse outcome(ScsiCommand command, LogicalUnit lu, Throwable failure, boolean writes) {
        boolean desc = lu != null && lu.dSense;
        if (failure instanceof SenseException e) {
            return Responses.check(SenseData.build(e, desc), edtlOut(command));
        }
        if (failure instanceof ReadOnlyVolumeException e) {
            refusals.warn("read-only, lun " + command.lun(), "{} refused, volume is read-only: {}", describe(command),
                    e.getMessage());
            return Responses.check(SenseData.build(SenseReason.WRITE_PROTECTED, desc), edtlOut(command));
        }
        if (failure instanceof OutOfSpaceException e) {
            refusals.warn("out of space, lun " + command.lun(), "{} refused, out of space: {}", describe(command),
                    e.getMessage());
            return Responses.check(SenseData.build(SenseReason.SPACE_ALLOCATION_FAILED_WRITE_PROTECT, desc),
                    edtlOut(command));
        }
        if (failure instanceof IOException) {
            refusals.error("I/O error, lun " + command.lun(), "{} failed with an I/O error", describe(command), failure);
            SenseReason r = writes ? SenseReason.WRITE_ERROR : SenseReason.UNRECOVERED_READ_ERROR;
            return Responses.check(SenseData.build(r, desc), edtlOut(command));
        }
        LOG.error("{} failed", describe(command), failure);
        return Responses.check(SenseData.build(SenseReason.INTERNAL_TARGET_FAILURE, desc), edtlOut(command));
    }

    /**
     * The transport's data direction must fit the CDB (SAM-5 §5.4.3, RFC 7143 §11.3.1) whenever
     * the expected length is not zero: a command whose data comes from the initiator needs the W
     * bit, else it would answer GOOD without writing anything; one whose data goes to the
     * initiator needs R or W (with neither bit the transport has nothing to carry, RFC 7143 "MUST
     * NOT both be 0"). Both end with ILLEGAL REQUEST, INVALID FIELD IN CDB, as LIO answers. A READ
     * flagged as a write (W=1, R=0) is still answered GOOD without Data-In: libiscsi's conformance
     * test iSCSIResiduals.Read10Invalid requires exactly that. A length that differs from the
     * CDB's in the right direction is a residual, not an error.
     */
    private static void checkDirection(ScsiCommand command, CommandSpec spec) {
        if (command.expectedDataTransferLength() == 0) {
            return;
        }
        boolean wrong = (spec.has(CommandSpec.DATA_OUT) && !command.write())
                || (spec.has(CommandSpec.DATA_IN) && !command.read() && !command.write());
        if (wrong) {
            LOG.debug("{} ({}) with R={} W={}: data direction does not fit the CDB", describe(command), spec.name(),
                    command.read() ? 1 : 0, command.write() ? 1 : 0);
            throw SenseReason.INVALID_FIELD_IN_CDB.ex();
        }
    }

    /** For failed commands: report no residual on the data the initiator announced. */
    private static int edtlOut(ScsiCommand c) {
        return c.write() ? c.expectedDataTransferLength() : 0;
    }

    private static String describe(ScsiCommand c) {
        return String.format("opcode 0x%02x lun %d itt 0x%x from %s", c.opcode(), c.lun(), c.taskTag(),
                c.nexus().initiatorPort());
    }

    // ---- task management and nexus events ----------------------------------------------------

    @Override
    public boolean hasLun(Nexus nexus, long lun) {
        return access.sees(nexus, lun) && units.containsKey(lun);
    }

    /**
     * LOGICAL UNIT RESET (SAM-5 §7.7, §6.3.3): every I_T nexus of the LU, the issuer's included,
     * gets BUS DEVICE RESET FUNCTION OCCURRED, so each path of a multipath initiator learns of it.
     */
    @Override
    public void logicalUnitReset(Nexus issuer, long lun) {
        LogicalUnit lu = units.get(lun);
        if (lu != null) {
            lu.reset(SenseReason.BUS_DEVICE_RESET);
        }
    }

    /**
     * TARGET WARM/COLD RESET (RFC 7143 §11.5.1): a hard reset (SAM-5 §6.3.2) of every LU; every
     * I_T nexus, the issuer's included, gets POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
     */
    @Override
    public void targetReset(Nexus issuer, boolean cold) {
        for (LogicalUnit lu : units.values()) {
            lu.reset(SenseReason.POWER_ON_RESET);
        }
    }

    @Override
    public void taskSetCleared(Nexus issuer, long lun, boolean allInitiators) {
        LogicalUnit lu = units.get(lun);
        if (lu != null && allInitiators) {
            lu.raise(SenseReason.COMMANDS_CLEARED_BY_ANOTHER_INITIATOR, issuer);
        }
    }

    @Override
    public void nexusLost(Nexus nexus) {
        for (LogicalUnit lu : units.values()) {
            lu.nexusLost(nexus);
        }
    }

    /** Shuts down the own I/O pool, if one was created. Devices are not closed. */
    @Override
    public void close() {
        refusals.flush();
        if (ownsIo) {
            io.shutdown();
        }
    }
}
