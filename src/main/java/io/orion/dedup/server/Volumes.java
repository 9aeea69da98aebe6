package io.orion.dedup.server;

import io.orion.dedup.config.DedupSettings;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.OrionConfig;
import io.orion.dedup.config.PoolSettings;
import io.orion.dedup.dedup.DedupMode;
import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.DedupVolume;
import io.orion.dedup.dedup.PoolOptions;
import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.PrivateFiles;
import io.orion.dedup.blockdev.RamBlockDevice;
import io.orion.dedup.blockdev.SparseFileBlockDevice;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the block device behind each LUN definition: a dedup volume of the pool (the default), a
 * sparse file ({@code backing = "file"}, under {@code <data>/luns/} unless a path is given) or RAM
 * ({@code backing = "ram"}, for tests; contents die with the process). The pool opens with the
 * first dedup LUN and closes with the server.
 */
final class Volumes implements Closeable {

    private static final Logger LOG = LoggerFactory.getLogger(Volumes.class);

    private final OrionConfig config;
    private final Path dataDir;
    private DedupPool pool;

    Volumes(OrionConfig config, Path dataDir) {
        this.config = config;
        this.dataDir = dataDir;
    }

    BlockDevice open(LunDefinition lun) throws IOException {
        return switch (lun.backing()) {
            case FILE -> {
                Path file = imageFile(lun);
                PrivateFiles.createDirectories(file.toAbsolutePath().getParent());
                yield SparseFileBlockDevice.open(file, lun.blockSize(), lun.blockCount());
            }
            case RAM -> new RamBlockDevice(lun.blockSize(), lun.blockCount());
            case DEDUP -> openDedup(lun);
        };
    }

    /**
     * Where the persistent reservations of {@code lun} (opened as {@code dev}) are kept: with its
     * volume (see {@link VolumePrStores}).
     */
    io.orion.dedup.scsi.PrStore prStore(LunDefinition lun, BlockDevice dev) throws IOException {
        return switch (lun.backing()) {
            case DEDUP -> VolumePrStores.pool(pool(), (DedupVolume) dev);
            case FILE -> VolumePrStores.file(VolumePrStores.file(dataDir, lun.volume()));
            case RAM -> io.orion.dedup.scsi.PrStore.NONE;
        };
    }

    /** The file that keeps the persistent reservations of file volume {@code volume}. */
    Path reservationsFile(String volume) {
        return VolumePrStores.file(dataDir, volume);
    }

    private DedupVolume openDedup(LunDefinition lun) throws IOException {
        DedupPool p = pool();
        Optional<DedupVolume> existing = p.openVolume(lun.volume());
        if (existing.isPresent()) {
            DedupVolume v = existing.get();
            if (v.blockSize() != lun.blockSize()) {
                throw new IOException("volume " + lun.volume() + " has " + v.blockSize()
                        + "-byte blocks but its LUN definition says " + lun.blockSize());
            }
            if (v.blockCount() > lun.blockCount()) {
                // never cut off a volume's data because a definition says less (resize only grows)
                throw new IOException("volume " + lun.volume() + " holds " + v.blockCount() * v.blockSize()
                        + " bytes but its LUN definition says " + lun.size() + "; refusing to shrink it");
            }
            if (v.blockCount() != lun.blockCount()) {
                LOG.info("volume {}: capacity {} -> {} blocks, as its LUN definition says", lun.volume(),
                        v.blockCount(), lun.blockCount());
                v.resize(lun.blockCount());
            }
            applyDedupMode(lun);
            return v;
        }
        int dedupBlock = lun.dedupBlockSize(config.deduplication().hashBlockSize());
        return p.createVolume(lun.volume(), lun.blockSize(), lun.size(), dedupBlock, lun.dedupMode(config.deduplication()));
    }

