package io.orion.dedup.cli;

import io.orion.dedup.config.ControlSettings;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every admin command shares: which server to talk to, and the output format. */
final class ConnectionOptions {

    @Option(names = "--data", paramLabel = "DIR", defaultValue = "data",
            description = "Data directory of the server to talk to; its control.sock is used (default: ./${DEFAULT-VALUE}).")
    Path data;

    @Option(names = "--socket", paramLabel = "PATH",
            description = "Control socket path, when [control] socket moved it out of the data directory.")
    Path socket;

    @Option(names = "--json", description = "Print JSON (for scripts) instead of tables.")
    boolean json;

    Path socketPath() {
        return socket != null ? socket : data.resolve(ControlSettings.SOCKET_NAME);
    }
}
