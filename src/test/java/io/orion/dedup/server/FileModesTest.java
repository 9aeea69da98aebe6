package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.cli.OrionCli;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a server started with umask 022 leaves on disk: LUN data, metadata and CHAP secrets for
 * its own user only (directories 0700, files 0600), the control socket 0660, and with
 * {@code [control] group} the socket of that group and the data directory 0710 of it. Target
 * files and a data directory left by older versions with wider modes are narrowed at start. When
 * run as root, another user ({@code nobody}) is shown to be unable to read any of it.
 */
class FileModesTest {

    private static final String SECRET = "secret-of-sixteen";

    @TempDir
    Path dir;

    @Test
    void dataMetadataAndSecretsAreReadableByTheServerOnly() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path targets = dir.resolve("targets");
        Path data = dir.resolve("data");
        Files.createDirectories(targets);
        Files.createDirectories(data.resolve("store"));
        Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(data.resolve("store"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Path old = targets.resolve("t.toml");
        Files.writeString(old, """
                iqn = "iqn.2026-11.io.orion:t"
                [[lun]]
                id = 0
                size = "64MiB"
                [[acl]]
                initiator = "iqn.1994-05.com.redhat:c"
                [acl.chap]
                user = "u"
                secret = "%s"
                """.formatted(SECRET));
        Files.setPosixFilePermissions(old, PosixFilePermissions.fromString("rw-r--r--"));
        Path config = config("");

        Process server = serve(config, targets, data);
        try {
            assertEquals(0, cli(data, "target", "create", "iqn.2026-11.io.orion:second"));
            assertEquals(0, cli(data, "acl", "add", "iqn.2026-11.io.orion:second", "iqn.1994-05.com.redhat:d"));
            assertEquals(0, cli(data, "chap", "set", "iqn.2026-11.io.orion:second", "--initiator",
                    "iqn.1994-05.com.redhat:d", "--user", "d", "--secret", SECRET));

            assertEquals("rwx------", mode(data));
            assertEquals("rwx------", mode(data.resolve("meta")));
            assertEquals("rw-------", mode(data.resolve("meta/data.mdb")));
            assertEquals("rw-------", mode(data.resolve("meta/lock.mdb")));
            assertEquals("rw-------", mode(data.resolve("meta/pool.lock")));
            assertEquals("rwx------", mode(data.resolve("store")));
            assertEquals("rw-------", mode(data.resolve("store/chunks.0")));
            assertEquals("rw-rw----", mode(data.resolve("control.sock")));
            assertEquals("rw-------", mode(old), "a target file found 0644 is narrowed at start");
            List<Path> written = new ArrayList<>();
            try (var s = Files.newDirectoryStream(targets, "*.toml")) {
                s.forEach(written::add);
            }
            assertEquals(2, written.size(), written.toString());
            for (Path p : written) {
                assertTrue(Files.readString(p).contains(SECRET), p.toString());
                assertEquals("rw-------", mode(p), p.toString());
            }

            // another local user reads none of it (needs root to become one)
            if (!isRoot() || !Files.isExecutable(Path.of("/usr/sbin/runuser"))) {
                return;
            }
            for (Path p : List.of(data.resolve("store/chunks.0"), data.resolve("meta/data.mdb"), old, written.get(0),
                    written.get(1))) {
                Process cat = new ProcessBuilder("/usr/sbin/runuser", "-u", "nobody", "--", "cat", p.toString())
                        .redirectErrorStream(true).start();
                String out = new String(cat.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(cat.waitFor(20, TimeUnit.SECONDS));
                assertNotEquals(0, cat.exitValue(), "nobody read " + p + ": " + out);
                assertTrue(out.contains("Permission denied"), out);
            }
        } finally {
            stop(server);
        }
    }

    @Test
    void controlGroupGetsTheSocketAndPassageThroughTheDataDirectoryOnly() throws Exception {
        Path data = dir.resolve("data");
        Path targets = dir.resolve("targets");
        Files.createDirectories(targets);
        Files.writeString(targets.resolve("t.toml"), "iqn = \"iqn.2026-11.io.orion:t\"\n[[lun]]\nid = 0\nsize = \"64MiB\"\n");
        Process server = serve(config("group = \"daemon\"\n"), targets, data);
        try {
            PosixFileAttributes sock = Files.readAttributes(data.resolve("control.sock"), PosixFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            assertEquals("daemon", sock.group().getName());
            assertEquals("rw-rw----", PosixFilePermissions.toString(sock.permissions()));
            PosixFileAttributes d = Files.readAttributes(data, PosixFileAttributes.class);
            assertEquals("daemon", d.group().getName());
            assertEquals("rwx--x---", PosixFilePermissions.toString(d.permissions()));
            assertEquals("rwx------", mode(data.resolve("meta")));
            assertEquals("rw-------", mode(data.resolve("store/chunks.0")));
        } finally {
            stop(server);
        }
    }

    @Test
    void anUnknownControlGroupIsAConfigError() throws Exception {
        Path config = config("group = \"no-such-group-orion\"\n");
        Process p = new ProcessBuilder(command(config, dir.resolve("targets"), dir.resolve("data")))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("control.group = \"no-such-group-orion\": no such group on this system"), out);
    }

    private Path config(String controlKeys) throws IOException {
        Path config = dir.resolve("dedup.toml");
        Files.writeString(config, """
                [deduplication]
                cache_size = "16MB"
                hash_cache_size = "16MB"
                reference_metadata_size = "64MB"
                [control]
                %s[metrics]
                enabled = false
                """.formatted(controlKeys));
        return config;
    }

    private List<String> command(Path config, Path targets, Path data) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // umask 022, as a login shell has it: the modes must not depend on it
        return List.of("/bin/bash", "-c", "umask 022; exec \"$@\"", "serve", java, "-Xmx256m",
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), OrionCli.class.getName(), "serve",
                "--config", config.toString(), "--targets", targets.toString(), "--data", data.toString(),
                "--listen", "127.0.0.1:0");
    }

    private Process serve(Path config, Path targets, Path data) throws Exception {
        Process p = new ProcessBuilder(command(config, targets, data)).directory(dir.toFile())
                .redirectErrorStream(true).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        for (String line; (line = r.readLine()) != null; ) {
            seen.append(line).append('\n');
            if (line.startsWith("orion-dedup ready")) {
                Thread drain = new Thread(() -> {
                    try {
                        r.transferTo(java.io.Writer.nullWriter());
                    } catch (IOException ignored) {
                        // the server is gone
                    }
                });
                drain.setDaemon(true);
                drain.start();
                return p;
            }
        }
        p.destroyForcibly();
        throw new AssertionError("server did not start:\n" + seen);
    }

    private int cli(Path data, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), OrionCli.class.getName()));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--data", data.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", args) + ": " + out);
        return p.exitValue();
    }

    private static void stop(Process p) throws InterruptedException {
        p.toHandle().destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }
}
