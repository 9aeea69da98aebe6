package io.orion.dedup.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One table of a parsed TOML file, read key by key with typed getters that validate as they go.
 * Every getter records the key as known; {@link #finish()} then rejects every key nobody asked for.
 * Errors are {@link ConfigException}s naming file, line and fully qualified key.
 */
final class TomlSection {

    private static final TomlMapper MAPPER = new TomlMapper();
    private static final Pattern DURATION = Pattern.compile("([0-9]+)\\s*(s|m|h|d)", Pattern.CASE_INSENSITIVE);

    private final Path file;
    private final TomlLineIndex lines;
    private final String path;
    private final ObjectNode node;
    private final Set<String> asked = new LinkedHashSet<>();

    private TomlSection(Path file, TomlLineIndex lines, String path, ObjectNode node) {
        this.file = file;
        this.lines = lines;
        this.path = path;
        this.node = node;
    }

    /** Parses a whole file; syntax errors become ConfigExceptions with the parser's line. */
    static TomlSection read(Path file) throws ConfigException, IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file, 0, null, null, "file not found");
        }
        return parse(file, text);
    }

    /** Parses TOML text attributed to {@code file}. */
    static TomlSection parse(Path file, String text) throws ConfigException {
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JacksonException e) {
            JsonLocation loc = e.getLocation();
            int line = loc == null ? 0 : loc.getLineNr();
            throw new ConfigException(file, Math.max(line, 0), null, null,
                    "TOML syntax error: " + e.getOriginalMessage());
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            root = JsonNodeFactory.instance.objectNode();
        }
        return new TomlSection(file, TomlLineIndex.of(text), "", (ObjectNode) root);
    }

    Path file() {
        return file;
    }

    /** Fully qualified name of a key of this section. */
    String qualify(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** Line of a key of this section (or of the section itself when the key is absent). */
    int line(String key) {
        return lines.line(qualify(key));
    }

    boolean has(String key) {
        asked.add(key);
        return node.has(key);
    }

    /** An error about {@code key} of this section, quoting its value when present. */
    ConfigException error(String key, String reason) {
        JsonNode v = node.get(key);
        String raw = lines.raw(qualify(key));
        String value = v == null ? null : key.contains("secret") ? ChapCredentials.MASK : raw != null ? raw : render(v);
        return new ConfigException(file, line(key), qualify(key), value, reason);
    }

    /** An error about this section as a whole. */
    ConfigException error(String reason) {
        return new ConfigException(file, lines.line(path), path.isEmpty() ? null : path, null, reason);
    }

    private static String render(JsonNode v) {
        if (v.isTextual()) {
            return '"' + v.textValue() + '"';
        }
        return v.toString();
    }

    String string(String key, String def) throws ConfigException {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        if (!v.isTextual()) {
            throw error(key, "expected a string");
        }
        return v.textValue();
    }

    /** A string that must be one of {@code allowed} (case-insensitive); returns it lower-cased. */
    String choice(String key, String def, String... allowed) throws ConfigException {
        String s = string(key, def);
        if (s == null) {
            return null;
        }
        String lower = s.toLowerCase(Locale.ROOT);
        for (String a : allowed) {
            if (a.equals(lower)) {
                return lower;
            }
        }
        throw error(key, "unsupported value; accepted: " + String.join(", ", quoteAll(allowed)));
    }

    private static List<String> quoteAll(String... values) {
        List<String> out = new ArrayList<>();
        for (String v : values) {
            out.add('"' + v + '"');
        }
        return out;
    }

    /** The value of {@code key}, or null when absent; a present value must pass {@code ok}. */
    private JsonNode typed(String key, Predicate<JsonNode> ok, String expected) throws ConfigException {
        JsonNode v = get(key);
        if (v != null && !ok.test(v)) {
            throw error(key, expected);
        }
        return v;
    }

    boolean bool(String key, boolean def) throws ConfigException {
        JsonNode v = typed(key, JsonNode::isBoolean, "expected true or false");
        return v == null ? def : v.booleanValue();
    }

    long integer(String key, long def, long min, long max) throws ConfigException {
        JsonNode v = typed(key, x -> x.isIntegralNumber() && x.canConvertToLong(), "expected an integer");
        if (v == null) {
            return def;
        }
        long n = v.longValue();
        if (n < min || n > max) {
            throw error(key, "out of range " + min + ".." + max);
        }
        return n;
    }

    double number(String key, double def) throws ConfigException {
        JsonNode v = typed(key, JsonNode::isNumber, "expected a number");
        return v == null ? def : v.doubleValue();
    }

    /** A byte size: an integer (bytes) or a string such as "256MB" (see {@link ByteSize}). */
    long size(String key, long def, long min, long max) throws ConfigException {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        long n;
        if (v.isIntegralNumber() && v.canConvertToLong()) {
            n = v.longValue();
        } else if (v.isTextual()) {
            try {
                n = ByteSize.parse(v.textValue());
            } catch (IllegalArgumentException e) {
                throw error(key, e.getMessage());
            }
        } else {
            throw error(key, "expected a size such as 4096 or \"256MB\"");
        }
        if (n < min || n > max) {
            throw error(key, "out of range " + ByteSize.formatExact(min) + ".." + ByteSize.formatExact(max));
        }
        return n;
    }

    /** A duration in seconds: an integer or a string such as "300s", "5m", "1h", "1d". */
    long seconds(String key, long def, long min, long max) throws ConfigException {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        long n;
        if (v.isIntegralNumber() && v.canConvertToLong()) {
            n = v.longValue();
        } else if (v.isTextual()) {
            Matcher m = DURATION.matcher(v.textValue().strip());
            if (!m.matches()) {
                throw error(key, "expected seconds or a duration such as \"300s\", \"5m\", \"1h\"");
            }
            long unit = switch (Character.toLowerCase(m.group(2).charAt(0))) {
                case 'm' -> 60;
                case 'h' -> 3600;
                case 'd' -> 86400;
                default -> 1;
            };
            n = Long.parseLong(m.group(1)) * unit;
        } else {
            throw error(key, "expected seconds or a duration such as \"300s\", \"5m\", \"1h\"");
        }
        if (n < min || n > max) {
            throw error(key, "out of range " + min + ".." + max + " seconds");
        }
        return n;
    }

    List<String> strings(String key, List<String> def) throws ConfigException {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        if (!v.isArray()) {
            throw error(key, "expected an array of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isTextual()) {
                throw error(key, "expected an array of strings");
            }
            out.add(e.textValue());
        }
        return List.copyOf(out);
    }

    List<Long> integers(String key, List<Long> def, long min, long max) throws ConfigException {
        JsonNode v = get(key);
        if (v == null) {
            return def;
        }
        if (!v.isArray()) {
            throw error(key, "expected an array of integers");
        }
        List<Long> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isIntegralNumber() || !e.canConvertToLong()) {
                throw error(key, "expected an array of integers");
            }
            long n = e.longValue();
            if (n < min || n > max) {
                throw error(key, "element " + n + " out of range " + min + ".." + max);
            }
            out.add(n);
        }
        return List.copyOf(out);
    }

    /** A sub-table; an absent key gives an empty table (all defaults). */
    TomlSection table(String key) throws ConfigException {
        JsonNode v = get(key);
        if (v == null) {
            return new TomlSection(file, lines, qualify(key), JsonNodeFactory.instance.objectNode());
        }
        if (!v.isObject()) {
            throw error(key, "expected a table [" + qualify(key) + "]");
        }
        return new TomlSection(file, lines, qualify(key), (ObjectNode) v);
    }

    /** An array of tables ({@code [[key]]} or {@code key = [{...}, ...]}); absent gives empty. */
    List<TomlSection> tables(String key) throws ConfigException {
        JsonNode v = get(key);
        List<TomlSection> out = new ArrayList<>();
        if (v == null) {
            return out;
        }
        if (!v.isArray()) {
            throw error(key, "expected an array of tables ([[" + qualify(key) + "]])");
        }
        int i = 0;
        for (JsonNode e : v) {
            if (!e.isObject()) {
                throw error(key, "expected an array of tables ([[" + qualify(key) + "]])");
            }
            out.add(new TomlSection(file, lines, qualify(key) + "[" + i++ + "]", (ObjectNode) e));
        }
        return out;
    }

    /** Rejects every key of this table that no getter asked for. */
    void finish() throws ConfigException {
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!asked.contains(name)) {
                String hint = closest(name);
                throw new ConfigException(file, line(name), qualify(name), null,
                        "unknown key" + (hint == null ? "" : " (did you mean " + hint + "?)"));
            }
        }
    }

    private String closest(String name) {
        String best = null;
        int bestDistance = 3;
        for (String k : asked) {
            int d = distance(name, k);
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        return best;
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private JsonNode get(String key) {
        asked.add(key);
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? null : v;
    }
}
