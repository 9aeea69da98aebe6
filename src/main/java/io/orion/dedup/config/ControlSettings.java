package io.orion.dedup.config;

import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The {@code [control]} section: the Unix domain socket the CLI uses to administer a running
 * server. Whoever can connect can change everything, so access is by file mode: the owner and
 * group of the socket only, by default.
 *
 * @param socket socket path, or null for {@code <data>/control.sock}
 * @param mode file permission bits of the socket (default 0660)
 * @param group group the socket is given to (an existing system group), or null for the server's
 *     own group; when the socket is in the data directory, that directory then becomes 0710 of
 *     this group so its members can reach the socket, and nothing else
 */
public record ControlSettings(Path socket, int mode, String group) {

    /** The socket's file name inside the data directory. */
    public static final String SOCKET_NAME = "control.sock";

    /** Built-in defaults: {@code <data>/control.sock}, mode 0660. */
    public static ControlSettings defaults() {
        return new ControlSettings(null, 0660, null);
    }

    /** The socket path for a given data directory. */
    public Path socketPath(Path dataDir) {
        return socket != null ? socket : dataDir.resolve(SOCKET_NAME);
    }

    /** {@link #mode} as POSIX permissions. */
    public Set<PosixFilePermission> permissions() {
        return permissions(mode);
    }

    /** Converts permission bits (0..0777) to POSIX permissions. */
    public static Set<PosixFilePermission> permissions(int mode) {
        StringBuilder sb = new StringBuilder();
        String rwx = "rwx";
        for (int bit = 8; bit >= 0; bit--) {
            sb.append((mode & (1 << bit)) != 0 ? rwx.charAt(2 - bit % 3) : '-');
        }
        return PosixFilePermissions.fromString(sb.toString());
    }

    static ControlSettings read(TomlSection s) throws ConfigException {
        String socket = s.string("socket", null);
        String group = s.string("group", null);
        if (group != null) {
            try {
                java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
            } catch (java.io.IOException e) {
                throw s.error("group", "no such group on this system");
            }
        }
        int mode = 0660;
        if (s.has("mode")) {
            try {
                String text = s.string("mode", null);
                mode = Integer.parseInt(text, 8);
            } catch (ConfigException notString) {
                mode = (int) s.integer("mode", 0660, 0, 0777);
            } catch (NumberFormatException e) {
                throw s.error("mode", "expected octal permission bits such as \"0660\"");
            }
            if (mode < 0 || mode > 0777) {
                throw s.error("mode", "expected octal permission bits such as \"0660\" (at most 0777)");
            }
        }
        s.finish();
        return new ControlSettings(socket == null ? null : ServerSettings.nonEmptyPath(s, "socket", socket), mode,
                group);
    }
}
