package io.orion.dedup.admin;

/**
 * An administrative request the server refuses, with a one-line reason for the admin: no such
 * target, LUN in use, invalid value. The CLI prints the reason and exits 1. The control protocol
 * carries it as {@code {"error": "..."}}.
 */
public final class AdminException extends Exception {

    public AdminException(String reason) {
        super(reason);
    }
}
