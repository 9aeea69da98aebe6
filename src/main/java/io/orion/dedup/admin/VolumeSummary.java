package io.orion.dedup.admin;

/**
 * One line of {@code volume list}: a volume that holds a LUN's blocks, attached to a LUN or kept
 * detached (its data stays until {@code volume delete}).
 *
 * @param volume volume name
 * @param backing {@code dedup}, {@code file} or {@code ram}
 * @param sizeBytes capacity (a detached image file: its length)
 * @param blockSize logical block size, or 0 where the volume does not record one (a detached file)
 * @param dedupBlockSize chunk size of a dedup volume (0 for file/RAM)
 * @param logicalUsedBytes bytes of mapped (written) blocks, or -1 when not known
 * @param storedBytes bytes the volume's mapped blocks occupy after deduplication and compression
 *     (file/RAM: as used), or -1 when not known
 * @param path backing file of a file volume, else null
 * @param target target of the LUN it backs, or null when detached
 * @param lun that LUN, or null when detached
 * @param readOnly a snapshot (a read-only clone: writes get DATA PROTECT)
 * @param origin the volume it was cloned or snapshotted from, or null
 * @param originTime when (ISO-8601, UTC), or null
 * @param exclusiveBytes stored bytes only this volume references (what deleting it frees), -1 when not known
 */
public record VolumeSummary(String volume, String backing, long sizeBytes, int blockSize, int dedupBlockSize,
        long logicalUsedBytes, long storedBytes, String path, String target, Integer lun, boolean readOnly,
        String origin, String originTime, long exclusiveBytes) {

    /** A volume without origin (created empty). */
    public VolumeSummary(String volume, String backing, long sizeBytes, int blockSize, int dedupBlockSize,
            long logicalUsedBytes, long storedBytes, String path, String target, Integer lun) {
        this(volume, backing, sizeBytes, blockSize, dedupBlockSize, logicalUsedBytes, storedBytes, path, target, lun,
                false, null, null, -1);
    }

    /** "VOLUME @ TIME" of the origin (with "(snapshot)" for a read-only one), or "-". */
    public String originText() {
        String o = origin == null ? "-" : origin + (originTime == null ? "" : " @ " + originTime);
        return readOnly ? "(snapshot) " + o : o;
    }

    /** True while a LUN uses it. */
    public boolean attached() {
        return target != null;
    }

    /** The same volume attached to a LUN (or detached with nulls). */
    public VolumeSummary attachedTo(String iqn, Integer id) {
        return new VolumeSummary(volume, backing, sizeBytes, blockSize, dedupBlockSize, logicalUsedBytes, storedBytes,
                path, iqn, id, readOnly, origin, originTime, exclusiveBytes);
    }

    /** "LUN n of iqn" or "detached". */
    public String where() {
        return target == null ? "detached" : "LUN " + lun + " of " + target;
    }
}
