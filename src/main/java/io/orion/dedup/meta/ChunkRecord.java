package io.orion.dedup.meta;

import io.orion.dedup.containers.Location;

/**
 * One unique chunk as the {@code chunks} database records it: its fingerprint, where its record
 * lives, its lengths, flags and reference count.
 */
public record ChunkRecord(long id, byte[] fingerprint, int containerId, int offset, int length,
                          int originalLength, int flags, int refCount) {

    public Location location() {
        return new Location(containerId, offset, length);
    }

    public ChunkRecord withRefCount(int n) {
        return new ChunkRecord(id, fingerprint, containerId, offset, length, originalLength, flags, n);
    }

    /** The same chunk with its fingerprint known (the post-process pass hashed an unhashed chunk). */
    public ChunkRecord withFingerprint(byte[] fp) {
        return new ChunkRecord(id, fp, containerId, offset, length, originalLength, flags, refCount);
    }

    public ChunkRecord withLocation(Location loc) {
        return new ChunkRecord(id, fingerprint, loc.containerId(), loc.offset(), loc.length(), originalLength, flags,
                refCount);
    }

    /** The same chunk stored in another record of another form (recompression): new location and flags. */
    public ChunkRecord withStorage(Location loc, int newFlags) {
        return new ChunkRecord(id, fingerprint, loc.containerId(), loc.offset(), loc.length(), originalLength, newFlags,
                refCount);
    }
}
