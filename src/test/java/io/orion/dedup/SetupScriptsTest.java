package io.orion.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's set-up commands on a machine that has none of their tools: {@code scripts/start}
 * and {@code scripts/test --install-only} run from a copy of {@code scripts/} with a PATH holding
 * only basic tools and a recording {@code apt-get}. That apt-get behaves like a package's
 * maintainer script: it asks the policy-rc.d whether a service may start, as invoke-rc.d does, and
 * starts "tgtd" (a renamed {@code sleep}) when allowed, or always when told to ignore the policy
 * (a service manager that does). What a newcomer would notice: what gets installed, whether tgtd
 * is left running to hold port 3260, whether the server comes up.
 */
class SetupScriptsTest {

    @TempDir
    Path dir;

    private Path root;
    private Path bin;
    private Path log;
    private Path policy;

    @BeforeEach
    void layOut() throws IOException {
        root = dir.resolve("repo");
        bin = dir.resolve("bin");
        log = dir.resolve("apt.log");
        policy = dir.resolve("policy-rc.d");
        Files.createDirectories(bin);
        copyTree(Path.of("scripts"), root.resolve("scripts"));
        Files.createDirectories(root.resolve("src/main"));
        Files.createDirectories(root.resolve("conf"));
        Files.createDirectories(root.resolve("targets"));
        Files.writeString(root.resolve("pom.xml"), "<project/>\n");
        for (String tool : List.of("bash", "env", "dirname", "basename", "cat", "awk", "find", "head", "tee", "chmod",
                "mv", "rm", "mkdir", "pidof", "sleep", "grep", "sed", "cp", "touch", "realpath", "tr", "setsid")) {
            Optional<Path> real = which(tool);
            if (real.isPresent()) {
                Files.createSymbolicLink(bin.resolve(tool), real.get());
            }
        }
        Files.copy(which("sleep").orElseThrow(), bin.resolve("fake-tgtd-binary"));
        script("id", "[ \"$1\" = -u ] && echo 0 || echo 'uid=0(root) gid=0(root)'\n");
        // the recording apt-get; "installing" a package puts a stub of its commands on PATH
        script("apt-get", """
                echo "apt-get $*" >> "$APT_LOG"
                [ "$1" = install ] || exit 0
                if [ -x "$POLICY_RC_D" ]; then "$POLICY_RC_D" tgt start; rc=$?; else rc=0; fi
                echo "policy-rc.d answered $rc" >> "$APT_LOG"
                for p in "$@"; do
                  case "$p" in
                    default-jdk-headless)
                      printf '#!/bin/sh\\nif [ "$1" = -version ]; then echo "openjdk version \\\\"17.0.15\\\\" 2025-04-15" >&2; exit 0; fi\\necho "java $*"; echo "orion-dedup ready: portals 0.0.0.0:3260"\\n' > "$BIN/java"
                      printf '#!/bin/sh\\nexit 0\\n' > "$BIN/javac"
                      chmod +x "$BIN/java" "$BIN/javac";;
                    maven)
                      printf '#!/bin/sh\\necho "mvn $*" >> "$APT_LOG"; mkdir -p target; touch target/orion-dedup.jar\\n' > "$BIN/mvn"
                      chmod +x "$BIN/mvn";;
                    tgt)
                      if [ "$rc" != 101 ] || [ -n "$IGNORE_POLICY" ]; then
                        cp "$BIN/fake-tgtd-binary" "$BIN/tgtd"
                        setsid "$BIN/tgtd" 300 < /dev/null > /dev/null 2>&1 &
                        echo $! > "$TGTD_PID"
                        # a service start returns once the daemon runs (under load setsid may not
                        # have exec'd tgtd yet, and pidof would miss it)
                        for _ in {1..100}; do pidof tgtd >/dev/null && break; sleep 0.05; done # no seq in $BIN
                      fi;;
                  esac
                done
                """);
    }

