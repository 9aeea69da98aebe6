package io.orion.dedup.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.LunDefinition;
import io.orion.dedup.config.TargetAttributes;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Server side of the control protocol: turns one request ({@code method} + {@code params}) into
 * an {@link AdminApi} call and its result into JSON. This is the only place where results leave
 * the server, so CHAP secrets are masked here.
 */
final class AdminDispatcher {

    private final AdminApi api;
    private final ObjectMapper json = AdminJson.mapper();

    AdminDispatcher(AdminApi api) {
        this.api = api;
    }

    JsonNode dispatch(String method, JsonNode params) throws AdminException, IOException {
        JsonNode p = params == null ? JsonNodeFactory.instance.objectNode() : params;
        Object result = switch (method) {
            case AdminProtocol.TARGET_LIST -> api.listTargets();
            case AdminProtocol.TARGET_SHOW -> api.showTarget(text(p, "iqn")).masked();
            case AdminProtocol.TARGET_CREATE -> api.createTarget(text(p, "iqn"), optText(p, "alias"),
                    p.path("demoMode").asBoolean(false)).masked();
            case AdminProtocol.TARGET_SET -> api.setAttributes(text(p, "iqn"), value(p, "attributes", TargetAttributes.class))
                    .masked();
            case AdminProtocol.TARGET_DELETE -> api.deleteTarget(text(p, "iqn"), p.path("force").asBoolean(false),
                    p.path("destroy").asBoolean(false));
            case AdminProtocol.LUN_CREATE -> api.createLun(text(p, "iqn"), value(withLunDefaults(p), "lun", LunDefinition.class),
                    p.path("attach").asBoolean(false));
            case AdminProtocol.LUN_DELETE -> api.deleteLun(text(p, "iqn"), integer(p, "lun"),
                    p.path("force").asBoolean(false), p.path("destroy").asBoolean(false));
            case AdminProtocol.VOLUME_LIST -> api.listVolumes();
            case AdminProtocol.VOLUME_DELETE -> api.deleteVolume(text(p, "name"));
            case AdminProtocol.LUN_RESIZE -> api.resizeLun(text(p, "iqn"), integer(p, "lun"), longValue(p, "sizeBytes"));
            case AdminProtocol.LUN_LIST -> api.listLuns(optText(p, "iqn"));
            case AdminProtocol.LUN_CLONE -> api.cloneLun(text(p, "iqn"), integer(p, "lun"), text(p, "toIqn"),
                    p.hasNonNull("toLun") ? integer(p, "toLun") : null);
            case AdminProtocol.LUN_SNAPSHOT -> api.snapshotLun(text(p, "iqn"), integer(p, "lun"), optText(p, "name"));
            case AdminProtocol.LUN_ROLLBACK -> api.rollbackLun(text(p, "iqn"), integer(p, "lun"), text(p, "snapshot"),
                    p.path("force").asBoolean(false));
            case AdminProtocol.PORTAL_ADD -> {
                api.addPortal(text(p, "iqn"), integer(p, "tag"), value(p, "portal", HostPort.class));
                yield null;
            }
            case AdminProtocol.PORTAL_REMOVE -> {
                api.removePortal(text(p, "iqn"), integer(p, "tag"), value(p, "portal", HostPort.class));
                yield null;
            }
            case AdminProtocol.ACL_ADD -> {
                api.addAcl(text(p, "iqn"), value(p, "acl", AclDefinition.class));
                yield null;
            }
            case AdminProtocol.ACL_REMOVE -> {
                api.removeAcl(text(p, "iqn"), text(p, "initiator"));
                yield null;
            }
            case AdminProtocol.ACL_LIST -> api.listAcls(text(p, "iqn")).stream().map(AclDefinition::masked).toList();
            case AdminProtocol.CHAP_SET -> {
                api.setChap(text(p, "iqn"), value(p, "scope", ChapScope.class), optText(p, "initiator"),
                        value(p, "chap", ChapCredentials.class));
                yield null;
            }
            case AdminProtocol.CHAP_CLEAR -> {
                api.clearChap(text(p, "iqn"), value(p, "scope", ChapScope.class), optText(p, "initiator"));
                yield null;
            }
            case AdminProtocol.STATUS -> api.status();
            case AdminProtocol.SAVECONFIG -> api.saveConfig();
            case AdminProtocol.STATS -> api.stats(p.path("verbose").asBoolean(false));
            case AdminProtocol.SCRUB -> api.scrub(flag(p, "repair"));
            case AdminProtocol.BACKUP -> api.backup(text(p, "file"));
            case AdminProtocol.RELOAD -> api.reload();
            case AdminProtocol.JOB_START -> api.startJob(text(p, "kind"), flag(p, "repair"));
            case AdminProtocol.JOB_LIST -> api.listJobs();
            case AdminProtocol.JOB_SHOW -> api.showJob(longValue(p, "id"));
            case AdminProtocol.JOB_CANCEL -> api.cancelJob(longValue(p, "id"));
            case AdminProtocol.JOB_SUMMARY -> api.jobSummary();
            case AdminProtocol.STATS_HISTOGRAM -> api.refcountHistogram();
            default -> {
                Optional<ManagementCommand> c = List.of(ManagementCommand.values()).stream()
                        .filter(m -> m.method().equals(method)).findFirst();
                if (c.isEmpty()) {
                    throw new AdminException(AdminError.METHOD_NOT_FOUND, "unknown method: " + method);
                }
                yield api.management(c.get());
            }
        };
        return json.valueToTree(result);
    }

