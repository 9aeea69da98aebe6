package io.orion.dedup.dedup;

import java.io.IOException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether a pool takes writes: open or closed, and read-only with the first reason found (damaged
 * metadata, a failed flush, a damaged chunk record). Every component that writes asks it
 * ({@link #checkWritable()}) and every one that finds damage reports it ({@link #untrust}); the
 * pool only creates it and closes it.
 */
final class PoolHealth {
    private static final Logger LOG = LoggerFactory.getLogger(PoolHealth.class);

    private final Path metadataDir;
    private volatile String readOnlyReason;
    private volatile boolean closed;

    /** {@code readOnly}: the reason the pool opens read-only, or null. */
    PoolHealth(Path metadataDir, String readOnly) {
        this.metadataDir = metadataDir;
        this.readOnlyReason = readOnly;
    }

    boolean isClosed() {
        return closed;
    }

    /** Marks the pool closed; false if it already was. */
    boolean close() {
        if (closed) {
            return false;
        }
        closed = true;
        return true;
    }

    /** Why the pool is read-only, or null. */
    String readOnlyReason() {
        return readOnlyReason;
    }

    /** Throws unless the pool is open and writable. */
    void checkWritable() throws IOException {
        if (closed) {
            throw new IOException("pool is closed");
        }
        String r = readOnlyReason;
        if (r != null) {
            throw new io.orion.dedup.blockdev.ReadOnlyVolumeException("pool is read-only: " + r);
        }
    }

    /** Turns the pool read-only (first reason wins). */
    synchronized void untrust(String reason) {
        if (readOnlyReason == null) {
            readOnlyReason = reason;
            LOG.error("pool {} is now read-only: {}", metadataDir, reason);
        }
    }
}
