package io.orion.dedup.admin;

import java.util.Map;

/**
 * An administrative request the server refuses, with a one-line reason for the admin: no such
 * target, LUN in use, invalid value. The CLI prints the reason and exits 1 (2 for an invalid value
 * it can pin on an option). The control protocol carries it as a JSON-RPC error object,
 * {@code {"code": -32001, "message": "...", "data": {...}}}, its code from {@link AdminError}.
 */
public final class AdminException extends Exception {

    private final AdminError error;
    private final Map<String, Object> data;

    public AdminException(String reason) {
        this(AdminError.REFUSED, reason);
    }

    public AdminException(AdminError error, String reason) {
        this(error, reason, null);
    }

    /** With {@code data}: machine-readable details (e.g. {@code field}, {@code param}); null for none. */
    public AdminException(AdminError error, String reason, Map<String, Object> data) {
        super(reason);
        this.error = error;
        this.data = data;
    }

    /** The kind of refusal; its {@link AdminError#code()} is the protocol's error code. */
    public AdminError error() {
        return error;
    }

    /** Details of the error object ({@code error.data}), or null. */
    public Map<String, Object> data() {
        return data;
    }
}
