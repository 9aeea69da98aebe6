package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminApi;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code backup --to FILE}: the running server writes a backup of its pool's metadata. */
@Command(name = "backup", description = {
    "Write a backup of the pool's metadata to FILE while I/O goes on.",
    "One consistent snapshot, compacted, written atomically (mode 0600). The data itself stays on the devices; restore",
    "puts this metadata back (see docs/administration.md, \"Backup and restore\")."})
final class BackupCommand extends AdminCommand {
    @Option(names = "--to", required = true, paramLabel = "FILE", description = "The backup file to write (replaced atomically).")
    Path to;

    @Override
    void run(AdminApi api, PrintWriter out) throws Exception {
        Map<String, Object> figures = api.backup(to.toAbsolutePath().normalize().toString());
        if (json()) {
            printJson(figures);
        } else {
            out.println("Backed up the metadata of pool " + figures.get("pool_uuid") + " to " + figures.get("file")
                    + " (" + figures.get("bytes") + " bytes).");
            out.flush();
        }
    }
}
