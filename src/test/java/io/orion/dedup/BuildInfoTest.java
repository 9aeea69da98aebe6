package io.orion.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.jar.Attributes;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;

class BuildInfoTest {

    private static Manifest manifest(String version, String revision, String dirty) {
        Manifest m = new Manifest();
        Attributes a = m.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (version != null) {
            a.putValue("Implementation-Version", version);
        }
        if (revision != null) {
            a.putValue("Orion-Git-Revision", revision);
        }
        if (dirty != null) {
            a.putValue("Orion-Git-Dirty", dirty);
        }
        return m;
    }

    @Test
    void versionAndRevisionComeFromTheManifest() {
        assertEquals("0.3.1 (git 1a2b3c4d5e6f)", BuildInfo.of(manifest("0.3.1", "1a2b3c4d5e6f", "false")).describe());
        assertEquals("1a2b3c4d5e6f-dirty", BuildInfo.of(manifest("0.3.1", "1a2b3c4d5e6f", "true")).revision());
    }

    @Test
    void aBuildOutsideGitSaysUnknown() {
        // Maven leaves an unset property as its literal ${...}; git rev-parse outside a checkout prints nothing
        assertEquals("0.3.1 (git unknown)", BuildInfo.of(manifest("0.3.1", "${orion.git.revision}", "${orion.git.dirty}")).describe());
        assertEquals("unknown", BuildInfo.of(manifest("0.3.1", "", "false")).revision());
        assertEquals("dev (git unknown)", BuildInfo.of(null).describe());
        assertEquals("dev", BuildInfo.of(manifest(null, "abc", null)).version());
    }
}
