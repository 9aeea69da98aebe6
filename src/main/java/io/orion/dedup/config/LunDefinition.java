package io.orion.dedup.config;

import io.orion.dedup.dedup.DedupMode;
import java.nio.file.Path;

/**
 * One logical unit of a target (SAM-5 §4.6): its LUN, the volume behind it and its geometry.
 *
 * @param id the logical unit number, 0..16383 (single-level flat addressing, SAM-5 §4.7.7)
 * @param volume volume name, unique in the server: {@code [A-Za-z0-9._-]}, 1..64 characters
 * @param size capacity in bytes, a multiple of {@code blockSize}
 * @param blockSize logical block size reported by READ CAPACITY (SBC-4 §5.16): 512 or 4096
 * @param dedupBlockSize chunk size of a dedup volume (4096..65536, a power of two), or 0 for the
 *     configured {@code hash_block_size}; fixed when the volume is created
 * @param readOnly write-protected for everyone (writes fail with DATA PROTECT)
 * @param thin thin-provisioned: unmapped blocks take no space, LBPME is reported (SBC-4 §5.16);
 *     a dedup volume is always thin, a file LUN with {@code thin = false} is fully allocated
 * @param backing what stores the blocks
 * @param path backing file of a {@link LunBacking#FILE} LUN, or null for
 *     {@code <data>/luns/<volume>.img}
 * @param dedup how a dedup LUN's writes are deduplicated ({@code dedup = "inline" | "post" | "off"}),
 *     or null for the pool's default ({@code real_time_deduplication}: inline when true, post when
 *     false)
 */
public record LunDefinition(
        int id,
        String volume,
        long size,
        int blockSize,
        int dedupBlockSize,
        boolean readOnly,
        boolean thin,
        LunBacking backing,
        Path path,
        DedupMode dedup) {

    /** A LUN without its own dedup mode (the pool's default applies). */
    public LunDefinition(int id, String volume, long size, int blockSize, int dedupBlockSize, boolean readOnly,
                         boolean thin, LunBacking backing, Path path) {
        this(id, volume, size, blockSize, dedupBlockSize, readOnly, thin, backing, path, null);
    }

    /** Highest LUN with flat addressing. */
    public static final int MAX_ID = 16383;
    /** Largest LUN accepted: 1 PiB. */
    public static final long MAX_SIZE = 1L << 50;

    /** A thin dedup LUN with the pool's dedup block size. */
    public static LunDefinition dedup(int id, String volume, long size, int blockSize) {
        return new LunDefinition(id, volume, size, blockSize, 0, false, true, LunBacking.DEDUP, null);
    }

    /** The chunk size to use, resolving 0 to the configured default. */
    public int dedupBlockSize(int configured) {
        return dedupBlockSize == 0 ? configured : dedupBlockSize;
    }

    /** The dedup mode this LUN's volume should have: its own, else the configured default. */
    public DedupMode dedupMode(DedupSettings settings) {
        return dedup != null ? dedup : settings.defaultDedupMode();
    }

    /** This LUN with its own dedup mode (null: the pool's default). */
    public LunDefinition withDedup(DedupMode mode) {
        return new LunDefinition(id, volume, size, blockSize, dedupBlockSize, readOnly, thin, backing, path, mode);
    }

    /** Number of logical blocks. */
    public long blockCount() {
        return size / blockSize;
    }

    /** This LUN with another size. */
    public LunDefinition withSize(long newSize) {
        return new LunDefinition(id, volume, newSize, blockSize, dedupBlockSize, readOnly, thin, backing, path, dedup);
    }

    /** This LUN on another volume with another geometry. */
    public LunDefinition withVolume(String newVolume, long newSize, int newBlockSize, int newDedupBlockSize) {
        return new LunDefinition(id, newVolume, newSize, newBlockSize, newDedupBlockSize, readOnly, thin, backing, path,
                dedup);
    }

    /** True if the name is a valid volume name. */
    public static boolean validVolumeName(String name) {
        return name != null && name.matches("[A-Za-z0-9._-]{1,64}") && !name.startsWith(".");
    }
}