    private static String text(JsonNode p, String name) throws AdminException {
        JsonNode v = p.get(name);
        if (v == null || !v.isTextual() || v.textValue().isEmpty()) {
            throw missing(name);
        }
        return v.textValue();
    }

    /** An optional boolean parameter: false when absent or null; anything but a boolean is refused. */
    private static boolean flag(JsonNode p, String name) throws AdminException {
        JsonNode v = p.get(name);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new AdminException(AdminError.INVALID_PARAMS, "parameter " + name + " must be true or false",
                    Map.of("param", name));
        }
        return v.booleanValue();
    }

    private static AdminException missing(String name) {
        return new AdminException(AdminError.INVALID_PARAMS, "missing parameter: " + name, Map.of("param", name));
    }

    private static String optText(JsonNode p, String name) {
        JsonNode v = p.get(name);
        return v == null || v.isNull() ? null : v.asText();
    }

    private static int integer(JsonNode p, String name) throws AdminException {
        JsonNode v = p.get(name);
        if (v == null || !v.canConvertToInt()) {
            throw missing(name);
        }
        return v.intValue();
    }

    private static long longValue(JsonNode p, String name) throws AdminException {
        JsonNode v = p.get(name);
        if (v == null || !v.canConvertToLong()) {
            throw missing(name);
        }
        return v.longValue();
    }

    /**
     * {@code params} with the target file's defaults filled into a {@code lun} object that leaves
     * them out: {@code backing} dedup, {@code thin} true, {@code blockSize} 512.
     */
    private static JsonNode withLunDefaults(JsonNode p) {
        if (!(p.get("lun") instanceof com.fasterxml.jackson.databind.node.ObjectNode lun)) {
            return p;
        }
        com.fasterxml.jackson.databind.node.ObjectNode l = lun.deepCopy();
        if (l.path("backing").isMissingNode() || l.path("backing").isNull()) {
            l.put("backing", io.orion.dedup.config.LunBacking.DEDUP.name());
        }
        if (!l.has("thin")) {
            l.put("thin", true);
        }
        if (!l.has("blockSize")) {
            l.put("blockSize", 512);
        }
        return ((com.fasterxml.jackson.databind.node.ObjectNode) p.deepCopy()).set("lun", l);
    }

    /**
     * The fields a request object cannot do without: one left out (or null) answers -32602
     * {@code missing parameter: <param>.<field>} instead of failing deeper in.
     */
    private static final Map<Class<?>, List<String>> REQUIRED_FIELDS = Map.of(
            io.orion.dedup.config.LunDefinition.class, List.of("id", "size"),
            io.orion.dedup.config.AclDefinition.class, List.of("initiator"),
            io.orion.dedup.config.HostPort.class, List.of("host"),
            io.orion.dedup.config.ChapCredentials.class, List.of("user", "secret"));

    private <T> T value(JsonNode p, String name, Class<T> type) throws AdminException {
        JsonNode v = p.get(name);
        if (v == null || v.isNull()) {
            throw missing(name);
        }
        if (v.isObject()) {
            for (String field : REQUIRED_FIELDS.getOrDefault(type, List.of())) {
                if (v.path(field).isMissingNode() || v.path(field).isNull()) {
                    throw missing(name + "." + field);
                }
            }
        }
        try {
            return json.treeToValue(v, type);
        } catch (IOException | IllegalArgumentException e) {
            throw new AdminException(AdminError.INVALID_PARAMS,
                    "bad parameter " + name + ": " + e.getMessage().lines().findFirst().orElse(""), Map.of("param", name));
        }
    }
}
