package io.orion.dedup.config;

import java.util.HashMap;
import java.util.Map;

/**
 * Maps each key of a TOML document to the 1-based line it is written on, so validation errors
 * found after parsing (Jackson's TOML reader builds a tree and forgets positions) can still name
 * the line.
 *
 * <p>Paths are dotted, with array elements as {@code [i]}: {@code deduplication.cache_size},
 * {@code pool.devices[1].size}, {@code lun[0].size}. The scanner understands tables, arrays of
 * tables, dotted and quoted keys, inline tables, arrays, all four string forms and comments. It
 * never fails: on text it cannot follow (which the TOML parser then reports as a syntax error) it
 * keeps what it found so far. {@link #line} falls back to the nearest enclosing path.
 */
final class TomlLineIndex {

    private final Map<String, Integer> lines = new HashMap<>();
    private final Map<String, String> values = new HashMap<>();
    private final Map<String, Integer> arrayTableCounts = new HashMap<>();
    private final String text;
    private int pos;
    private int line = 1;

    private TomlLineIndex(String text) {
        this.text = text;
    }

    /** Scans a document. */
    static TomlLineIndex of(String text) {
        TomlLineIndex index = new TomlLineIndex(text);
        try {
            index.document();
        } catch (RuntimeException ignored) {
            // Malformed input: the TOML parser reports it with its own location.
        }
        return index;
    }

    /** The line of {@code path} or of its nearest recorded ancestor; 0 if none. */
    int line(String path) {
        String p = path;
        while (p != null && !p.isEmpty()) {
            Integer l = lines.get(p);
            if (l != null) {
                return l;
            }
            p = parent(p);
        }
        return 0;
    }

    /** The value of {@code path} exactly as written (scalars and strings only), or null. */
    String raw(String path) {
        return values.get(path);
    }

    private static String parent(String p) {
        if (p.endsWith("]")) {
            return p.substring(0, p.lastIndexOf('['));
        }
        int dot = p.lastIndexOf('.');
        return dot < 0 ? null : p.substring(0, dot);
    }

    private void document() {
        String table = "";
        while (true) {
            skipBlank(true);
            if (pos >= text.length()) {
                return;
            }
            char c = text.charAt(pos);
            if (c == '[') {
                boolean array = pos + 1 < text.length() && text.charAt(pos + 1) == '[';
                pos += array ? 2 : 1;
                String name = resolveArrays(key(']'), array);
                pos += array ? 2 : 1;
                if (array) {
                    int i = arrayTableCounts.merge(name, 1, Integer::sum) - 1;
                    lines.putIfAbsent(name, line);
                    table = name + "[" + i + "]";
                } else {
                    table = name;
                }
                lines.putIfAbsent(table, line);
            } else {
                String k = key('=');
                String path = join(table, k);
                lines.putIfAbsent(path, line);
                pos++; // '='
                value(path);
            }
            skipLine();
        }
    }

    /**
     * Rewrites a header name so that segments naming an array of tables point at its latest
     * element: after {@code [[acl]]}, the header {@code [acl.chap]} means {@code acl[i].chap}.
     */
    private String resolveArrays(String name, boolean lastIsArray) {
        String[] parts = name.split("\\.");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < parts.length; i++) {
            if (i > 0) {
                sb.append('.');
            }
            sb.append(parts[i]);
            boolean last = i == parts.length - 1;
            Integer n = arrayTableCounts.get(sb.toString());
            if (n != null && !(last && lastIsArray)) {
                sb.append('[').append(n - 1).append(']');
            }
        }
        return sb.toString();
    }

    private static String join(String table, String key) {
        return table.isEmpty() ? key : table + "." + key;
    }

    /** Reads a (possibly dotted, possibly quoted) key up to {@code end}; leaves pos at end. */
    private String key(char end) {
        StringBuilder sb = new StringBuilder();
        while (true) {
            skipBlank(false);
            char c = text.charAt(pos);
            if (c == end) {
                return sb.toString();
            }
            if (c == '.') {
                sb.append('.');
                pos++;
            } else if (c == '"' || c == '\'') {
                int start = pos + 1;
                skipString();
                sb.append(text, start, pos - 1);
            } else {
                int start = pos;
                while (pos < text.length() && isBare(text.charAt(pos))) {
                    pos++;
                }
                if (start == pos) {
                    throw new IllegalStateException("bad key");
                }
                sb.append(text, start, pos);
            }
        }
    }

    private static boolean isBare(char c) {
        return Character.isLetterOrDigit(c) || c == '_' || c == '-';
    }

    private void value(String path) {
        skipBlank(false);
        char c = text.charAt(pos);
        int start = pos;
        if (c == '"' || c == '\'') {
            skipString();
            values.putIfAbsent(path, text.substring(start, pos));
        } else if (c == '[') {
            pos++;
            int i = 0;
            while (true) {
                skipBlank(true);
                if (text.charAt(pos) == ']') {
                    pos++;
                    return;
                }
                String element = path + "[" + i++ + "]";
                lines.putIfAbsent(element, line);
                value(element);
                skipBlank(true);
                if (text.charAt(pos) == ',') {
                    pos++;
                }
            }
        } else if (c == '{') {
            pos++;
            while (true) {
                skipBlank(false);
                char d = text.charAt(pos);
                if (d == '}') {
                    pos++;
                    return;
                }
                if (d == ',') {
                    pos++;
                    continue;
                }
                String k = key('=');
                String p = path + "." + k;
                lines.putIfAbsent(p, line);
                pos++;
                value(p);
            }
        } else {
            while (pos < text.length() && ",]}\n#".indexOf(text.charAt(pos)) < 0) {
                pos++;
            }
            values.putIfAbsent(path, text.substring(start, pos).strip());
        }
    }

    private void skipString() {
        char q = text.charAt(pos);
        boolean triple = text.startsWith(String.valueOf(q).repeat(3), pos);
        pos += triple ? 3 : 1;
        while (true) {
            char c = text.charAt(pos);
            if (c == '\\' && q == '"') {
                pos += 2;
                continue;
            }
            if (c == '\n') {
                line++;
            }
            if (c == q) {
                if (!triple) {
                    pos++;
                    return;
                }
                if (text.startsWith(String.valueOf(q).repeat(3), pos)) {
                    pos += 3;
                    while (pos < text.length() && text.charAt(pos) == q) {
                        pos++; // up to two quotes may close the content
                    }
                    return;
                }
            }
            pos++;
        }
    }

    /** Skips spaces, tabs and comments; with {@code newlines} also line breaks. */
    private void skipBlank(boolean newlines) {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\r') {
                pos++;
            } else if (c == '#') {
                while (pos < text.length() && text.charAt(pos) != '\n') {
                    pos++;
                }
            } else if (c == '\n' && newlines) {
                line++;
                pos++;
            } else {
                return;
            }
        }
    }

    private void skipLine() {
        while (pos < text.length() && text.charAt(pos) != '\n') {
            pos++;
        }
    }
}
