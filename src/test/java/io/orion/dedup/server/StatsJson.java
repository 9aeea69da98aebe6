package io.orion.dedup.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Duration;

/** {@code orion-dedup stats --json} of a running server, and the engine's pool counters in it. */
final class StatsJson {

    private static final ObjectMapper JSON = new ObjectMapper();

    private StatsJson() {
    }

    static JsonNode fetch(Path data) throws Exception {
        ExternalTool.Result r = ExternalTool.run(Duration.ofMinutes(2), "scripts/orion-dedup", "stats", "--json",
                "--data", data.toString()).assertOk();
        String out = r.output();
        return JSON.readTree(out.substring(out.indexOf('{')));
    }

    /** The pool's engine counters: the object under a field "pool" that has "unique_chunks". */
    static JsonNode pool(JsonNode stats) {
        for (JsonNode n : stats.findValues("pool")) {
            if (n.has("unique_chunks")) {
                return n;
            }
        }
        throw new AssertionError("no pool counters with unique_chunks in " + stats.toPrettyString());
    }
}
