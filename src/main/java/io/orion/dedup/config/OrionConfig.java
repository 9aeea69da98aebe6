package io.orion.dedup.config;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The server configuration, read from one TOML file ({@code conf/dedup.toml}). Sections:
 * {@code [deduplication]} (the product's driver keys), {@code [server]}, {@code [control]},
 * {@code [metrics]}, {@code [pool]} and {@code [jobs]}. Every section and key is optional and defaults to the
 * values of the shipped file; anything unknown, mistyped or out of range is a
 * {@link ConfigException} naming file, line and key.
 *
 * @param source the file it was read from, or null for the built-in defaults
 */
public record OrionConfig(
        Path source,
        DedupSettings deduplication,
        ServerSettings server,
        ControlSettings control,
        MetricsSettings metrics,
        PoolSettings pool,
        JobSettings jobs) {

    /** Without a {@code [jobs]} section (its defaults). */
    public OrionConfig(Path source, DedupSettings deduplication, ServerSettings server, ControlSettings control,
            MetricsSettings metrics, PoolSettings pool) {
        this(source, deduplication, server, control, metrics, pool, JobSettings.defaults());
    }

    /** The built-in configuration (equal to the shipped conf/dedup.toml). */
    public static OrionConfig defaults() {
        return new OrionConfig(null, DedupSettings.defaults(), ServerSettings.defaults(),
                ControlSettings.defaults(), MetricsSettings.defaults(), PoolSettings.defaults(), JobSettings.defaults());
    }

    /**
     * Reads and validates a configuration file.
     *
     * @throws ConfigException when the file is missing, not TOML, or any key is unknown, mistyped,
     *     out of range or cannot be honoured
     * @throws IOException when the file cannot be read
     */
    public static OrionConfig load(Path file) throws ConfigException, IOException {
        return read(TomlSection.read(file));
    }

    /** Validates TOML text as if it had been read from {@code file} (used by tests and tools). */
    public static OrionConfig parse(Path file, String text) throws ConfigException {
        return read(TomlSection.parse(file, text));
    }

    private static OrionConfig read(TomlSection root) throws ConfigException {
        DedupSettings dedup = DedupSettings.read(root.table("deduplication"));
        ServerSettings server = ServerSettings.read(root.table("server"));
        ControlSettings control = ControlSettings.read(root.table("control"));
        MetricsSettings metrics = MetricsSettings.read(root.table("metrics"));
        PoolSettings pool = PoolSettings.read(root.table("pool"));
        JobSettings jobs = JobSettings.read(root.table("jobs"));
        root.finish();
        return new OrionConfig(root.file(), dedup, server, control, metrics, pool, jobs);
    }

    /** The data directory: {@code override} when given, else {@code [server] data_dir}. */
    public Path dataDir(Path override) {
        return override != null ? override : server.dataDir();
    }

    /**
     * An error about one key of this configuration, with the file, line and value as written —
     * for settings the server finds it cannot honour after loading. Example:
     * {@code throw config.error("deduplication.cache_size", "exceeds the memory of this machine")}.
     *
     * @param key fully qualified key ({@code section.key})
     */
    public ConfigException error(String key, String reason) {
        if (source == null) {
            return new ConfigException(null, 0, key, null, reason);
        }
        try {
            TomlLineIndex index = TomlLineIndex.of(java.nio.file.Files.readString(source));
            String raw = key.contains("secret") ? ChapCredentials.MASK : index.raw(key);
            return new ConfigException(source, index.line(key), key, raw, reason);
        } catch (IOException e) {
            return new ConfigException(source, 0, key, null, reason);
        }
    }

    /** This configuration with another source path (for messages). */
    public OrionConfig withSource(Path file) {
        return new OrionConfig(file, deduplication, server, control, metrics, pool, jobs);
    }
}
