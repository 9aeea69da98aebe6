package io.orion.dedup.admin;

/**
 * The error codes of the control protocol (JSON-RPC 2.0 error objects, {@code error.code}): the five
 * codes the JSON-RPC specification reserves for protocol failures, and the application codes
 * (-32000..-32099, the range the specification leaves to the server) for the refusals an admin
 * sees. docs/control-protocol.md lists them; a code never changes meaning once published.
 */
public enum AdminError {

    /** The line is not JSON. */
    PARSE_ERROR(-32700),
    /** JSON, but not a JSON-RPC 2.0 request object ({@code jsonrpc} not "2.0", no method, a bad id, an empty batch). */
    INVALID_REQUEST(-32600),
    /** No such method. */
    METHOD_NOT_FOUND(-32601),
    /** A parameter is missing or of the wrong type ({@code data.param} names it). */
    INVALID_PARAMS(-32602),
    /** The server failed unexpectedly (a bug): the request may or may not have taken effect. */
    INTERNAL_ERROR(-32603),

    /** The server refuses the request for a reason none of the codes below names. */
    REFUSED(-32000),
    /** What the request names does not exist: target, LUN, ACL, portal group, volume, job, pool. */
    NOT_FOUND(-32001),
    /** What the request would create exists already: target, LUN, volume, portal. */
    ALREADY_EXISTS(-32002),
    /**
     * A value is invalid ({@code data.field} is its key in the target definition, e.g.
     * {@code lun[1].size}); the CLI names the option that set it and exits 2.
     */
    INVALID_VALUE(-32003),
    /** The object is in use (sessions logged in to the LUN or target); {@code --force} overrides. */
    BUSY(-32004),
    /** The pool is read-only ({@code stats} and {@code status} say why); nothing was changed. */
    READ_ONLY(-32005),
    /** This server cannot do that (a feature it does not have). */
    NOT_SUPPORTED(-32006),
    /** A server-side I/O failure (a file or the device) while carrying the request out. */
    IO_ERROR(-32010);

    private final int code;

    AdminError(int code) {
        this.code = code;
    }

    /** The code on the wire. */
    public int code() {
        return code;
    }

    /** The error of {@code code}; {@link #REFUSED} for an application code this client does not know. */
    public static AdminError of(int code) {
        for (AdminError e : values()) {
            if (e.code == code) {
                return e;
            }
        }
        return code >= -32099 && code <= -32000 ? REFUSED : INTERNAL_ERROR;
    }
}
