package io.orion.dedup.cli;

import io.orion.dedup.config.ControlSettings;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every admin command shares: which server to talk to, and the output format. */
final class ConnectionOptions {

    /** Where the installed service (orion-dedup.service) has its control socket. */
    static final Path INSTALLED_SOCKET = Path.of("/run/orion-dedup/control.sock");

    @Option(names = "--data", paramLabel = "DIR",
            description = "Data directory of the server to talk to; its control.sock is used (default: ./data, or the"
                    + " installed service's /run/orion-dedup/control.sock when ./data has none).")
    Path data;

    @Option(names = "--socket", paramLabel = "PATH",
            description = "Control socket path, when [control] socket moved it out of the data directory.")
    Path socket;

    @Option(names = "--json", description = "Print JSON (for scripts) instead of tables.")
    boolean json;

    Path socketPath() {
        return socketPath(Path.of("data"), INSTALLED_SOCKET);
    }

    /**
     * {@code --socket}, else {@code --data}'s socket, else {@code $ORION_CONTROL_SOCKET}, else
     * {@code ./data/control.sock} when it exists, else the installed service's socket when it exists, else
     * {@code ./data/control.sock} (which the "not running" message then names).
     */
    Path socketPath(Path defaultData, Path installed) {
        if (socket != null) {
            return socket;
        }
        if (data != null) {
            return data.resolve(ControlSettings.SOCKET_NAME);
        }
        String env = System.getenv("ORION_CONTROL_SOCKET");
        if (env != null && !env.isEmpty()) {
            return Path.of(env);
        }
        Path local = defaultData.resolve(ControlSettings.SOCKET_NAME);
        if (!java.nio.file.Files.exists(local) && java.nio.file.Files.exists(installed)) {
            return installed;
        }
        return local;
    }
}
