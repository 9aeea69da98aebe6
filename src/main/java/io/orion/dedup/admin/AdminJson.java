package io.orion.dedup.admin;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import io.orion.dedup.config.HostPort;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The JSON mapping of the control protocol and of {@code --json} output: records by component
 * name, paths as plain strings, portals as {@code "host:port"}, unknown fields ignored (a newer
 * server may send more).
 */
public final class AdminJson {

    private static final ObjectMapper MAPPER = create();
    private static final ObjectMapper OUTPUT = createOutput();

    /** Keys ending in {@code _bytes} that may legitimately be negative (a difference), never "unknown". */
    private static final java.util.Set<String> SIGNED_BYTES = java.util.Set.of("compression_saved_bytes");

    private AdminJson() {}

    /** The shared, thread-safe mapper. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /**
     * The mapper of the CLI's {@code --json} output (not of the control protocol): one key style,
     * snake_case ({@code size_bytes}); enums lowercase ({@code "dedup"}); see {@link #output(Object)}
     * for unknown values.
     */
    public static ObjectMapper outputMapper() {
        return OUTPUT;
    }

    /**
     * {@code value} as the CLI prints it with {@code --json}: the {@link #outputMapper()} tree, in
     * which a size or byte count the server reports as {@code -1} ("unknown", "unlimited") is
     * {@code null}.
     */
    public static com.fasterxml.jackson.databind.JsonNode output(Object value) {
        com.fasterxml.jackson.databind.JsonNode tree = OUTPUT.valueToTree(value);
        nullUnknown(tree);
        if (tree instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
            nestNamed(o);
        }
        return tree;
    }

    /** A management figure about one named volume or LUN: {@code volume.<name>.<figure>}. */
    private static final java.util.regex.Pattern NAMED = java.util.regex.Pattern.compile("(volume|lun)\\.(.+)\\.([a-z0-9_]+)");

    /**
     * Keys are snake_case; names are data: the management commands' figures about one volume or
     * LUN ({@code volume.default-0.references}, {@code lun.<iqn>/0.read_commands}; so the tables
     * show them) become {@code "by_volume": {"default-0": {"references": ...}}} and
     * {@code "by_lun": {"<iqn>/0": {"read_commands": ...}}}.
     */
    private static void nestNamed(com.fasterxml.jackson.databind.node.ObjectNode o) {
        List<String> keys = new java.util.ArrayList<>();
        o.fieldNames().forEachRemaining(keys::add);
        for (String k : keys) {
            java.util.regex.Matcher m = NAMED.matcher(k);
            if (m.matches()) {
                String group = "by_" + m.group(1);
                com.fasterxml.jackson.databind.node.ObjectNode g = o.get(group) instanceof com.fasterxml.jackson.databind.node.ObjectNode x
                        ? x : o.putObject(group);
                com.fasterxml.jackson.databind.node.ObjectNode named = g.get(m.group(2))
                        instanceof com.fasterxml.jackson.databind.node.ObjectNode x ? x : g.putObject(m.group(2));
                named.set(m.group(3), o.remove(k));
            }
        }
    }

    private static void nullUnknown(com.fasterxml.jackson.databind.JsonNode n) {
        if (n instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
            java.util.List<String> unknown = new java.util.ArrayList<>();
            o.fields().forEachRemaining(e -> {
                com.fasterxml.jackson.databind.JsonNode v = e.getValue();
                if (v.isIntegralNumber() && v.longValue() == -1 && e.getKey().endsWith("_bytes")
                        && !SIGNED_BYTES.contains(e.getKey())) {
                    unknown.add(e.getKey());
                } else {
                    nullUnknown(v);
                }
            });
            unknown.forEach(o::putNull);
        } else if (n instanceof com.fasterxml.jackson.databind.node.ArrayNode a) {
            a.forEach(AdminJson::nullUnknown);
        }
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    private static ObjectMapper createOutput() {
        SimpleModule m = new SimpleModule("orion-output");
        m.addSerializer(Enum.class, new JsonSerializer<Enum>() {
            @Override
            public void serialize(Enum value, JsonGenerator gen, SerializerProvider p) throws IOException {
                gen.writeString(value.name().toLowerCase(java.util.Locale.ROOT));
            }
        });
        return create()
                .registerModule(m)
                .setPropertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE)
                .enable(com.fasterxml.jackson.databind.MapperFeature.ALLOW_EXPLICIT_PROPERTY_RENAMING);
    }

    private static ObjectMapper create() {
        SimpleModule m = new SimpleModule("orion-admin");
        m.addSerializer(Path.class, new JsonSerializer<>() {
            @Override
            public void serialize(Path value, JsonGenerator gen, SerializerProvider p) throws IOException {
                gen.writeString(value.toString());
            }

            @Override
            public Class<Path> handledType() {
                return Path.class;
            }
        });
        m.addDeserializer(Path.class, new JsonDeserializer<>() {
            @Override
            public Path deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
                return Path.of(p.getValueAsString());
            }
        });
        m.addSerializer(HostPort.class, new JsonSerializer<>() {
            @Override
            public void serialize(HostPort value, JsonGenerator gen, SerializerProvider p) throws IOException {
                gen.writeString(value.toString());
            }
        });
        m.addDeserializer(HostPort.class, new JsonDeserializer<>() {
            @Override
            public HostPort deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
                try {
                    return HostPort.parse(p.getValueAsString(), HostPort.ISCSI_PORT);
                } catch (IllegalArgumentException e) {
                    return (HostPort) ctx.handleWeirdStringValue(HostPort.class, p.getValueAsString(), e.getMessage());
                }
            }
        });
        return new ObjectMapper()
                .registerModule(m)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
    }
}
