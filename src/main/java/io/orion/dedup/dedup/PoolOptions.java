package io.orion.dedup.dedup;

import io.orion.dedup.containers.DeviceSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Everything a pool needs from the configuration ({@code conf/dedup.toml}); build with
 * {@link #builder(Path)}.
 *
 * @param metadataDir directory of the LMDB environment
 * @param devices backing devices (files or raw block devices), at least one
 * @param hashAlgorithm only {@code "sha256"}
 * @param verify compare bytes before sharing a chunk (guards against fingerprint collisions)
 * @param hashCacheSize bytes of the fingerprint cache (about 96 bytes per entry); 0 disables it
 * @param cacheSize bytes of decompressed chunks in the block cache; 0 disables it
 * @param compressionEnabled store chunks LZ4-compressed when worthwhile
 * @param compressionThreshold keep the compressed form only if at most this fraction of the
 *     original, in (0, 1]
 * @param compressionLevel {@code <= 1}: LZ4 fast compressor; 2..17: LZ4 HC at that level
 * @param referenceMaxCount references one chunk may carry; a further duplicate starts a new copy
 * @param referenceCleanupIntervalSeconds period of the background cleanup; 0 disables the timer
 * @param gcLiveThreshold containers whose live fraction is below this are compacted, in [0, 1]
 * @param metadataMapSize initial LMDB map size in bytes ({@code reference_metadata_size}); grown
 *     automatically when full
 * @param containerSize bytes of one container slot (records never cross a slot), >= 1 MiB
 * @param gcBytesPerSecond copy-rate limit of garbage collection (throttling)
 * @param durableCommits make every commit durable against power loss (devices forced before each
 *     commit, LMDB synced by each commit, in LMDB's own order); off by default: commits then
 *     survive any process crash, and {@code flush()} (SYNCHRONIZE CACHE, FUA) makes them durable
 */
public record PoolOptions(Path metadataDir, List<DeviceSpec> devices, String hashAlgorithm, boolean verify,
                          long hashCacheSize, long cacheSize, boolean compressionEnabled,
                          double compressionThreshold, int compressionLevel, int referenceMaxCount,
                          long referenceCleanupIntervalSeconds, double gcLiveThreshold, long metadataMapSize,
                          long containerSize, long gcBytesPerSecond, boolean durableCommits) {

    public PoolOptions {
        Objects.requireNonNull(metadataDir, "metadataDir");
        devices = List.copyOf(devices);
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("a pool needs at least one backing device");
        }
        if (!"sha256".equalsIgnoreCase(hashAlgorithm)) {
            throw new IllegalArgumentException("unsupported hash_algorithm '" + hashAlgorithm + "' (only sha256)");
        }
        if (!(compressionThreshold > 0 && compressionThreshold <= 1)) {
            throw new IllegalArgumentException("compression_threshold must be in (0, 1]: " + compressionThreshold);
        }
        if (referenceMaxCount < 1) {
            throw new IllegalArgumentException("reference_max_count must be >= 1: " + referenceMaxCount);
        }
        if (!(gcLiveThreshold >= 0 && gcLiveThreshold <= 1)) {
            throw new IllegalArgumentException("gc live threshold must be in [0, 1]: " + gcLiveThreshold);
        }
        if (containerSize < (1 << 20) || containerSize > (1L << 31)) {
            throw new IllegalArgumentException("container size must be in [1 MiB, 2 GiB]: " + containerSize);
        }
        if (metadataMapSize < (1 << 16)) {
            throw new IllegalArgumentException("metadata map size must be >= 64 KiB: " + metadataMapSize);
        }
        if (hashCacheSize < 0 || cacheSize < 0 || referenceCleanupIntervalSeconds < 0 || gcBytesPerSecond <= 0) {
            throw new IllegalArgumentException("sizes and intervals must not be negative");
        }
    }

    /** A builder with the defaults of the embedded configuration. */
    public static Builder builder(Path metadataDir) {
        return new Builder(metadataDir);
    }

    /** Mutable builder; every setter returns {@code this}. */
    public static final class Builder {
        private final Path metadataDir;
        private final List<DeviceSpec> devices = new ArrayList<>();
        private String hashAlgorithm = "sha256";
        private boolean verify;
        private long hashCacheSize = 64L << 20;
        private long cacheSize = 256L << 20;
        private boolean compressionEnabled = true;
        private double compressionThreshold = 0.9;
        private int compressionLevel = 1;
        private int referenceMaxCount = 1 << 20;
        private long cleanupInterval = 300;
        private double gcLiveThreshold = 0.5;
        private long metadataMapSize = 1L << 30;
        private long containerSize = 64L << 20;
        private long gcBytesPerSecond = 256L << 20;
        private boolean durableCommits;

        private Builder(Path metadataDir) {
            this.metadataDir = metadataDir;
        }

        public Builder device(Path path, long sizeLimit) {
            devices.add(new DeviceSpec(path, sizeLimit));
            return this;
        }

        public Builder device(DeviceSpec spec) {
            devices.add(spec);
            return this;
        }

        public Builder hashAlgorithm(String v) {
            hashAlgorithm = v;
            return this;
        }

        public Builder verify(boolean v) {
            verify = v;
            return this;
        }

        public Builder hashCacheSize(long v) {
            hashCacheSize = v;
            return this;
        }

        public Builder cacheSize(long v) {
            cacheSize = v;
            return this;
        }

        public Builder compressionEnabled(boolean v) {
            compressionEnabled = v;
            return this;
        }

        public Builder compressionThreshold(double v) {
            compressionThreshold = v;
            return this;
        }

        public Builder compressionLevel(int v) {
            compressionLevel = v;
            return this;
        }

        public Builder referenceMaxCount(int v) {
            referenceMaxCount = v;
            return this;
        }

        public Builder referenceCleanupIntervalSeconds(long v) {
            cleanupInterval = v;
            return this;
        }

        public Builder gcLiveThreshold(double v) {
            gcLiveThreshold = v;
            return this;
        }

        public Builder metadataMapSize(long v) {
            metadataMapSize = v;
            return this;
        }

        public Builder containerSize(long v) {
            containerSize = v;
            return this;
        }

        public Builder gcBytesPerSecond(long v) {
            gcBytesPerSecond = v;
            return this;
        }

        public Builder durableCommits(boolean v) {
            durableCommits = v;
            return this;
        }

        public PoolOptions build() {
            return new PoolOptions(metadataDir, devices, hashAlgorithm, verify, hashCacheSize, cacheSize,
                    compressionEnabled, compressionThreshold, compressionLevel, referenceMaxCount, cleanupInterval,
                    gcLiveThreshold, metadataMapSize, containerSize, gcBytesPerSecond, durableCommits);
        }
    }
}
