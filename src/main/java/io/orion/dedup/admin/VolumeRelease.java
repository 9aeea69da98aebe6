package io.orion.dedup.admin;

/**
 * What became of a volume when its LUN (or target) was deleted, or when it was deleted itself.
 *
 * @param volume volume name
 * @param backing {@code dedup}, {@code file} or {@code ram}
 * @param destroyed true: the volume is gone (its chunk references were dropped, or its file
 *     removed); false: it was kept, detached, and {@code volume delete} destroys it later
 * @param logicalUsedBytes bytes that were mapped in it (-1 when not known)
 * @param storedBytes bytes its blocks occupied in the pool; after a destroy, what reference
 *     cleanup can reclaim unless other volumes share the chunks (-1 when not known)
 */
public record VolumeRelease(String volume, String backing, boolean destroyed, long logicalUsedBytes,
        long storedBytes) {

    /** A one-line account for the CLI. */
    public String describe() {
        if (!destroyed) {
            return "volume " + volume + " was kept, detached (volume delete " + volume + " destroys it)";
        }
        if (backing.equals("dedup")) {
            return "volume " + volume + " was destroyed; its chunk references are dropped (dedup-reference-cleanup"
                    + " reclaims the space now, the background cleanup later)";
        }
        return "volume " + volume + " was destroyed";
    }
}
