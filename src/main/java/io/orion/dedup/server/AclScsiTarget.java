package io.orion.dedup.server;

import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.TargetDefinition;
import io.orion.dedup.scsi.Nexus;
import io.orion.dedup.scsi.ScsiCommand;
import io.orion.dedup.scsi.ScsiResponse;
import io.orion.dedup.scsi.ScsiTarget;
import io.orion.dedup.scsi.ScsiTargetService;
import io.orion.dedup.scsi.SenseData;
import io.orion.dedup.scsi.SenseReason;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A target's SCSI command layer as one initiator's node ACL lets it see it (the LIO model of
 * mapped LUNs): an ACL with mapped LUNs hides the others — REPORT LUNS (SPC-4 §6.33) lists only
 * the mapped ones, and any other command to a hidden LUN is answered exactly as for a LUN that does
 * not exist (INQUIRY with peripheral qualifier 011b, else LOGICAL UNIT NOT SUPPORTED). An ACL with
 * write protection gets DATA PROTECT, WRITE PROTECTED (SBC-4 §4.12) for every command that would
 * change the medium, and MODE SENSE reports WP (SBC-4 §6.5.1). Initiators without an ACL (demo
 * mode) see the target unchanged.
 *
 * <p>The definition is read at each command, so an ACL change applies at once. Commands are
 * counted per LUN while in flight, so a LUN can be removed without closing its device under them.
 */
final class AclScsiTarget implements ScsiTarget {

    private static final int REPORT_LUNS = 0xA0;
    private static final int MODE_SENSE_6 = 0x1A;
    private static final int MODE_SENSE_10 = 0x5A;
    /** Opcodes that change the medium (SBC-4 §5): WRITE, WRITE AND VERIFY, WRITE SAME, UNMAP, CAW, ORWRITE, FORMAT, XCOPY, WRITE ATOMIC. */
    private static final Set<Integer> MEDIUM_CHANGES = Set.of(0x0A, 0x2A, 0xAA, 0x8A, 0x2E, 0xAE, 0x8E, 0x41, 0x93,
            0x42, 0x89, 0x8B, 0x04, 0x83, 0x9C);

    private final ScsiTargetService scsi;
    private final Supplier<TargetDefinition> definition;
    /** Commands in flight per LUN number (the counters stay; there are at most 16384). */
    private final Map<Long, AtomicInteger> inFlight = new ConcurrentHashMap<>();

    AclScsiTarget(ScsiTargetService scsi, Supplier<TargetDefinition> definition) {
        this.scsi = scsi;
        this.definition = definition;
    }

    private Optional<AclDefinition> acl(Nexus nexus) {
        return definition.get().acl(nexus.initiatorName());
    }

    /**
     * Runs a command, counting it as in flight on its LUN until its response is ready (so a LUN
     * being removed can wait for the commands already under way, {@link #awaitIdle}).
     */
    @Override
    public CompletableFuture<ScsiResponse> execute(ScsiCommand command) {
        AtomicInteger n = inFlight.computeIfAbsent(command.lun(), k -> new AtomicInteger());
        n.incrementAndGet();
        CompletableFuture<ScsiResponse> f;
        try {
            f = route(command);
        } catch (RuntimeException e) {
            n.decrementAndGet();
            throw e;
        }
        f.whenComplete((r, t) -> n.decrementAndGet());
        return f;
    }

