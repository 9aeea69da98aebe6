package io.orion.dedup.containers;

import java.io.IOException;

/**
 * Faults a test injects under a backing device ({@link BackingDevice#injectFaults}): before each
 * read, write or force the device asks its faults, which may throw the error a failing disk gives
 * (EIO as an {@link IOException} "Input/output error", ENOSPC) or delay the operation (a slow
 * disk). Production devices have {@link #NONE}.
 */
@FunctionalInterface
public interface DeviceFaults {

    /** What the device is about to do. */
    enum Op { READ, WRITE, FORCE }

    /** No faults. */
    DeviceFaults NONE = (op, pos, length) -> {
    };

    /**
     * Called before the device does {@code op} on {@code [pos, pos + length)} (for FORCE: the whole
     * device, pos 0 and length 0); throws to fail it, sleeps to slow it.
     */
    void before(Op op, long pos, long length) throws IOException;

    /** The error a failing disk gives: EIO. */
    static IOException eio(String where) {
        return new IOException("Input/output error (injected: " + where + ")");
    }

    /** Fails {@code op}s that touch {@code [from, to)} with EIO. */
    static DeviceFaults failRange(Op op, long from, long to) {
        return (o, pos, length) -> {
            if (o == op && pos < to && (o == Op.FORCE || pos + Math.max(1, length) > from)) {
                throw eio(o + " at " + pos);
            }
        };
    }

    /** Fails every {@code op} with EIO. */
    static DeviceFaults failAll(Op op) {
        return (o, pos, length) -> {
            if (o == op) {
                throw eio(o.toString());
            }
        };
    }

    /** Delays every {@code op} by {@code millis}. */
    static DeviceFaults slow(Op op, long millis) {
        return (o, pos, length) -> {
            if (o == op) {
                try {
                    Thread.sleep(millis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("slow device interrupted");
                }
            }
        };
    }
}
