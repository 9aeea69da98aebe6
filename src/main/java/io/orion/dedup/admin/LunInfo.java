package io.orion.dedup.admin;

/**
 * One line of {@code lun list}: a LUN's definition and whether sessions use it.
 *
 * @param target target name
 * @param lun logical unit number
 * @param volume volume name
 * @param sizeBytes capacity
 * @param blockSize logical block size
 * @param dedupBlockSize chunk size of a dedup volume (0 for file/RAM LUNs)
 * @param readOnly write-protected
 * @param thin thin-provisioned
 * @param backing {@code dedup}, {@code file} or {@code ram}
 * @param sessions sessions that can currently reach this LUN
 * @param origin the volume this LUN's volume was cloned from ({@code lun clone}), or null
 * @param originTime when (ISO-8601, UTC), or null
 * @param dedupMode how a dedup LUN's volume deduplicates ({@code inline}, {@code post}, {@code off}),
 *     or null (file/RAM LUNs, unknown)
 */
public record LunInfo(String target, int lun, String volume, long sizeBytes, int blockSize, int dedupBlockSize,
        boolean readOnly, boolean thin, String backing, int sessions, String origin, String originTime,
        String dedupMode) {

    /** A LUN whose dedup mode is not known. */
    public LunInfo(String target, int lun, String volume, long sizeBytes, int blockSize, int dedupBlockSize,
            boolean readOnly, boolean thin, String backing, int sessions, String origin, String originTime) {
        this(target, lun, volume, sizeBytes, blockSize, dedupBlockSize, readOnly, thin, backing, sessions, origin,
                originTime, null);
    }

    /** A LUN whose volume has no origin. */
    public LunInfo(String target, int lun, String volume, long sizeBytes, int blockSize, int dedupBlockSize,
            boolean readOnly, boolean thin, String backing, int sessions) {
        this(target, lun, volume, sizeBytes, blockSize, dedupBlockSize, readOnly, thin, backing, sessions, null, null);
    }

    /** "VOLUME @ TIME" of the origin, or "-". */
    public String originText() {
        return origin == null ? "-" : origin + (originTime == null ? "" : " @ " + originTime);
    }
}
