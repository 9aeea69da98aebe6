package io.orion.dedup.server;

import io.orion.dedup.admin.AdminClient;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.dedup.PoolRestore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code orion-dedup restore}: puts a metadata backup back into the pool the configuration
 * describes, the server stopped ({@link PoolRestore} does the work; docs/administration.md).
 */
public final class MetadataRestore {

    private MetadataRestore() {
    }

    /** A restore refused because the server is running. */
    public static final class ServerRunningException extends IOException {
        private static final long serialVersionUID = 1L;

        ServerRunningException(String message) {
            super(message);
        }
    }

    /**
     * Restores {@code from} into the pool of {@code config} with data in {@code dataDir}.
     *
     * @throws ServerRunningException a server answers on the control socket of {@code dataDir}
     */
    public static PoolRestore.Result restore(OrionConfig config, Path dataDir, Path from, boolean force,
                                             boolean check) throws IOException {
        Path socket = config.control().socketPath(dataDir);
        if (Files.exists(socket) && answers(socket)) {
            throw new ServerRunningException("refusing to restore: a server is running on " + dataDir
                    + " (its control socket " + socket + " answers); stop it first (a restore replaces the metadata"
                    + " under the pool)");
        }
        return PoolRestore.restore(Volumes.poolOptions(config, dataDir), from, force, check);
    }

    private static boolean answers(Path socket) {
        try (AdminClient c = AdminClient.connect(socket)) {
            c.status();
            return true;
        } catch (Exception e) {
            return false; // a socket left by a server that is gone
        }
    }
}
