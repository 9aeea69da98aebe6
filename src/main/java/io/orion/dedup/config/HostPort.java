package io.orion.dedup.config;

import java.net.InetSocketAddress;

/**
 * A portal or listen address as written in configuration: {@code "0.0.0.0:3260"},
 * {@code "[::1]:3260"}, or a bare host that takes a default port. This is the form of an iSCSI
 * TargetAddress (RFC 7143 §13.8) without the portal group tag.
 *
 * @param host host name or literal address (IPv6 without brackets)
 * @param port TCP port, 0..65535 (0 = any free port, for tests)
 */
public record HostPort(String host, int port) {

    /** The IANA iSCSI port (RFC 7143 §13.8). */
    public static final int ISCSI_PORT = 3260;

    public HostPort {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("empty host");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " out of range 0..65535");
        }
    }

    /**
     * Parses {@code host[:port]}; IPv6 literals must be bracketed when a port is given.
     *
     * @throws IllegalArgumentException when malformed
     */
    public static HostPort parse(String text, int defaultPort) {
        String s = text.strip();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty address");
        }
        String host;
        String port = null;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("missing ']' in " + s);
            }
            host = s.substring(1, close);
            String rest = s.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw new IllegalArgumentException("expected ':' after ']' in " + s);
                }
                port = rest.substring(1);
            }
        } else {
            int colon = s.lastIndexOf(':');
            if (colon >= 0 && s.indexOf(':') == colon) {
                host = s.substring(0, colon);
                port = s.substring(colon + 1);
            } else {
                host = s; // bare host or unbracketed IPv6 literal without port
            }
        }
        int p = defaultPort;
        if (port != null) {
            try {
                p = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad port '" + port + "' in " + s);
            }
        }
        return new HostPort(host, p);
    }

    /** A socket address; a host name is resolved now, a literal address needs no lookup. */
    public InetSocketAddress toSocketAddress() {
        return new InetSocketAddress(host, port);
    }

    /** {@code host:port}, with IPv6 literals bracketed. */
    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
