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
 */
public record LunInfo(String target, int lun, String volume, long sizeBytes, int blockSize, int dedupBlockSize,
        boolean readOnly, boolean thin, String backing, int sessions) {}
