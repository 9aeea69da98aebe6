package io.orion.dedup.admin;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetAttributes;
import io.orion.dedup.config.TargetDefinition;
import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CLI side of the control protocol: an {@link AdminApi} whose every call is one request line
 * to a running server's control socket. Not thread-safe beyond one call at a time (calls are
 * synchronized).
 */
public final class AdminClient implements AdminApi, Closeable {

    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};

    private final LineChannel lines;
    private final ObjectMapper json = AdminJson.mapper();
    private long nextId = 1;

    private AdminClient(LineChannel lines) {
        this.lines = lines;
    }

    /**
     * Connects to a server's control socket.
     *
     * @throws IOException with a one-line, admin-readable message when there is no server
     *     ("server not running: no control socket at data/control.sock") or no permission
     */
    public static AdminClient connect(Path socket) throws IOException {
        if (!Files.exists(socket)) {
            throw new IOException("server not running: no control socket at " + socket);
        }
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
        } catch (AccessDeniedException e) {
            ch.close();
            throw new IOException("permission denied on " + socket + " (needs the server's user or group)");
        } catch (IOException e) {
            ch.close();
            String m = String.valueOf(e.getMessage());
            if (m.contains("ermission")) {
                throw new IOException("permission denied on " + socket + " (needs the server's user or group)");
            }
            throw new IOException("server not running: nothing listens on " + socket + " (" + m + ")");
        }
        return new AdminClient(new LineChannel(ch, 64 * AdminProtocol.MAX_LINE));
    }

    /**
     * Sends one request and returns its result node.
     *
     * @throws AdminException when the server answers with an error
     * @throws IOException when the connection fails
     */
    public synchronized JsonNode call(String method, Map<String, ?> params) throws AdminException, IOException {
        ObjectNode request = json.createObjectNode();
        long id = nextId++;
        request.put("jsonrpc", JsonRpcHandler.VERSION);
        request.put("method", method);
        request.set("params", json.valueToTree(params == null ? Map.of() : params));
        request.put("id", id);
        lines.writeLine(json.writeValueAsString(request));
        String line = lines.readLine();
        if (line == null) {
            throw new IOException("server closed the control connection");
        }
        JsonNode response = json.readTree(line);
        JsonNode error = response.get("error");
        if (error != null && error.isObject()) {
            JsonNode data = error.get("data");
            throw new AdminException(AdminError.of(error.path("code").asInt()), error.path("message").asText(),
                    data != null && data.isObject() ? json.convertValue(data, MAP) : null);
        }
        if (!JsonRpcHandler.VERSION.equals(response.path("jsonrpc").asText()) || response.path("id").asLong(-1) != id) {
            throw new IOException("control protocol out of step (expected response " + id + ")");
        }
        return response.get("result");
    }

    private <T> T call(String method, Map<String, ?> params, Class<T> type) throws AdminException, IOException {
        JsonNode r = call(method, params);
        return r == null || r.isNull() ? null : json.treeToValue(r, type);
    }

    private <T> List<T> callList(String method, Map<String, ?> params, Class<T> type) throws AdminException, IOException {
        JsonNode r = call(method, params);
        JavaType t = json.getTypeFactory().constructCollectionType(List.class, type);
        return r == null || r.isNull() ? List.of() : json.convertValue(r, t);
    }

    private Map<String, Object> callMap(String method) throws AdminException, IOException {
        JsonNode r = call(method, Map.of());
        return r == null || r.isNull() ? new LinkedHashMap<>() : json.convertValue(r, MAP);
    }

    private static Map<String, Object> params(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Override
    public List<TargetSummary> listTargets() throws AdminException, IOException {
        return callList(AdminProtocol.TARGET_LIST, Map.of(), TargetSummary.class);
    }

    @Override
    public TargetDefinition showTarget(String iqn) throws AdminException, IOException {
        return call(AdminProtocol.TARGET_SHOW, params("iqn", iqn), TargetDefinition.class);
    }

    @Override
    public TargetDefinition createTarget(String iqn, String alias, boolean demoMode) throws AdminException, IOException {
        return call(AdminProtocol.TARGET_CREATE, params("iqn", iqn, "alias", alias, "demoMode", demoMode),
                TargetDefinition.class);
    }

    @Override
    public TargetDefinition setAttributes(String iqn, TargetAttributes attributes) throws AdminException, IOException {
        return call(AdminProtocol.TARGET_SET, params("iqn", iqn, "attributes", attributes), TargetDefinition.class);
    }

    @Override
    public List<VolumeRelease> deleteTarget(String iqn, boolean force, boolean destroy)
            throws AdminException, IOException {
        return callList(AdminProtocol.TARGET_DELETE, params("iqn", iqn, "force", force, "destroy", destroy),
                VolumeRelease.class);
    }

    @Override
    public LunInfo createLun(String iqn, LunDefinition lun, boolean attach) throws AdminException, IOException {
        return call(AdminProtocol.LUN_CREATE, params("iqn", iqn, "lun", lun, "attach", attach), LunInfo.class);
    }

    @Override
    public VolumeRelease deleteLun(String iqn, int lun, boolean force, boolean destroy)
            throws AdminException, IOException {
        return call(AdminProtocol.LUN_DELETE, params("iqn", iqn, "lun", lun, "force", force, "destroy", destroy),
                VolumeRelease.class);
    }

    @Override
    public LunInfo cloneLun(String iqn, int lun, String toIqn, Integer toLun) throws AdminException, IOException {
        return call(AdminProtocol.LUN_CLONE, params("iqn", iqn, "lun", lun, "toIqn", toIqn, "toLun", toLun),
                LunInfo.class);
    }

    @Override
    public VolumeSummary snapshotLun(String iqn, int lun, String name) throws AdminException, IOException {
        return call(AdminProtocol.LUN_SNAPSHOT, params("iqn", iqn, "lun", lun, "name", name), VolumeSummary.class);
    }

    @Override
    public LunInfo rollbackLun(String iqn, int lun, String snapshot, boolean force) throws AdminException, IOException {
        return call(AdminProtocol.LUN_ROLLBACK, params("iqn", iqn, "lun", lun, "snapshot", snapshot, "force", force),
                LunInfo.class);
    }

    @Override
    public List<VolumeSummary> listVolumes() throws AdminException, IOException {
        return callList(AdminProtocol.VOLUME_LIST, Map.of(), VolumeSummary.class);
    }

    @Override
    public VolumeRelease deleteVolume(String name) throws AdminException, IOException {
        return call(AdminProtocol.VOLUME_DELETE, params("name", name), VolumeRelease.class);
    }

    @Override
    public LunInfo resizeLun(String iqn, int lun, long newSizeBytes) throws AdminException, IOException {
        return call(AdminProtocol.LUN_RESIZE, params("iqn", iqn, "lun", lun, "sizeBytes", newSizeBytes), LunInfo.class);
    }

    @Override
    public List<LunInfo> listLuns(String iqn) throws AdminException, IOException {
        return callList(AdminProtocol.LUN_LIST, params("iqn", iqn), LunInfo.class);
    }

    @Override
    public void addPortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        call(AdminProtocol.PORTAL_ADD, params("iqn", iqn, "tag", tag, "portal", portal));
    }

    @Override
    public void removePortal(String iqn, int tag, HostPort portal) throws AdminException, IOException {
        call(AdminProtocol.PORTAL_REMOVE, params("iqn", iqn, "tag", tag, "portal", portal));
    }

    @Override
    public void addAcl(String iqn, AclDefinition acl) throws AdminException, IOException {
        call(AdminProtocol.ACL_ADD, params("iqn", iqn, "acl", acl));
    }

    @Override
    public void removeAcl(String iqn, String initiator) throws AdminException, IOException {
        call(AdminProtocol.ACL_REMOVE, params("iqn", iqn, "initiator", initiator));
    }

    @Override
    public List<AclDefinition> listAcls(String iqn) throws AdminException, IOException {
        return callList(AdminProtocol.ACL_LIST, params("iqn", iqn), AclDefinition.class);
    }

    @Override
    public void setChap(String iqn, ChapScope scope, String initiator, ChapCredentials chap)
            throws AdminException, IOException {
        call(AdminProtocol.CHAP_SET, params("iqn", iqn, "scope", scope, "initiator", initiator, "chap", chap));
    }

    @Override
    public void clearChap(String iqn, ChapScope scope, String initiator) throws AdminException, IOException {
        call(AdminProtocol.CHAP_CLEAR, params("iqn", iqn, "scope", scope, "initiator", initiator));
    }

    @Override
    public StatusReport status() throws AdminException, IOException {
        return call(AdminProtocol.STATUS, Map.of(), StatusReport.class);
    }

    @Override
    public ReloadResult reload() throws AdminException, IOException {
        return call(AdminProtocol.RELOAD, Map.of(), ReloadResult.class);
    }

    @Override
    public SaveResult saveConfig() throws AdminException, IOException {
        return call(AdminProtocol.SAVECONFIG, Map.of(), SaveResult.class);
    }

    @Override
    public StatsReport stats(boolean verbose) throws AdminException, IOException {
        return call(AdminProtocol.STATS, params("verbose", verbose), StatsReport.class);
    }

    @Override
    public Map<String, Object> hashInfo() throws AdminException, IOException {
        return management(ManagementCommand.HASH_INFO);
    }

    @Override
    public Map<String, Object> hashOptimize() throws AdminException, IOException {
        return management(ManagementCommand.HASH_OPTIMIZE);
    }

    @Override
    public Map<String, Object> hashStats() throws AdminException, IOException {
        return management(ManagementCommand.HASH_STATS);
    }

    @Override
    public Map<String, Object> referenceInfo() throws AdminException, IOException {
        return management(ManagementCommand.REFERENCE_INFO);
    }

    @Override
    public Map<String, Object> referenceCleanup() throws AdminException, IOException {
        return management(ManagementCommand.REFERENCE_CLEANUP);
    }

    @Override
    public Map<String, Object> referenceStats() throws AdminException, IOException {
        return management(ManagementCommand.REFERENCE_STATS);
    }

    @Override
    public Map<String, Object> cacheInfo() throws AdminException, IOException {
        return management(ManagementCommand.CACHE_INFO);
    }

    @Override
    public Map<String, Object> cacheFlush() throws AdminException, IOException {
        return management(ManagementCommand.CACHE_FLUSH);
    }

    @Override
    public Map<String, Object> cacheStats() throws AdminException, IOException {
        return management(ManagementCommand.CACHE_STATS);
    }

    @Override
    public Map<String, Object> compressionInfo() throws AdminException, IOException {
        return management(ManagementCommand.COMPRESSION_INFO);
    }

    @Override
    public Map<String, Object> compressionOptimize() throws AdminException, IOException {
        return management(ManagementCommand.COMPRESSION_OPTIMIZE);
    }

    @Override
    public Map<String, Object> performanceStats() throws AdminException, IOException {
        return management(ManagementCommand.PERFORMANCE_STATS);
    }

    @Override
    public Map<String, Object> optimizationStats() throws AdminException, IOException {
        return management(ManagementCommand.OPTIMIZATION_STATS);
    }

    @Override
    public Map<String, Object> scrub() throws AdminException, IOException {
        return callMap(AdminProtocol.SCRUB);
    }

    @Override
    public Map<String, Object> scrub(boolean repair) throws AdminException, IOException {
        if (!repair) {
            return scrub(); // the request of servers before --repair
        }
        JsonNode r = call(AdminProtocol.SCRUB, params("repair", true));
        return r == null || r.isNull() ? new LinkedHashMap<>() : json.convertValue(r, MAP);
    }

    @Override
    public io.orion.dedup.jobs.JobInfo startJob(String kind, boolean repair) throws AdminException, IOException {
        if (!repair) {
            return startJob(kind);
        }
        return call(AdminProtocol.JOB_START, params("kind", kind, "repair", true), io.orion.dedup.jobs.JobInfo.class);
    }

    @Override
    public Map<String, Object> backup(String file) throws AdminException, IOException {
        JsonNode r = call(AdminProtocol.BACKUP, params("file", file));
        return r == null || r.isNull() ? new LinkedHashMap<>() : json.convertValue(r, MAP);
    }

    @Override
    public io.orion.dedup.jobs.JobInfo startJob(String kind) throws AdminException, IOException {
        return call(AdminProtocol.JOB_START, params("kind", kind), io.orion.dedup.jobs.JobInfo.class);
    }

    @Override
    public List<io.orion.dedup.jobs.JobInfo> listJobs() throws AdminException, IOException {
        return callList(AdminProtocol.JOB_LIST, Map.of(), io.orion.dedup.jobs.JobInfo.class);
    }

    @Override
    public io.orion.dedup.jobs.JobInfo showJob(long id) throws AdminException, IOException {
        return call(AdminProtocol.JOB_SHOW, params("id", id), io.orion.dedup.jobs.JobInfo.class);
    }

    @Override
    public io.orion.dedup.jobs.JobInfo cancelJob(long id) throws AdminException, IOException {
        return call(AdminProtocol.JOB_CANCEL, params("id", id), io.orion.dedup.jobs.JobInfo.class);
    }

    @Override
    public List<io.orion.dedup.jobs.JobSummary> jobSummary() throws AdminException, IOException {
        return callList(AdminProtocol.JOB_SUMMARY, Map.of(), io.orion.dedup.jobs.JobSummary.class);
    }

    @Override
    public List<RefcountBucket> refcountHistogram() throws AdminException, IOException {
        return callList(AdminProtocol.STATS_HISTOGRAM, Map.of(), RefcountBucket.class);
    }

    /** Runs a management command with one request. */
    @Override
    public Map<String, Object> management(ManagementCommand command) throws AdminException, IOException {
        return callMap(command.method());
    }

    @Override
    public void close() throws IOException {
        lines.close();
    }
}
