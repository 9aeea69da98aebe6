package io.orion.dedup.config;

/**
 * The {@code [metrics]} section: the Prometheus scrape endpoint ({@code GET /metrics}).
 *
 * @param enabled serve metrics at all
 * @param listen HTTP listen address, default {@code 127.0.0.1:9572}
 */
public record MetricsSettings(boolean enabled, HostPort listen) {

    /** The default metrics port. */
    public static final int PORT = 9572;

    /** Built-in defaults: enabled on 127.0.0.1:9572. */
    public static MetricsSettings defaults() {
        return new MetricsSettings(true, new HostPort("127.0.0.1", PORT));
    }

    static MetricsSettings read(TomlSection s) throws ConfigException {
        boolean enabled = s.bool("enabled", true);
        HostPort listen = defaults().listen;
        String raw = s.string("listen", null);
        if (raw != null) {
            try {
                listen = HostPort.parse(raw, PORT);
            } catch (IllegalArgumentException e) {
                throw s.error("listen", e.getMessage());
            }
        }
        s.finish();
        return new MetricsSettings(enabled, listen);
    }
}
