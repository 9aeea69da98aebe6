package io.orion.dedup;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * The version and git revision of this build, as the jar's manifest records them
 * ({@code Implementation-Version}, {@code Orion-Git-Revision}, {@code Orion-Git-Dirty}, written by
 * the Maven build). Classes run outside the jar (tests, an IDE) report version {@code dev}; a build
 * made outside a git checkout reports revision {@code unknown}.
 *
 * @param version the project version, e.g. {@code 0.1.0}, or {@code dev}
 * @param revision the abbreviated git commit id, {@code -dirty} appended when the work tree had
 *     uncommitted changes, or {@code unknown}
 */
public record BuildInfo(String version, String revision) {

    public static final String UNKNOWN = "unknown";
    public static final String DEV = "dev";

    private static volatile BuildInfo current;

    /** The build of the running code (read once). */
    public static BuildInfo current() {
        BuildInfo b = current;
        if (b == null) {
            b = read();
            current = b;
        }
        return b;
    }

    /** {@code 0.1.0 (git 1a2b3c4d5e6f)}: what {@code --version} and {@code status} print. */
    public String describe() {
        return version + " (git " + revision + ")";
    }

    /** The build recorded in a manifest; missing or unexpanded (${...}) values become dev/unknown. */
    public static BuildInfo of(Manifest m) {
        if (m == null) {
            return new BuildInfo(DEV, UNKNOWN);
        }
        Attributes a = m.getMainAttributes();
        String version = value(a.getValue("Implementation-Version"));
        String revision = value(a.getValue("Orion-Git-Revision"));
        if (revision != null && "true".equals(value(a.getValue("Orion-Git-Dirty")))) {
            revision += "-dirty";
        }
        return new BuildInfo(version == null ? DEV : version, revision == null ? UNKNOWN : revision);
    }

    private static String value(String s) {
        return s == null || s.isBlank() || s.startsWith("${") ? null : s.trim();
    }

    private static BuildInfo read() {
        try {
            var src = BuildInfo.class.getProtectionDomain().getCodeSource();
            if (src == null) {
                return of(null);
            }
            Path p = Path.of(src.getLocation().toURI());
            if (!Files.isRegularFile(p)) {
                return of(null); // classes directory: no manifest of ours
            }
            try (JarFile jar = new JarFile(p.toFile())) {
                return of(jar.getManifest());
            }
        } catch (IOException | URISyntaxException | RuntimeException e) {
            return of(null);
        }
    }
}
