package io.orion.dedup.cli;

import io.orion.dedup.admin.AdminException;
import io.orion.dedup.admin.AdminJson;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.dedup.PoolRestore;
import io.orion.dedup.server.MetadataRestore;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code restore --from FILE}: puts a metadata backup back, the server stopped. */
@Command(name = "restore", description = {
    "Put a metadata backup (from 'backup --to') back into the pool (server stopped).",
    "Writes it into the pool's metadata directory; the server must be stopped. Refuses a backup of another pool than the devices', and a metadata directory",
    "that holds metadata unless --force. Then opens the pool and reads back every chunk the backup",
    "references: exit 1 when some are gone (destroyed by cleanup after the backup)."})
final class RestoreCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--from", required = true, paramLabel = "FILE", description = "The backup file.")
    Path from;

    @Option(names = "--data", paramLabel = "DIR", description = "Data directory (default: [server] data_dir).")
    Path data;

    @Option(names = "--config", paramLabel = "FILE", description = "Configuration file (default: conf/dedup.toml).")
    Path config;

    @Option(names = "--force", description = "Replace metadata already there (kept as data.mdb.replaced-<time>;"
            + " usable only until the restored pool is first opened).")
    boolean force;

    @Option(names = "--no-check", description = "Do not read back the chunks the backup references.")
    boolean noCheck;

    @Option(names = "--json", description = "Print JSON (for scripts) instead of text.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        OrionConfig cfg = ServeCommand.configOrDefaults(config);
        if (!Files.isRegularFile(from)) {
            throw new AdminException("no backup file " + from);
        }
        Path dataDir = cfg.dataDir(data);
        PoolRestore.Result r = MetadataRestore.restore(cfg, dataDir, from, force, !noCheck);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pool_uuid", r.backup().pool().toString());
        m.put("taken", r.backup().taken().toString());
        m.put("metadata_dir", cfg.pool().metadataDir(dataDir).toString());
        if (r.replaced() != null) {
            m.put("replaced_metadata_kept_as", r.replaced().toString());
        }
        if (r.scrub() != null) {
            m.put("volumes", r.volumes());
            m.put("tail_bytes_cut", r.open().tailBytesCut());
            m.put("chunks_checked", r.scrub().chunksChecked());
            m.put("chunks_lost", r.scrub().crcErrors() + r.scrub().fingerprintMismatches());
            m.put("damaged_containers", r.scrub().containerErrors());
            m.put("metadata_errors", r.scrub().metadataErrors());
            m.put("problems", r.scrub().problems());
        }
        if (json) {
            out.println(AdminJson.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(m));
        } else {
            out.println("Restored the metadata of pool " + m.get("pool_uuid") + " as of " + m.get("taken") + " into "
                    + m.get("metadata_dir") + ".");
            if (r.replaced() != null && r.scrub() != null) {
                out.println("The metadata it replaced is kept as " + r.replaced() + ", but it cannot be switched back"
                        + " to: opening the restored pool (the check) cut the data written after the backup from the"
                        + " devices.");
            } else if (r.replaced() != null) {
                out.println("The metadata it replaced is kept as " + r.replaced() + "; it can be switched back to (moved"
                        + " back to data.mdb) only until the first open of the restored pool (serve): that open cuts"
                        + " the data written after the backup from the devices.");
            }
            if (r.scrub() != null) {
                out.println("Checked " + m.get("chunks_checked") + " chunks of " + m.get("volumes") + " volume(s); "
                        + m.get("tail_bytes_cut") + " bytes written after the backup were cut.");
            }
        }
        out.flush();
        if (r.scrub() != null && !r.intact()) {
            throw new AdminException("restored, but " + m.get("chunks_lost") + " chunk(s) the backup references are"
                    + " gone or damaged and " + m.get("damaged_containers") + " container(s) damaged (cleanup reused"
                    + " their space after the backup): reads of those blocks fail with MEDIUM ERROR; the first: "
                    + (r.scrub().problems().isEmpty() ? String.join("; ", r.open().damage())
                    : r.scrub().problems().get(0)));
        }
        return 0;
    }
}