    /**
     * Waits until no command addressed to {@code lun} is in flight, at most {@code timeout}.
     * Called after the LUN left the command layer, so no new command can reach its device — the
     * way LIO waits for a LUN's outstanding commands before it releases the LUN. Returns false on
     * timeout.
     */
    boolean awaitIdle(long lun, Duration timeout) throws InterruptedException {
        AtomicInteger n = inFlight.get(lun);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (n != null && n.get() > 0) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    private CompletableFuture<ScsiResponse> route(ScsiCommand command) {
        Optional<AclDefinition> acl = acl(command.nexus());
        if (acl.isEmpty()) {
            return scsi.execute(command);
        }
        AclDefinition a = acl.get();
        int op = command.opcode();
        if (op == REPORT_LUNS) {
            return a.mappedLuns().isEmpty() ? scsi.execute(command)
                    : scsi.execute(command).thenApply(r -> filterReportLuns(r, a));
        }
        if (command.lun() > Integer.MAX_VALUE || !a.maps((int) command.lun())) {
            return scsi.execute(asMissingLun(command));
        }
        if (a.writeProtect()) {
            if (MEDIUM_CHANGES.contains(op)) {
                return CompletableFuture.completedFuture(new ScsiResponse(ScsiResponse.CHECK_CONDITION,
                        SenseData.build(SenseReason.WRITE_PROTECTED, false), null,
                        command.write() ? command.expectedDataTransferLength() : 0));
            }
            if (op == MODE_SENSE_6 || op == MODE_SENSE_10) {
                return scsi.execute(command).thenApply(r -> withWriteProtectBit(r, op == MODE_SENSE_6 ? 2 : 3));
            }
        }
        return scsi.execute(command);
    }

    /** The same command addressed to a LUN number the target does not have. */
    private ScsiCommand asMissingLun(ScsiCommand c) {
        Set<Long> present = scsi.luns();
        long missing = 0;
        while (present.contains(missing)) {
            missing++;
        }
        return new ScsiCommand(c.nexus(), missing, c.cdb(), c.attribute(), c.expectedDataTransferLength(), c.read(),
                c.write(), c.dataOut(), c.taskTag());
    }

    /** REPORT LUNS parameter data with only the mapped LUNs (flat or peripheral addressing, SAM-5 §4.7). */
    static ScsiResponse filterReportLuns(ScsiResponse r, AclDefinition acl) {
        if (r.status() != ScsiResponse.GOOD || r.dataIn() == null || r.dataIn().remaining() < 8) {
            return r;
        }
        ByteBuffer in = r.dataIn().duplicate();
        int base = in.position();
        int available = in.remaining();
        int listed = Math.min(in.getInt(base) / 8, (available - 8) / 8);
        ByteBuffer out = ByteBuffer.allocate(8 + 8 * Math.max(0, listed));
        out.position(8);
        int kept = 0;
        for (int i = 0; i < listed; i++) {
            int off = base + 8 + 8 * i;
            int b0 = in.get(off) & 0xff;
            int lun = ((b0 & 0x3f) << 8) | (in.get(off + 1) & 0xff);
            boolean addressed = (b0 >> 6) <= 1;   // peripheral (00b) or flat (01b) addressing
            if (!addressed || acl.maps(lun)) {
                for (int k = 0; k < 8; k++) {
                    out.put(in.get(off + k));
                }
                kept++;
            }
        }
        out.putInt(0, kept * 8);
        out.flip();
        out.limit(Math.min(out.limit(), available));
        return new ScsiResponse(r.status(), r.sense(), out, r.dataOutLength());
    }

    /** MODE SENSE data with the WP bit of the device-specific parameter set (SBC-4 §6.5.1). */
    static ScsiResponse withWriteProtectBit(ScsiResponse r, int deviceSpecificOffset) {
        if (r.status() != ScsiResponse.GOOD || r.dataIn() == null || r.dataIn().remaining() <= deviceSpecificOffset) {
            return r;
        }
        ByteBuffer copy = ByteBuffer.allocate(r.dataIn().remaining());
        copy.put(r.dataIn().duplicate());
        copy.flip();
        copy.put(deviceSpecificOffset, (byte) (copy.get(deviceSpecificOffset) | 0x80));
        return new ScsiResponse(r.status(), r.sense(), copy, r.dataOutLength());
    }

    /**
     * True when the nexus's ACL lets it see LUN number {@code lun}, whether or not the LUN exists
     * (no ACL: demo mode sees everything).
     */
    boolean sees(Nexus nexus, long lun) {
        Optional<AclDefinition> acl = acl(nexus);
        return acl.isEmpty() || (lun <= Integer.MAX_VALUE && acl.get().maps((int) lun));
    }

    @Override
    public boolean hasLun(Nexus nexus, long lun) {
        return sees(nexus, lun) && scsi.hasLun(nexus, lun);
    }

    @Override
    public void logicalUnitReset(Nexus issuer, long lun) {
        scsi.logicalUnitReset(issuer, lun);
    }

    @Override
    public void targetReset(Nexus issuer, boolean cold) {
        scsi.targetReset(issuer, cold);
    }

    @Override
    public void taskSetCleared(Nexus issuer, long lun, boolean allInitiators) {
        scsi.taskSetCleared(issuer, lun, allInitiators);
    }

    @Override
    public void nexusLost(Nexus nexus) {
        scsi.nexusLost(nexus);
    }
}
