package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.admin.AdminClient;
import io.orion.dedup.admin.TargetSummary;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGHUP to the real server (`kill -HUP`, systemctl kill -s HUP) reloads the target files; it does not stop it. */
class HangupReloadIT {

    /** True when this process ignores SIGHUP (bit 0 of SigIgn): a server started from it inherits that. */
    static boolean hangupIgnoredHere() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("SigIgn:")) {
                return (Long.parseLong(line.substring(7).trim(), 16) & 1L) != 0;
            }
        }
        return false;
    }

    private static final String HUP_TARGET = "iqn = \"iqn.2026-11.io.orion:hup\"\n\n[attributes]\n"
            + "demo_mode = true\n\n[[lun]]\nid = 0\nvolume = \"hup-0\"\nsize = \"1MiB\"\nbacking = \"ram\"\n";

    /**
     * Started with SIGHUP ignored (nohup, or a parent that ignores it: the JVM keeps such a signal
     * ignored), the server cannot reload on SIGHUP; it says so at start, lives on through a SIGHUP,
     * and {@code orion-dedup reload} still works. (Local CI runs under nohup once lost the reload.)
     */
    @Test
    void underNohupTheServerSaysSighupIsIgnoredAndReloadStillWorks(@TempDir Path dir) throws Exception {
        Path targets = ServerProcess.copyTargets(dir);
        Path data = dir.resolve("data");
        try (ServerProcess server = ServerProcess.startUnder(List.of("nohup"), data, targets,
                Path.of("conf/dedup.toml"), ServerProcess.freePort(), java.util.Map.of(), List.of())) {
            assertTrue(server.output().contains("SIGHUP is ignored by this process"), server.output());
            Files.writeString(targets.resolve("hup.toml"), HUP_TARGET);
            Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(server.pid())).inheritIO().start();
            assertEquals(0, kill.waitFor());
            Thread.sleep(500);
            assertTrue(server.alive(), "an ignored SIGHUP must not stop the server");
            try (AdminClient c = AdminClient.connect(data.resolve("control.sock"))) {
                c.reload();
                assertEquals(List.of(ServerProcess.DEFAULT_IQN, "iqn.2026-11.io.orion:hup"),
                        c.listTargets().stream().map(TargetSummary::iqn).toList());
            }
        }
    }

    @Test
    void sighupReloadsTargetFilesAndKeepsTheServerRunning(@TempDir Path dir) throws Exception {
        // a server started from a process that ignores SIGHUP inherits that (see the test above)
        org.junit.jupiter.api.Assumptions.assumeFalse(hangupIgnoredHere(), "SIGHUP is ignored in this process (nohup)");
        Path targets = ServerProcess.copyTargets(dir);
        Path data = dir.resolve("data");
        try (ServerProcess server = ServerProcess.start(data, targets, ServerProcess.freePort())) {
            Files.writeString(targets.resolve("hup.toml"), HUP_TARGET);
            long pid = server.pid();
            Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(pid)).inheritIO().start();
            assertEquals(0, kill.waitFor());
            List<String> iqns = List.of();
            for (int i = 0; i < 600 && !iqns.contains("iqn.2026-11.io.orion:hup"); i++) {
                Thread.sleep(100);
                try (AdminClient c = AdminClient.connect(data.resolve("control.sock"))) {
                    iqns = c.listTargets().stream().map(TargetSummary::iqn).toList();
                }
            }
            // up to a minute: a loaded CI machine once took longer than 10 s; this is not a speed test.
            // Twice under heavy load no reload came at all: the server's threads then go with the failure
            if (!iqns.contains("iqn.2026-11.io.orion:hup")) {
                Process dump = new ProcessBuilder("jcmd", Long.toString(pid), "Thread.print").redirectErrorStream(true)
                        .start();
                String threads = new String(dump.getInputStream().readAllBytes());
                dump.waitFor();
                assertEquals(List.of(ServerProcess.DEFAULT_IQN, "iqn.2026-11.io.orion:hup"), iqns,
                        server.output() + "\nthreads of the server:\n" + threads);
            }
            assertTrue(server.alive(), "SIGHUP must not stop the server");
            assertTrue(server.output().contains("audit: signal SIGHUP reload result=ok: 1 added, 0 changed, 0 removed, 1 unchanged"),
                    server.output());
        }
    }
}
