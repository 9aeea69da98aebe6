package io.orion.dedup.server;

import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.storage.BlockDevice;
import io.orion.dedup.storage.RamBlockDevice;
import io.orion.dedup.storage.SparseFileBlockDevice;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the block device behind each LUN definition: a dedup volume of the pool (the default), a
 * sparse file ({@code backing = "file"}, under {@code <data>/luns/} unless a path is given) or RAM
 * ({@code backing = "ram"}, for tests; contents die with the process).
 */
final class Volumes implements Closeable {

    private static final Logger LOG = LoggerFactory.getLogger(Volumes.class);

    private final OrionConfig config;
    private final Path dataDir;

    Volumes(OrionConfig config, Path dataDir) {
        this.config = config;
        this.dataDir = dataDir;
    }

    BlockDevice open(LunDefinition lun) throws IOException {
        return switch (lun.backing()) {
            case FILE -> {
                Path file = lun.path() != null ? lun.path() : dataDir.resolve("luns").resolve(lun.volume() + ".img");
                Files.createDirectories(file.toAbsolutePath().getParent());
                yield SparseFileBlockDevice.open(file, lun.blockSize(), lun.blockCount());
            }
            case RAM -> new RamBlockDevice(lun.blockSize(), lun.blockCount());
            case DEDUP -> throw new IOException("LUN " + lun.id() + " (volume " + lun.volume()
                    + "): backing \"dedup\" needs the dedup pool, which this build does not have yet");
        };
    }

    static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            LOG.warn("close failed: {}", e.toString());
        }
    }

    @Override
    public void close() {
    }
}
