package io.orion.dedup.config;

/**
 * The {@code [jobs]} section: pacing and schedule of the server's background jobs (scrub,
 * cleanup, compression-optimize), which an admin watches with {@code orion-dedup job list}.
 *
 * @param scrubRate {@code scrub_rate}: bytes per second a scrub reads (record bytes); 0 = unthrottled
 * @param cleanupRate {@code cleanup_rate}: bytes per second a cleanup job copies; 0 = unthrottled
 * @param compressionOptimizeRate {@code compression_optimize_rate}: bytes per second a
 *     compression-optimize job examines; 0 = unthrottled
 * @param scrubIntervalSeconds {@code scrub_interval}: start a scrub when the last one ended this
 *     long ago (like ZFS's monthly scrub); 0 = never on its own
 */
public record JobSettings(long scrubRate, long cleanupRate, long compressionOptimizeRate, long scrubIntervalSeconds) {

    /** Default rate of cleanup and compression-optimize jobs (the engine's cleanup pace), 256 MiB/s. */
    public static final long DEFAULT_RATE = 256L << 20;
    /** Default scrub interval: 30 days. */
    public static final long DEFAULT_SCRUB_INTERVAL = 30L * 86400;

    /** Built-in defaults: scrub unthrottled every 30 days, cleanup and optimize at 256 MiB/s. */
    public static JobSettings defaults() {
        return new JobSettings(0, DEFAULT_RATE, DEFAULT_RATE, DEFAULT_SCRUB_INTERVAL);
    }

    static JobSettings read(TomlSection s) throws ConfigException {
        JobSettings d = defaults();
        long scrub = s.size("scrub_rate", d.scrubRate, 0, Long.MAX_VALUE);
        long cleanup = s.size("cleanup_rate", d.cleanupRate, 0, Long.MAX_VALUE);
        long optimize = s.size("compression_optimize_rate", d.compressionOptimizeRate, 0, Long.MAX_VALUE);
        long interval = s.seconds("scrub_interval", d.scrubIntervalSeconds, 0, 3660L * 86400);
        s.finish();
        return new JobSettings(scrub, cleanup, optimize, interval);
    }
}