    /**
     * Gives the volume of dedup LUN {@code lun} the mode its definition asks for ({@code dedup},
     * else {@code real_time_deduplication}) when its stored mode differs, with an INFO line.
     */
    void applyDedupMode(LunDefinition lun) throws IOException {
        if (lun.backing() != io.orion.dedup.config.LunBacking.DEDUP) {
            return;
        }
        DedupPool p = pool();
        DedupMode mode = lun.dedupMode(config.deduplication());
        DedupMode stored = p.dedupMode(lun.volume());
        if (stored != null && stored != mode) {
            p.setDedupMode(lun.volume(), mode);
            LOG.info("volume {}: dedup mode {} -> {}, as {}", lun.volume(), stored.label(), mode.label(),
                    lun.dedup() != null ? "its LUN definition says (dedup = \"" + mode.label() + "\")"
                            : "real_time_deduplication = " + config.deduplication().realTimeDeduplication()
                            + " says for a LUN without its own dedup key");
        }
    }

    /** The dedup pool, opened on first use from the [pool] and [deduplication] settings. */
    synchronized DedupPool pool() throws IOException {
        if (pool == null) {
            PoolOptions o = poolOptions(config, dataDir);
            LOG.info("opening pool {} on {} device(s); durable commits: {}", o.metadataDir(), o.devices().size(),
                    durability(o.durableCommits()));
            pool = DedupPool.open(o);
            pool.spaceWarningPercent(config.pool().spaceWarningPercent());
        }
        return pool;
    }

    /**
     * The pool if it exists: open, or on disk (then opened now; detached volumes live in a pool
     * no LUN has opened). Empty when no pool was ever created here.
     */
    synchronized Optional<DedupPool> existingPool() throws IOException {
        if (pool == null && !Files.exists(config.pool().metadataDir(dataDir).resolve("data.mdb"))) {
            return Optional.empty();
        }
        return Optional.of(pool());
    }

    /** The image file of a file LUN: its path, or {@code <data>/luns/<volume>.img}. */
    Path imageFile(LunDefinition lun) {
        return lun.path() != null ? lun.path() : lunsDir().resolve(lun.volume() + ".img");
    }

    /** Where file LUNs without a path keep their images. */
    Path lunsDir() {
        return dataDir.resolve("luns");
    }

    /** The pool if it is open (no dedup LUN yet: empty). */
    synchronized Optional<DedupPool> openPool() {
        return Optional.ofNullable(pool);
    }

    static PoolOptions poolOptions(OrionConfig config, Path dataDir) throws IOException {
        DedupSettings d = config.deduplication();
        PoolSettings ps = config.pool();
        Path meta = ps.metadataDir(dataDir);
        PrivateFiles.directory(meta);
        PoolOptions.Builder b = PoolOptions.builder(meta)
                .hashAlgorithm(d.hashAlgorithm())
                .verify(d.verify())
                .hashCacheSize(d.hashCacheSize())
                .cacheSize(d.cacheSize())
                .compressionEnabled(d.compressionEnabled())
                .compressionThreshold(d.compressionThreshold())
                .compressionLevel(d.compressionLevel())
                .referenceMaxCount((int) Math.min(Integer.MAX_VALUE, d.referenceMaxCount()))
                .referenceCleanupIntervalSeconds(d.backgroundProcessing() ? d.referenceCleanupIntervalSeconds() : 0)
                .metadataMapSize(d.referenceMetadataSize())
                .durableCommits(ps.durableCommits());
        for (PoolSettings.Device dev : ps.devices(dataDir)) {
            Path parent = dev.path().toAbsolutePath().getParent();
            if (parent != null && !dev.path().startsWith("/dev/")) {
                if (parent.normalize().startsWith(dataDir.toAbsolutePath().normalize())) {
                    PrivateFiles.directory(parent); // <data>/store: ours
                } else {
                    PrivateFiles.createDirectories(parent);
                }
            }
            b.device(dev.path(), dev.size());
        }
        return b.build();
    }

    /** How commits are made durable, as logs and {@code status} say it. */
    static String durability(boolean durableCommits) {
        return durableCommits ? "on (every commit forces the devices and syncs LMDB)"
                : "off (durable at SYNCHRONIZE CACHE, FUA, WCE=0 and background flushes)";
    }

    static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            LOG.warn("close failed: {}", e.toString());
        }
    }

    @Override
    public synchronized void close() {
        if (pool != null) {
            closeQuietly(pool);
            pool = null;
        }
    }
}
