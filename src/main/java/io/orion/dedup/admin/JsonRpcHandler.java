package io.orion.dedup.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JSON-RPC 2.0 side of the control socket (https://www.jsonrpc.org/specification): one request
 * line in, the response line out (null for none: a notification, or a batch of notifications).
 * Requests are objects or batches (arrays) of objects; every call goes through the
 * {@link AdminDispatcher} and is audited as before ({@link ControlAudit}); protocol failures
 * (parse error, invalid request) are answered but not audited, as they name no method.
 */
final class JsonRpcHandler {

    private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);

    static final String VERSION = "2.0";

    private final AdminDispatcher dispatcher;
    private final ObjectMapper json = AdminJson.mapper();

    JsonRpcHandler(AdminDispatcher dispatcher) {
        this.dispatcher = dispatcher;
    }

    /** The response to one line: a JSON text, or null when nothing is to be sent. */
    String handle(String line, ControlAudit.Peer peer) throws JsonProcessingException {
        JsonNode request;
        try {
            request = json.readTree(line);
        } catch (JsonProcessingException e) {
            return json.writeValueAsString(error(NullNode.instance, AdminError.PARSE_ERROR, "parse error: request is not JSON", null));
        }
        if (request == null || request.isMissingNode()) {
            return json.writeValueAsString(error(NullNode.instance, AdminError.PARSE_ERROR, "parse error: request is not JSON", null));
        }
        if (request.isArray()) {
            if (request.isEmpty()) {
                return json.writeValueAsString(error(NullNode.instance, AdminError.INVALID_REQUEST,
                        "invalid request: empty batch", null));
            }
            ArrayNode responses = json.createArrayNode();
            for (JsonNode r : request) {
                ObjectNode response = call(r, peer);
                if (response != null) {
                    responses.add(response);
                }
            }
            return responses.isEmpty() ? null : json.writeValueAsString(responses);
        }
        ObjectNode response = call(request, peer);
        return response == null ? null : json.writeValueAsString(response);
    }

    /** The answer to an over-long line (the connection is then closed: the line's end is lost). */
    String tooLong(int max) throws JsonProcessingException {
        return json.writeValueAsString(error(NullNode.instance, AdminError.INVALID_REQUEST,
                "invalid request: longer than " + max + " bytes", null));
    }

    /** One call: its response, or null for a notification. */
    private ObjectNode call(JsonNode request, ControlAudit.Peer peer) {
        if (!request.isObject()) {
            return error(NullNode.instance, AdminError.INVALID_REQUEST, "invalid request: not a JSON object", null);
        }
        JsonNode id = request.get("id");
        boolean notification = id == null;
        if (id != null && !(id.isTextual() || id.isNumber() || id.isNull())) {
            return error(NullNode.instance, AdminError.INVALID_REQUEST, "invalid request: id must be a string, a number or null",
                    null);
        }
        JsonNode replyId = id == null ? NullNode.instance : id;
        JsonNode version = request.get("jsonrpc");
        if (version == null || !version.isTextual() || !VERSION.equals(version.textValue())) {
            return error(replyId, AdminError.INVALID_REQUEST, "invalid request: \"jsonrpc\" must be \"2.0\"", null);
        }
        JsonNode m = request.get("method");
        if (m == null || !m.isTextual()) {
            return error(replyId, AdminError.INVALID_REQUEST, "invalid request: \"method\" must be a string", null);
        }
        String method = m.textValue();
        JsonNode params = request.get("params");
        ObjectNode response;
        try {
            if (params != null && !params.isObject()) {
                throw new AdminException(AdminError.INVALID_PARAMS, "invalid params: \"params\" must be an object (named parameters)");
            }
            JsonNode result = dispatcher.dispatch(method, params);
            response = json.createObjectNode();
            response.put("jsonrpc", VERSION);
            response.set("result", result);
            response.set("id", replyId);
            ControlAudit.log(peer, method, params, null, false);
        } catch (AdminException e) {
            response = error(replyId, e.error(), e.getMessage(), e.data());
            ControlAudit.log(peer, method, params, e.getMessage(), true);
        } catch (IOException e) {
            LOG.warn("control request {} failed", method, e);
            String message = "I/O error: " + e.getMessage();
            response = error(replyId, AdminError.IO_ERROR, message, null);
            ControlAudit.log(peer, method, params, message, false);
        } catch (RuntimeException e) {
            LOG.error("control request {} failed", method, e);
            String message = "internal error: " + e;
            response = error(replyId, AdminError.INTERNAL_ERROR, message, null);
            ControlAudit.log(peer, method, params, message, false);
        }
        return notification ? null : response;
    }

    private ObjectNode error(JsonNode id, AdminError kind, String message, Map<String, Object> data) {
        ObjectNode response = json.createObjectNode();
        response.put("jsonrpc", VERSION);
        ObjectNode error = response.putObject("error");
        error.put("code", kind.code());
        error.put("message", message);
        if (data != null && !data.isEmpty()) {
            error.set("data", json.valueToTree(data));
        }
        response.set("id", id);
        return response;
    }
}