    /** A fake tgtd that a failing script left behind goes with the test. */
    @AfterEach
    void stopLeftovers() throws IOException {
        Path pid = dir.resolve("tgtd.pid");
        if (Files.exists(pid)) {
            ProcessHandle.of(Long.parseLong(Files.readString(pid).trim())).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void startInstallsAJdkAndMavenWithoutServicesThenBuildsAndServes() throws Exception {
        Files.writeString(policy, "#!/bin/sh\n# the machine's own policy\nexit 0\n");
        Files.setPosixFilePermissions(policy, PosixFilePermissions.fromString("rwxr-xr-x"));
        Result r = run(Map.of(), "scripts/start");
        String apt = Files.readString(log);
        assertEquals(0, r.exit, r.output + apt);
        assertTrue(apt.contains("apt-get install -y -qq default-jdk-headless maven\n"), apt);
        assertTrue(apt.contains("policy-rc.d answered 101"), apt);
        assertTrue(apt.contains("mvn -B -q -ntp -DskipTests package"), apt);
        assertTrue(r.output.contains("orion-dedup ready"), r.output);
        assertTrue(r.output.contains("java -Xms1g -Xmx1g"), r.output);
        assertEquals("#!/bin/sh\n# the machine's own policy\nexit 0\n", Files.readString(policy),
                "the machine's policy-rc.d is put back");
    }

    @Test
    void testInstallsItsPeersAndLeavesNoTgtdRunning() throws Exception {
        Result r = run(Map.of(), "scripts/test", "--install-only");
        String apt = Files.readString(log);
        assertEquals(0, r.exit, r.output + apt);
        String install = apt.lines().filter(l -> l.startsWith("apt-get install")).findFirst().orElseThrow();
        for (String pkg : List.of("libiscsi-bin", "qemu-utils", "tgt", "default-jdk-headless", "maven", "curl",
                "qemu-system-x86", "python3")) {
            assertTrue((install + " ").contains(" " + pkg + " "), pkg + " in " + install);
        }
        assertTrue(apt.contains("policy-rc.d answered 101"), apt);
        assertFalse(Files.exists(dir.resolve("tgtd.pid")), "tgt's service was started: " + apt);
        assertFalse(Files.exists(policy), "the temporary policy-rc.d is removed");
        assertFalse(apt.contains("mvn "), "--install-only runs no tests");
    }

    @Test
    void aTgtdStartedDespiteThePolicyIsStopped() throws Exception {
        Result r = run(Map.of("IGNORE_POLICY", "1"), "scripts/test", "--install-only");
        assertEquals(0, r.exit, r.output);
        long pid = Long.parseLong(Files.readString(dir.resolve("tgtd.pid")).trim());
        Optional<ProcessHandle> tgtd = ProcessHandle.of(pid);
        try {
            for (int i = 0; i < 50 && tgtd.map(ProcessHandle::isAlive).orElse(false); i++) {
                Thread.sleep(100);
            }
            assertFalse(tgtd.map(ProcessHandle::isAlive).orElse(false), "tgtd left running: " + r.output);
            assertTrue(r.output.contains("stopping tgtd (" + pid + ")"), r.output);
        } finally {
            tgtd.ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    private record Result(int exit, String output) {}

    private Result run(Map<String, String> extra, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Stream.concat(Stream.of(bin.resolve("bash").toString()),
                Stream.of(command).map(c -> c.startsWith("scripts/") ? root.resolve(c).toString() : c)).toList())
                .directory(root.toFile())
                .redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", bin.toString());
        env.put("HOME", dir.toString());
        env.put("ORION_HEAP", "1g");
        env.put("APT_LOG", log.toString());
        env.put("BIN", bin.toString());
        env.put("POLICY_RC_D", policy.toString());
        env.put("TGTD_PID", dir.resolve("tgtd.pid").toString());
        env.putAll(extra);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Result(p.exitValue(), out);
    }

    private void script(String name, String body) throws IOException {
        Path f = bin.resolve(name);
        Files.writeString(f, "#!" + which("bash").orElseThrow() + "\n" + body);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static Optional<Path> which(String tool) {
        for (String d : List.of("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")) {
            Path p = Path.of(d, tool);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }
}
