package io.orion.dedup.meta;

/**
 * One container as the {@code containers} database records it: its slot, whether it is sealed,
 * the end of its committed records, its live bytes and chunk count, and how many records
 * (live or dead) it holds below the committed end.
 */
public record ContainerRecord(int id, int device, int slot, boolean sealed, long committedEnd, long liveBytes,
                              long liveCount, long records) {
}
