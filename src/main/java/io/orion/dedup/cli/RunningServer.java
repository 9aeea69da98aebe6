package io.orion.dedup.cli;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;

/** A started Orion Dedup server as {@code serve} sees it. */
public interface RunningServer extends Closeable {

    /** The portals actually listening (with the real port when 0 was asked for). */
    List<InetSocketAddress> portals();

    /** Stops accepting, drops sessions, closes volumes and files. Idempotent. */
    @Override
    void close() throws IOException;

    /** Blocks until the server has stopped (after {@link #close()} or a fatal error). */
    void awaitTermination() throws InterruptedException;

    /**
     * Reads the target files again and applies what changed, keeping sessions (SIGHUP); returns a
     * one-line summary.
     *
     * @throws IOException when the files cannot be applied (nothing changed for a file with an error)
     */
    default String reload() throws IOException {
        throw new IOException("this server cannot reload its target files");
    }
}
