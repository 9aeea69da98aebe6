package io.orion.dedup.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code [server]} section: where the iSCSI target listens and keeps its state.
 *
 * @param portals listen addresses of the default portal group (RFC 7143 §13.8 TargetAddress)
 * @param dataDir data directory (metadata, chunk store, control socket), relative to the working
 *     directory unless absolute; the CLI's {@code --data} overrides it
 * @param targetsDir directory of target definition files; {@code --targets} overrides it
 * @param queueDepth commands accepted per session (the CmdSN window, RFC 7143 §3.2.2.1), 1..1024
 * @param nopInIntervalSeconds idle seconds before the target pings a connection with NOP-In
 *     (RFC 7143 §11.19); 0 disables pings
 * @param nopInTimeoutSeconds seconds to wait for the NOP-Out answer before dropping the connection
 */
public record ServerSettings(
        List<HostPort> portals,
        Path dataDir,
        Path targetsDir,
        int queueDepth,
        int nopInIntervalSeconds,
        int nopInTimeoutSeconds) {

    public ServerSettings {
        portals = List.copyOf(portals);
    }

    /** Built-in defaults: 0.0.0.0:3260, ./data, ./targets, depth 128, NOP every 30 s, 30 s timeout. */
    public static ServerSettings defaults() {
        return new ServerSettings(List.of(new HostPort("0.0.0.0", HostPort.ISCSI_PORT)),
                Path.of("data"), Path.of("targets"), 128, 30, 30);
    }

    static ServerSettings read(TomlSection s) throws ConfigException {
        ServerSettings d = defaults();
        List<HostPort> portals = d.portals;
        List<String> raw = s.strings("portals", null);
        if (raw != null) {
            if (raw.isEmpty()) {
                throw s.error("portals", "at least one portal is required");
            }
            List<HostPort> parsed = new ArrayList<>();
            for (String p : raw) {
                try {
                    parsed.add(HostPort.parse(p, HostPort.ISCSI_PORT));
                } catch (IllegalArgumentException e) {
                    throw s.error("portals", e.getMessage());
                }
            }
            portals = parsed;
        }
        String data = s.string("data_dir", null);
        String targets = s.string("targets_dir", null);
        long depth = s.integer("queue_depth", d.queueDepth, 1, 1024);
        long nop = s.seconds("nop_in_interval", d.nopInIntervalSeconds, 0, 3600);
        long nopTimeout = s.seconds("nop_in_timeout", d.nopInTimeoutSeconds, 1, 3600);
        s.finish();
        return new ServerSettings(portals, data == null ? d.dataDir : nonEmptyPath(s, "data_dir", data),
                targets == null ? d.targetsDir : nonEmptyPath(s, "targets_dir", targets),
                (int) depth, (int) nop, (int) nopTimeout);
    }

    static Path nonEmptyPath(TomlSection s, String key, String value) throws ConfigException {
        if (value.isBlank()) {
            throw s.error(key, "must not be empty");
        }
        try {
            return Path.of(value);
        } catch (RuntimeException e) {
            throw s.error(key, "not a valid path");
        }
    }
}
