package io.orion.dedup.config;

import java.nio.file.Path;

/**
 * A configuration or target-definition file that cannot be used as written: a syntax error, an
 * unknown key, a value of the wrong type, out of range, or a setting this build cannot honour.
 *
 * <p>The message always names the file, the line (when known) and the key, so an administrator
 * can fix the file without guessing, for example:
 * {@code conf/dedup.toml:23: deduplication.compression_threshold = 2.0: must be > 0 and <= 1.0}.
 * The CLI maps this exception to exit status 2 (bad usage).
 */
public final class ConfigException extends Exception {

    private final Path file;
    private final int line;
    private final String key;
    private final String reason;

    /**
     * @param file the file being read (may be null for values that did not come from a file)
     * @param line 1-based line number, or 0 when unknown
     * @param key the fully qualified key ({@code section.key}), or null for file-level errors
     * @param value the offending value as written, or null
     * @param reason what is wrong, in a few words
     */
    public ConfigException(Path file, int line, String key, String value, String reason) {
        super(format(file, line, key, value, reason));
        this.file = file;
        this.line = line;
        this.key = key;
        this.reason = reason;
    }

    private static String format(Path file, int line, String key, String value, String reason) {
        StringBuilder sb = new StringBuilder();
        sb.append(file == null ? "<built-in>" : file.toString());
        if (line > 0) {
            sb.append(':').append(line);
        }
        sb.append(": ");
        if (key != null) {
            sb.append(key);
            if (value != null) {
                sb.append(" = ").append(value);
            }
            sb.append(": ");
        }
        sb.append(reason);
        return sb.toString();
    }

    /** The file the error is in, or null. */
    public Path file() {
        return file;
    }

    /** 1-based line of the offending key, or 0 when unknown. */
    public int line() {
        return line;
    }

    /** Fully qualified key ({@code deduplication.cache_size}), or null for file-level errors. */
    public String key() {
        return key;
    }

    /** The reason without the file/line/key prefix. */
    public String reason() {
        return reason;
    }
}
