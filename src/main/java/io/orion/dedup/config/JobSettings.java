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
 * @param postProcessRate {@code post_process_rate}: bytes per second of staged blocks a
 *     post-process pass reads back and hashes; 0 = unthrottled
 */
public record JobSettings(long scrubRate, long cleanupRate, long compressionOptimizeRate, long scrubIntervalSeconds,
                          long postProcessRate) {

    /** Settings with the post-process pass at the default rate. */
    public JobSettings(long scrubRate, long cleanupRate, long compressionOptimizeRate, long scrubIntervalSeconds) {
        this(scrubRate, cleanupRate, compressionOptimizeRate, scrubIntervalSeconds, DEFAULT_RATE);
    }

    /** Default rate of cleanup and compression-optimize jobs (the engine's cleanup pace), 256 MiB/s. */
    public static final long DEFAULT_RATE = 256L << 20;
    /** Default scrub interval: 30 days. */
    public static final long DEFAULT_SCRUB_INTERVAL = 30L * 86400;

    /** Built-in defaults: scrub unthrottled every 30 days, cleanup, optimize and post-process at 256 MiB/s. */
    public static JobSettings defaults() {
        return new JobSettings(0, DEFAULT_RATE, DEFAULT_RATE, DEFAULT_SCRUB_INTERVAL, DEFAULT_RATE);
    }

    static JobSettings read(TomlSection s) throws ConfigException {
        JobSettings d = defaults();
        long scrub = s.size("scrub_rate", d.scrubRate, 0, Long.MAX_VALUE);
        long cleanup = s.size("cleanup_rate", d.cleanupRate, 0, Long.MAX_VALUE);
        long optimize = s.size("compression_optimize_rate", d.compressionOptimizeRate, 0, Long.MAX_VALUE);
        long interval = s.seconds("scrub_interval", d.scrubIntervalSeconds, 0, 3660L * 86400);
        long post = s.size("post_process_rate", d.postProcessRate, 0, Long.MAX_VALUE);
        s.finish();
        return new JobSettings(scrub, cleanup, optimize, interval, post);
    }
}
