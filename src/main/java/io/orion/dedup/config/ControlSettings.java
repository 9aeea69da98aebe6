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
 */
public record ControlSettings(Path socket, int mode) {

    /** The socket's file name inside the data directory. */
    public static final String SOCKET_NAME = "control.sock";

    /** Built-in defaults: {@code <data>/control.sock}, mode 0660. */
    public static ControlSettings defaults() {
        return new ControlSettings(null, 0660);
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
        return new ControlSettings(socket == null ? null : ServerSettings.nonEmptyPath(s, "socket", socket), mode);
    }
}
