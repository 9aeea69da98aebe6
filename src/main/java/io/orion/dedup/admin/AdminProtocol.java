package io.orion.dedup.admin;

/**
 * The control protocol on {@code <data>/control.sock}: JSON-RPC 2.0 (https://www.jsonrpc.org/specification)
 * over a Unix domain socket, one request (or batch) per line, one response line per request that
 * has an id, in order. docs/control-protocol.md is the full description.
 *
 * <pre>
 * request:  {"jsonrpc": "2.0", "method": "lun.create", "params": {"iqn": "...", "lun": {...}}, "id": 7}
 * success:  {"jsonrpc": "2.0", "result": {...}, "id": 7}     (result null for commands without output)
 * failure:  {"jsonrpc": "2.0", "error": {"code": -32002, "message": "LUN 1 already exists in ..."}, "id": 7}
 * </pre>
 *
 * <p>Methods are the constants below plus one per {@link ManagementCommand#method()}
 * ({@code dedup.hash-info}, ...). Parameters are named (an object) as in {@link AdminApi}. Error
 * codes are those of {@link AdminError}. A request without an id is a notification: it runs and
 * gets no answer. A line longer than {@link #MAX_LINE} bytes gets an error and the connection is
 * closed.
 */
public final class AdminProtocol {

    public static final String TARGET_LIST = "target.list";
    public static final String TARGET_SHOW = "target.show";
    public static final String TARGET_CREATE = "target.create";
    public static final String TARGET_SET = "target.set";
    public static final String TARGET_DELETE = "target.delete";
    public static final String LUN_CREATE = "lun.create";
    public static final String LUN_DELETE = "lun.delete";
    public static final String LUN_RESIZE = "lun.resize";
    public static final String LUN_LIST = "lun.list";
    public static final String LUN_CLONE = "lun.clone";
    public static final String LUN_SNAPSHOT = "lun.snapshot";
    public static final String LUN_ROLLBACK = "lun.rollback";
    public static final String VOLUME_LIST = "volume.list";
    public static final String VOLUME_DELETE = "volume.delete";
    public static final String PORTAL_ADD = "portal.add";
    public static final String PORTAL_REMOVE = "portal.remove";
    public static final String ACL_ADD = "acl.add";
    public static final String ACL_REMOVE = "acl.remove";
    public static final String ACL_LIST = "acl.list";
    public static final String CHAP_SET = "chap.set";
    public static final String CHAP_CLEAR = "chap.clear";
    public static final String STATUS = "status";
    public static final String SAVECONFIG = "saveconfig";
    public static final String STATS = "stats";
    public static final String SCRUB = "scrub";
    public static final String BACKUP = "backup";
    public static final String RELOAD = "reload";
    public static final String JOB_START = "job.start";
    public static final String JOB_LIST = "job.list";
    public static final String JOB_SHOW = "job.show";
    public static final String JOB_CANCEL = "job.cancel";
    public static final String JOB_SUMMARY = "job.summary";
    public static final String STATS_HISTOGRAM = "stats.histogram";

    /** Longest request or response line accepted, in bytes. */
    public static final int MAX_LINE = 1 << 20;

    private AdminProtocol() {}
}
