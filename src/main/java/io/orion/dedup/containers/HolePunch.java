package io.orion.dedup.containers;

import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives a byte range of a plain file back to its file system ({@code fallocate(2)} with
 * FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE; Linux, through jnr-ffi, which lmdbjava already
 * brings). A freed container slot below a file's top keeps its place but no longer its blocks, so
 * space freed by cleanup is usable by everything on that file system (the metadata too), not
 * only by the pool's next containers. Where the call is unavailable or refused, nothing happens:
 * the slot is still reused by the pool.
 */
final class HolePunch {
    private static final Logger LOG = LoggerFactory.getLogger(HolePunch.class);
    private static final int O_WRONLY = 1;
    private static final int O_RDWR = 2;
    /** {@link #allocate} could not be done here (no C library, or the file system cannot). */
    static final int UNSUPPORTED = -1;
    static final int ENOSPC = 28;
    static final int EDQUOT = 122;
    private static final int FALLOC_FL_KEEP_SIZE = 1;
    private static final int FALLOC_FL_PUNCH_HOLE = 2;

    /** The few C library calls used. */
    public interface LibC {
        int open(String path, int flags);

        int fallocate(int fd, int mode, long offset, long length);

        int posix_fallocate(int fd, long offset, long length);

        int close(int fd);
    }

    private static final LibC C = load();

    private HolePunch() {
    }

    private static LibC load() {
        try {
            return jnr.ffi.LibraryLoader.create(LibC.class).load("c");
        } catch (RuntimeException | LinkageError e) {
            LOG.info("fallocate unavailable ({}): freed container slots keep their blocks", e.toString());
            return null;
        }
    }

    /** Punches {@code [offset, offset + length)} out of {@code file}; false when it could not. */
    static boolean punch(Path file, long offset, long length) {
        if (C == null) {
            return false;
        }
        int fd = C.open(file.toString(), O_WRONLY);
        if (fd < 0) {
            return false;
        }
        try {
            return C.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) == 0;
        } finally {
            C.close(fd);
        }
    }

    /**
     * Allocates the blocks of {@code [offset, offset + length)} of {@code file} ({@code
     * posix_fallocate}; the file grows to cover the range if it is shorter), so later writes there
     * need no new space from the file system.
     *
     * @return 0 when done, ENOSPC or EDQUOT when the file system is full, {@link #UNSUPPORTED}
     *     when the call is unavailable or the file system cannot do it
     */
    static int allocate(Path file, long offset, long length) {
        if (C == null) {
            return UNSUPPORTED;
        }
        int fd = C.open(file.toString(), O_RDWR);
        if (fd < 0) {
            return UNSUPPORTED;
        }
        try {
            int r = C.posix_fallocate(fd, offset, length);
            return r == 0 || r == ENOSPC || r == EDQUOT ? r : UNSUPPORTED;
        } finally {
            C.close(fd);
        }
    }
}
