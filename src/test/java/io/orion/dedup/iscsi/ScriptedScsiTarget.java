package io.orion.dedup.iscsi;

import io.orion.dedup.scsi.Nexus;
import io.orion.dedup.scsi.ScsiCommand;
import io.orion.dedup.scsi.ScsiResponse;
import io.orion.dedup.scsi.ScsiTarget;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/** Test command layer: records every command and answers with a scripted function. */
final class ScriptedScsiTarget implements ScsiTarget {

    final List<ScsiCommand> commands = new CopyOnWriteArrayList<>();
    final List<byte[]> dataOut = new CopyOnWriteArrayList<>();
    final List<String> events = new CopyOnWriteArrayList<>();
    volatile Function<ScsiCommand, CompletableFuture<ScsiResponse>> script =
            c -> CompletableFuture.completedFuture(new ScsiResponse(ScsiResponse.GOOD, null, null, 0));

    @Override
    public CompletableFuture<ScsiResponse> execute(ScsiCommand command, io.orion.dedup.blockdev.IoBatch batch) {
        commands.add(command);
        if (command.dataOut() != null) {
            byte[] b = new byte[command.dataOut().remaining()];
            command.dataOut().duplicate().get(b);
            dataOut.add(b);
        }
        return script.apply(command);
    }

    @Override
    public boolean hasLun(Nexus nexus, long lun) {
        return lun == 0;
    }

    @Override
    public void logicalUnitReset(Nexus issuer, long lun) {
        events.add("lu-reset " + lun);
    }

    @Override
    public void targetReset(Nexus issuer, boolean cold) {
        events.add(cold ? "cold-reset" : "warm-reset");
    }

    @Override
    public void taskSetCleared(Nexus issuer, long lun, boolean allInitiators) {
        events.add("task-set-cleared " + lun + " " + allInitiators);
    }

    @Override
    public void nexusLost(Nexus nexus) {
        events.add("lost " + nexus.initiatorPort());
    }
}
