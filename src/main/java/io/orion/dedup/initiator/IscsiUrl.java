package io.orion.dedup.initiator;

import io.orion.dedup.config.HostPort;
import io.orion.dedup.config.IscsiName;

/**
 * {@code iscsi://HOST[:PORT]/TARGET-IQN/LUN} (libiscsi's form without credentials; an IPv6 host in
 * brackets). Credentials in the URL are refused: they would show in {@code ps} and shell history.
 */
public record IscsiUrl(HostPort portal, String target, int lun) {

    public static final String SCHEME = "iscsi://";

    /** True if {@code text} is meant as an iSCSI URL (starts with {@code iscsi://}, any case). */
    public static boolean looksLike(String text) {
        return text.regionMatches(true, 0, SCHEME, 0, SCHEME.length());
    }

    /**
     * Parses the URL.
     *
     * @throws IllegalArgumentException with a message saying what is wrong
     */
    public static IscsiUrl parse(String text) {
        if (!looksLike(text)) {
            throw new IllegalArgumentException("'" + text + "' is not an iSCSI URL (iscsi://HOST[:PORT]/IQN/LUN)");
        }
        String rest = text.substring(SCHEME.length());
        int slash = rest.indexOf('/');
        if (slash <= 0) {
            throw new IllegalArgumentException("'" + text + "' has no target: use iscsi://HOST[:PORT]/IQN/LUN");
        }
        String hostPart = rest.substring(0, slash);
        if (hostPart.contains("@")) {
            throw new IllegalArgumentException("'" + text
                    + "' carries credentials: give them with --chap-user and --chap-secret-file instead");
        }
        HostPort portal;
        try {
            portal = HostPort.parse(hostPart, HostPort.ISCSI_PORT);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "': " + e.getMessage());
        }
        String path = rest.substring(slash + 1);
        int last = path.lastIndexOf('/');
        if (last <= 0 || last == path.length() - 1) {
            throw new IllegalArgumentException("'" + text + "' needs a target name and a LUN: iscsi://HOST[:PORT]/IQN/LUN");
        }
        String target = IscsiName.normalize(path.substring(0, last));
        String lunText = path.substring(last + 1);
        int lun;
        try {
            lun = Integer.parseInt(lunText);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "': LUN '" + lunText + "' is not a number");
        }
        if (lun < 0 || lun > 16383) {
            throw new IllegalArgumentException("'" + text + "': LUN " + lun + " is outside 0..16383");
        }
        String problem = IscsiName.problem(target);
        if (problem != null) {
            throw new IllegalArgumentException("'" + text + "': " + problem);
        }
        return new IscsiUrl(portal, target, lun);
    }

    @Override
    public String toString() {
        String host = portal.host().contains(":") ? "[" + portal.host() + "]" : portal.host();
        return SCHEME + host + ":" + portal.port() + "/" + target + "/" + lun;
    }
}
