package io.orion.dedup.meta;

/**
 * One container as the {@code containers} database records it: its slot, whether it is sealed,
 * the end of its committed records, its live bytes and chunk count, and how many records
 * (live or dead) it holds below the committed end, and the bytes of its journal records (neither
 * live chunk bytes nor reclaimable garbage; 0 in a version 1 record).
 */
public record ContainerRecord(int id, int device, int slot, boolean sealed, long committedEnd, long liveBytes,
                              long liveCount, long records, long journalBytes) {

    /** A container without journal records. */
    public ContainerRecord(int id, int device, int slot, boolean sealed, long committedEnd, long liveBytes,
                           long liveCount, long records) {
        this(id, device, slot, sealed, committedEnd, liveBytes, liveCount, records, 0);
    }
}
