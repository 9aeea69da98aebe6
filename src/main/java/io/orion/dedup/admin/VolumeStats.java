package io.orion.dedup.admin;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Space accounting of one volume, as {@code stats} shows it (like {@code vdostats}).
 *
 * @param volume volume name
 * @param target target name, or null for a detached volume (no LUN; its data still uses the pool)
 * @param lun logical unit number, or null for a detached volume
 * @param sizeBytes logical capacity
 * @param logicalUsedBytes bytes of mapped (written, not unmapped) blocks; -1 when unknown (the
 *     volume's block map cannot be walked: damaged metadata)
 * @param storedBytes physical bytes this volume's mapped blocks occupy in the pool after
 *     deduplication and compression (shared chunks counted once per volume)
 * @param exclusiveBytes stored bytes of the chunks no other volume references: what deleting this
 *     volume (then cleanup) frees; -1 when not known (file/RAM LUNs, damaged metadata)
 * @param uniqueBytes original bytes of the distinct chunks this volume references; -1 when not
 *     known (file/RAM LUNs, damaged metadata)
 * @param dedupMode how a dedup volume deduplicates ({@code inline}, {@code post}, {@code off}); null
 *     for file/RAM LUNs
 * @param stagedBlocks blocks a post-process volume wrote that the post-process pass has not reached
 *     yet (they count as unique until it has); null for file/RAM LUNs
 */
public record VolumeStats(String volume, String target, Integer lun, long sizeBytes, long logicalUsedBytes,
        long storedBytes, long exclusiveBytes, long uniqueBytes, String dedupMode, Long stagedBlocks) {

    /** Figures without staged blocks. */
    public VolumeStats(String volume, String target, Integer lun, long sizeBytes, long logicalUsedBytes,
            long storedBytes, long exclusiveBytes, long uniqueBytes, String dedupMode) {
        this(volume, target, lun, sizeBytes, logicalUsedBytes, storedBytes, exclusiveBytes, uniqueBytes, dedupMode,
                null);
    }

    /** Below this dedup ratio, after {@link #LOW_DEDUP_MIN_BYTES} written, a volume's data does not dedup. */
    public static final double LOW_DEDUP_RATIO = 1.05;
    /** Written bytes before a low dedup ratio says anything: 1 MiB. */
    public static final long LOW_DEDUP_MIN_BYTES = 1L << 20;

    /** Figures of a volume whose dedup mode is not known. */
    public VolumeStats(String volume, String target, Integer lun, long sizeBytes, long logicalUsedBytes,
            long storedBytes, long exclusiveBytes, long uniqueBytes) {
        this(volume, target, lun, sizeBytes, logicalUsedBytes, storedBytes, exclusiveBytes, uniqueBytes, null, null);
    }

    /** Figures without exclusive and unique bytes (file/RAM LUNs). */
    public VolumeStats(String volume, String target, Integer lun, long sizeBytes, long logicalUsedBytes,
            long storedBytes) {
        this(volume, target, lun, sizeBytes, logicalUsedBytes, storedBytes, -1, -1);
    }

    /** Figures without unique bytes. */
    public VolumeStats(String volume, String target, Integer lun, long sizeBytes, long logicalUsedBytes,
            long storedBytes, long exclusiveBytes) {
        this(volume, target, lun, sizeBytes, logicalUsedBytes, storedBytes, exclusiveBytes, -1);
    }

    /** Logical capacity not yet written. */
    public long availableBytes() {
        return Math.max(0, sizeBytes - logicalUsedBytes);
    }

    /** Written share of the capacity, 0..100. */
    public double usePercent() {
        return StatsReport.percent(logicalUsedBytes, sizeBytes);
    }

    /** Space saved by deduplication and compression, 0..100: 1 - stored / logical used. */
    public double savingPercent() {
        return logicalUsedBytes == 0 ? 0 : Math.max(0, 100.0 - StatsReport.percent(storedBytes, logicalUsedBytes));
    }

    /** Logical used bytes / unique bytes; null when unknown (file/RAM LUNs) or nothing written. */
    @JsonProperty("dedupRatio")
    public Double dedupRatio() {
        return StatsReport.ratio(logicalUsedBytes, uniqueBytes);
    }

    /**
     * True when this volume deduplicates (inline or post-process) but its own dedup ratio stays
     * below {@link #LOW_DEDUP_RATIO} after at least {@link #LOW_DEDUP_MIN_BYTES} written: its data
     * does not dedup, and {@code dedup = "off"} would save the index work. False when unknown, and
     * while blocks wait for the post-process pass (they count as unique until it has run).
     */
    @JsonProperty("lowDedup")
    public boolean lowDedup() {
        Double r = dedupRatio();
        return dedupMode != null && !"off".equals(dedupMode) && r != null && r < LOW_DEDUP_RATIO
                && logicalUsedBytes >= LOW_DEDUP_MIN_BYTES && (stagedBlocks == null || stagedBlocks == 0);
    }

    /** Unique bytes / stored bytes; null when unknown (file/RAM LUNs) or nothing stored. */
    @JsonProperty("compressRatio")
    public Double compressRatio() {
        return StatsReport.ratio(uniqueBytes, storedBytes);
    }
}
