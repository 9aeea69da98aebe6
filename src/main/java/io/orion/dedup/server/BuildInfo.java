package io.orion.dedup.server;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.Enumeration;
import java.util.jar.Attributes;
import java.util.jar.Manifest;

/**
 * The running build's version and git revision for {@code orion_build_info}, from the jar
 * manifest: {@code Implementation-Version}, and the revision from the first of
 * {@code Git-Revision}, {@code Implementation-Build}, {@code SCM-Revision} that is present.
 * Outside a packaged jar (tests, IDE) they are {@code dev} and {@code unknown}.
 */
final class BuildInfo {

    private static final String[] REVISION_KEYS = {"Git-Revision", "Implementation-Build", "SCM-Revision"};
    private static volatile String[] cached;

    private BuildInfo() {}

    static String version() {
        return read()[0];
    }

    static String revision() {
        return read()[1];
    }

    private static String[] read() {
        String[] c = cached;
        if (c != null) {
            return c;
        }
        String version = BuildInfo.class.getPackage().getImplementationVersion();
        String revision = null;
        try {
            Enumeration<URL> e = BuildInfo.class.getClassLoader().getResources("META-INF/MANIFEST.MF");
            while (e.hasMoreElements() && revision == null) {
                try (InputStream in = e.nextElement().openStream()) {
                    Attributes a = new Manifest(in).getMainAttributes();
                    if (!"io.orion.dedup.cli.OrionCli".equals(a.getValue("Main-Class"))) {
                        continue;
                    }
                    if (version == null) {
                        version = a.getValue("Implementation-Version");
                    }
                    for (String k : REVISION_KEYS) {
                        if (revision == null && a.getValue(k) != null) {
                            revision = a.getValue(k);
                        }
                    }
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // no manifest: a development build
        }
        c = new String[] {version == null ? "dev" : version, revision == null ? "unknown" : revision};
        cached = c;
        return c;
    }
}
