package io.orion.dedup.cli;

import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.OrionConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;

/**
 * Starts the server for {@code serve}. The server package provides it, either as a
 * {@link java.util.ServiceLoader} provider of this interface, or (found by
 * {@link ServerLaunchers}) as a class {@code io.orion.dedup.server.OrionServer} with
 * {@code public static OrionServer start(OrionConfig, Path, Path, Path, List<InetSocketAddress>)}
 * and instance methods {@code close()}, {@code awaitTermination()} and optionally
 * {@code List<InetSocketAddress> portals()}.
 */
@FunctionalInterface
public interface ServerLauncher {

    /**
     * Starts the server and returns once logins are accepted.
     *
     * @param config the validated configuration
     * @param configFile the file it came from, or null for built-in defaults
     * @param targetsDir directory of target definitions (may not exist yet)
     * @param dataDir data directory (may not exist yet)
     * @param listenOverride portals from {@code --listen}; empty means use {@code [server] portals}
     * @throws ConfigException when a setting cannot be honoured (the CLI exits 2)
     * @throws IOException when the server cannot start (the CLI exits 1)
     */
    RunningServer start(OrionConfig config, Path configFile, Path targetsDir, Path dataDir,
            List<InetSocketAddress> listenOverride) throws ConfigException, IOException;
}
