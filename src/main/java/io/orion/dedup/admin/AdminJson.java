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

/**
 * The JSON mapping of the control protocol and of {@code --json} output: records by component
 * name, paths as plain strings, portals as {@code "host:port"}, unknown fields ignored (a newer
 * server may send more).
 */
public final class AdminJson {

    private static final ObjectMapper MAPPER = create();

    private AdminJson() {}

    /** The shared, thread-safe mapper. */
    public static ObjectMapper mapper() {
        return MAPPER;
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
