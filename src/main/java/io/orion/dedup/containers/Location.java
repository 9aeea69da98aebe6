package io.orion.dedup.containers;

/**
 * Where one chunk record lives: container id, byte offset of the record inside its container, and
 * the record's total length (header plus payload).
 */
public record Location(int containerId, int offset, int length) {
    /** The byte just past this record inside its container. */
    public long end() {
        return (long) offset + length;
    }
}
