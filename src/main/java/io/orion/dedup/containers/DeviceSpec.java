package io.orion.dedup.containers;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One backing device of a pool: a plain file (created on demand) or a raw block device such as
 * {@code /dev/sdb} or {@code /dev/nvme0n1}.
 *
 * @param path the file or device node
 * @param sizeLimit the most bytes the pool may use on it; 0 means "the whole device" (for a plain
 *     file: no limit other than the file system's free space)
 */
public record DeviceSpec(Path path, long sizeLimit) {
    public DeviceSpec {
        Objects.requireNonNull(path, "path");
        if (sizeLimit < 0) {
            throw new IllegalArgumentException("size limit must be >= 0: " + sizeLimit);
        }
    }

    /** A device without a size limit. */
    public static DeviceSpec of(Path path) {
        return new DeviceSpec(path, 0);
    }
}
