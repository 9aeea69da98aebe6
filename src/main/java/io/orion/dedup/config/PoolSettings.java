package io.orion.dedup.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code [pool]} section: where deduplicated chunks and their metadata live.
 *
 * @param metadataDir directory of the LMDB metadata environment, or null for {@code <data>/meta}
 * @param devices backing devices for chunk containers, in order; empty means one file that grows
 *     as needed, {@code <data>/store/chunks.0}
 * @param durableCommits {@code durable_commits}: every group commit forces the devices and syncs
 *     LMDB, so each commit is durable against power loss (slower writes); false (the default):
 *     commits survive a process crash and become durable against power loss at the next flush
 *     (SYNCHRONIZE CACHE, SBC-4 §5.26-5.27; FUA writes; every write while the caching
 *     mode page has WCE=0)
 * @param spaceWarningPercent {@code space_warning_percent}: the soft threshold (1..100) of the
 *     pool's used space; crossing it raises THIN PROVISIONING SOFT THRESHOLD REACHED (SBC-4
 *     §4.7.3.7.3) once on every I_T nexus of every dedup LUN; 0 turns the warning off
 */
public record PoolSettings(Path metadataDir, List<Device> devices, boolean durableCommits, int spaceWarningPercent) {

    /** Default of {@code space_warning_percent}. */
    public static final int DEFAULT_SPACE_WARNING_PERCENT = 90;

    public PoolSettings {
        devices = List.copyOf(devices);
    }

    public PoolSettings(Path metadataDir, List<Device> devices, boolean durableCommits) {
        this(metadataDir, devices, durableCommits, DEFAULT_SPACE_WARNING_PERCENT);
    }

    /**
     * One backing device: a regular file (created when missing, grown up to {@code size}) or a raw
     * block device such as {@code /dev/nvme0n1} (SATA, SAS, NVMe).
     *
     * @param path the file or device node
     * @param size capacity in bytes to use; 0 = the whole block device, or for a file no limit
     */
    public record Device(Path path, long size) {}

    /**
     * Built-in defaults: metadata under {@code <data>/meta}, chunks in one growing file, commits
     * made durable at flushes.
     */
    public static PoolSettings defaults() {
        return new PoolSettings(null, List.of(), false);
    }

    /** The metadata directory for a given data directory. */
    public Path metadataDir(Path dataDir) {
        return metadataDir != null ? metadataDir : dataDir.resolve("meta");
    }

    /** The devices to use for a given data directory (the default file when none are listed). */
    public List<Device> devices(Path dataDir) {
        return devices.isEmpty() ? List.of(new Device(dataDir.resolve("store").resolve("chunks.0"), 0)) : devices;
    }

    static PoolSettings read(TomlSection s) throws ConfigException {
        String meta = s.string("metadata_dir", null);
        boolean durable = s.bool("durable_commits", false);
        int warning = (int) s.integer("space_warning_percent", DEFAULT_SPACE_WARNING_PERCENT, 0, 100);
        List<Device> devices = new ArrayList<>();
        Set<Path> seen = new HashSet<>();
        for (TomlSection d : s.tables("devices")) {
            String path = d.string("path", null);
            if (path == null) {
                throw d.error("path", "every device needs a path");
            }
            Path p = ServerSettings.nonEmptyPath(d, "path", path);
            if (!seen.add(p.toAbsolutePath().normalize())) {
                throw d.error("path", "device listed twice");
            }
            long size = d.size("size", 0, 0, Long.MAX_VALUE);
            if (size != 0 && size < (64L << 20)) {
                throw d.error("size", "a device must hold at least 64MiB (or 0 for all of it)");
            }
            d.finish();
            devices.add(new Device(p, size));
        }
        s.finish();
        return new PoolSettings(meta == null ? null : ServerSettings.nonEmptyPath(s, "metadata_dir", meta), devices,
                durable, warning);
    }
}
