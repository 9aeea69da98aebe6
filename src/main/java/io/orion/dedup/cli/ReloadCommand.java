package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import io.orion.dedup.admin.ReloadResult;
import java.io.PrintWriter;
import picocli.CommandLine.Command;

/** {@code reload}: the server reads its target files again (what {@code systemctl reload orion-dedup} runs). */
@Command(name = "reload", description = {
    "Read the target files again and apply what changed, keeping sessions (systemctl reload runs this).",
    "A target whose file is gone is withdrawn (its sessions end, its volumes stay); a file with an error changes nothing."})
final class ReloadCommand extends AdminCommand {
    @Override
    void run(AdminApi api, PrintWriter out) throws Exception {
        ReloadResult r = api.reload();
        if (json()) {
            printJson(r);
            return;
        }
        out.println("Reloaded " + r.directory() + ": " + r.added().size() + " added, " + r.changed().size() + " changed, "
                + r.removed().size() + " removed, " + r.unchanged() + " unchanged");
        r.added().forEach(t -> out.println("  added    " + t));
        r.changed().forEach(t -> out.println("  changed  " + t));
        r.removed().forEach(t -> out.println("  removed  " + t));
    }
}
