package io.orion.dedup.server;

import io.orion.dedup.cli.RunningServer;
import io.orion.dedup.cli.ServerLauncher;
import io.orion.dedup.config.ConfigException;
import io.orion.dedup.config.OrionConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;

/**
 * The CLI's {@code serve} entry into this server, registered as a {@link java.util.ServiceLoader}
 * provider of {@link ServerLauncher} ({@code META-INF/services/io.orion.dedup.cli.ServerLauncher}),
 * so the CLI finds it without reflection and without a compile-time dependency on this package.
 */
public final class OrionServerLauncher implements ServerLauncher {

    /** Public no-argument constructor, as {@link java.util.ServiceLoader} requires. */
    public OrionServerLauncher() {
    }

    @Override
    public RunningServer start(OrionConfig config, Path configFile, Path targetsDir, Path dataDir,
                               List<InetSocketAddress> listenOverride) throws ConfigException, IOException {
        OrionServer s = OrionServer.start(config, configFile, targetsDir, dataDir, listenOverride);
        return new RunningServer() {
            @Override
            public List<InetSocketAddress> portals() {
                return s.portals();
            }

            @Override
            public void close() {
                s.close();
            }

            @Override
            public void awaitTermination() throws InterruptedException {
                s.awaitTermination();
            }

            @Override
            public String reload() throws IOException {
                try {
                    io.orion.dedup.admin.ReloadResult r = s.reload();
                    return r.added().size() + " added, " + r.changed().size() + " changed, " + r.removed().size()
                            + " removed, " + r.unchanged() + " unchanged";
                } catch (io.orion.dedup.admin.AdminException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
        };
    }
}
