package io.orion.dedup.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.orion.dedup.admin.AdminJson;
import io.orion.dedup.admin.ControlServer;
import io.orion.dedup.admin.FakeAdminApi;
import io.orion.dedup.config.ControlSettings;
import io.orion.dedup.config.TargetFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class OrionCliTest {

    private static final String IQN = "iqn.2026-11.io.orion:cli";

    @TempDir
    Path dir;

    private ControlServer server;
    private FakeAdminApi api;

    /** Output of one CLI run. */
    record Run(int status, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = new OrionCli(new PrintWriter(out), new PrintWriter(err),
                () -> ServerLaunchers.reflective(FakeOrionServer.class.getName()), r -> {}).execute(args);
        return new Run(status, out.toString(), err.toString());
    }

    private Path data() throws Exception {
        if (server == null) {
            api = new FakeAdminApi(dir.resolve("targets"));
            server = ControlServer.start(api, dir.resolve("data").resolve("control.sock"), ControlSettings.permissions(0660));
        }
        return dir.resolve("data");
    }

    private Run admin(String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of(args));
        a.add("--data");
        a.add(data().toString());
        return run(a.toArray(String[]::new));
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void everyCommandHasHelp() {
        List<String> paths = new ArrayList<>();
        collect(new OrionCli().commandLine(), new ArrayList<>(), paths);
        assertTrue(paths.size() >= 35, paths.toString());
        for (String p : paths) {
            List<String> args = new ArrayList<>(p.isEmpty() ? List.of() : List.of(p.split(" ")));
            args.add("--help");
            Run r = run(args.toArray(String[]::new));
            assertEquals(0, r.status(), p + ": " + r.err());
            assertTrue(r.out().startsWith("Usage: orion-dedup"), p);
            assertEquals("", r.err(), p);
        }
    }

    @Test
    void everySummaryLineIsACompleteSentence() {
        // picocli shows a command's first description line as its summary (in the parent's
        // --help and the man page's NAME line): it must not stop mid-sentence
        List<String> bad = new ArrayList<>();
        summaries(new OrionCli().commandLine(), "orion-dedup", bad);
        assertEquals(List.of(), bad);
    }

    private static void summaries(CommandLine cl, String path, List<String> bad) {
        String[] d = cl.getCommandSpec().usageMessage().description();
        String first = d.length == 0 ? "" : d[0].strip();
        if (!(first.endsWith(".") || first.endsWith(")"))) {
            bad.add(path + ": " + first);
        }
        for (var e : cl.getSubcommands().entrySet()) {
            if (e.getValue().getCommandName().equals(e.getKey())) { // aliases once
                summaries(e.getValue(), path + " " + e.getKey(), bad);
            }
        }
    }

    private static void collect(CommandLine cl, List<String> prefix, List<String> out) {
        out.add(String.join(" ", prefix));
        for (var e : cl.getSubcommands().entrySet()) {
            List<String> p = new ArrayList<>(prefix);
            p.add(e.getKey());
            collect(e.getValue(), p, out);
        }
    }

    @Test
    void scrubRepairIsAnOptionOfScrubAndScrubStart() throws Exception {
        for (String[] cmd : new String[][] {{"scrub", "--help"}, {"scrub", "start", "--help"}}) {
            Run help = run(cmd);
            assertEquals(0, help.status(), help.err());
            assertTrue(help.out().contains("--repair"), help.out());
        }
        assertTrue(run("scrub", "--help").out().contains("(with --repair: when any stays damaged)"),
                run("scrub", "--help").out());
        // a server that cannot repair says so (this one cannot scrub at all)
        Run r = admin("scrub", "--repair");
        assertEquals(1, r.status());
        assertEquals("orion-dedup: this server cannot repair damaged chunks" + System.lineSeparator(), r.err());
        Run start = admin("scrub", "start", "--repair");
        assertEquals(1, start.status());
        assertTrue(start.err().contains("background jobs") || start.err().contains("cannot repair"), start.err());
    }

    @Test
    void badUsageExitsTwoWithOneLineReason() {
        Run none = run();
        assertEquals(2, none.status());
        Run unknown = run("target", "list", "--bogus");
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().startsWith("orion-dedup: Unknown option: '--bogus'"), unknown.err());
        assertEquals(2, run("lun", "create", IQN).status(), "--size is required");
        assertEquals(2, run("lun", "create", IQN, "--size", "lots").status());
        assertEquals(2, run("lun").status());
        assertEquals(2, run("chap", "set", IQN, "--user", "u", "--secret", "s12345678901").status(), "scope required");
    }

    @Test
    void noServerIsAOneLineFailure() {
        Run r = run("status", "--data", dir.resolve("nothing").toString());
        assertEquals(1, r.status());
        assertEquals("orion-dedup: server not running: no control socket at " + dir.resolve("nothing/control.sock")
                + System.lineSeparator(), r.err());
        assertEquals("", r.out());
    }

    @Test
    void targetAndLunLifecycle() throws Exception {
        assertEquals(0, admin("target", "create", IQN, "--alias", "CLI test").status());
        Run lun = admin("lun", "create", IQN, "--size", "16GiB");
        assertEquals(0, lun.status(), lun.err());
        assertEquals("Created LUN 0 (new volume cli-0, 16.0 GiB, 512-byte blocks) in " + IQN + "." + System.lineSeparator(), lun.out());
        assertEquals(0, admin("lun", "create", IQN, "--size", "1G", "--block-size", "4096", "--volume", "big").status());

        Run list = admin("lun", "list", IQN);
        String[] lines = list.out().split("\\R");
        assertEquals(3, lines.length, list.out());
        assertTrue(lines[0].matches("TARGET\\s+LUN\\s+VOLUME\\s+SIZE\\s+BLOCK\\s+DEDUP BLOCK\\s+DEDUP MODE\\s+BACKING\\s+THIN\\s+READ-ONLY\\s+SESSIONS\\s+ORIGIN"),
                lines[0]);
        assertTrue(lines[2].matches(IQN.replace(".", "\\.") + "\\s+1\\s+big\\s+1\\.0 GiB\\s+4096\\s+4096\\s+-\\s+dedup\\s+yes\\s+no\\s+0\\s+-"),
                lines[2]);

        JsonNode json = AdminJson.mapper().readTree(admin("lun", "list", IQN, "--json").out());
        assertEquals(2, json.size());
        assertEquals(17179869184L, json.get(0).get("size_bytes").asLong());

        assertEquals(0, admin("lun", "resize", IQN, "1", "2GiB").status());
        assertEquals(2L << 30, TargetFiles.read(dir.resolve("targets/cli.toml")).lun(1).orElseThrow().size());

        api.busyLuns.add(IQN + "/1");
        Run refused = admin("lun", "delete", IQN, "1");
        assertEquals(1, refused.status());
        assertEquals(1, refused.err().lines().count(), refused.err());
        assertTrue(refused.err().contains("--force"));
        assertEquals(0, admin("lun", "delete", IQN, "1", "--force").status());

        Run targets = admin("target", "list");
        assertTrue(targets.out().contains(IQN) && targets.out().contains("CLI test"), targets.out());
        assertEquals(0, admin("target", "set", IQN, "--demo-mode", "on").status());
        assertTrue(admin("target", "show", IQN).out().contains("open (demo mode"));
        assertEquals(0, admin("target", "delete", IQN).status());
        assertFalse(Files.exists(dir.resolve("targets/cli.toml")));
    }

    /** Issue item 2: the volume lifecycle on the command line. */
    @Test
    void lunDeleteKeepsTheVolumeDetachedAndVolumeCommandsManageIt() throws Exception {
        assertEquals(0, admin("target", "create", IQN).status());
        assertEquals(0, admin("lun", "create", IQN, "--size", "1GiB").status());
        Run deleted = admin("lun", "delete", IQN, "0");
        assertEquals(0, deleted.status(), deleted.err());
        assertEquals("Deleted LUN 0 from " + IQN + "; volume cli-0 was kept, detached (volume delete cli-0 destroys it)."
                + System.lineSeparator(), deleted.out());

        Run list = admin("volume", "list");
        assertEquals(0, list.status(), list.err());
        String[] lines = list.out().split("\\R");
        assertTrue(lines[0].matches("VOLUME\\s+BACKING\\s+SIZE\\s+USED\\s+STORED\\s+EXCLUSIVE\\s+ATTACHED TO\\s+ORIGIN"), lines[0]);
        assertTrue(lines[1].matches("cli-0\\s+dedup\\s+1\\.0 GiB\\s+.*detached\\s+-"), lines[1]);

        Run exists = admin("lun", "create", IQN, "--size", "1GiB", "--volume", "cli-0");
        assertEquals(1, exists.status());
        assertTrue(exists.err().contains("already exists") && exists.err().contains("--attach"), exists.err());
        Run noName = admin("lun", "create", IQN, "--attach");
        assertEquals(2, noName.status(), "--attach without --volume is a usage error");
        assertTrue(noName.err().contains("--attach needs --volume NAME"), noName.err());
        assertEquals(2, admin("lun", "create", IQN).status(), "--size is required for a new volume");

        Run attach = admin("lun", "create", IQN, "--volume", "cli-0", "--attach");
        assertEquals(0, attach.status(), attach.err());
        assertTrue(attach.out().startsWith("Created LUN 0 (attached volume cli-0, 1.0 GiB"), attach.out());
        assertTrue(api.calls.contains("lun.create cli-0 attach size=0 block=0"), api.calls.toString());
        Run busy = admin("volume", "delete", "cli-0");
        assertEquals(1, busy.status());
        assertTrue(busy.err().contains("backs LUN 0 of " + IQN), busy.err());

        JsonNode destroyed = AdminJson.mapper().readTree(admin("lun", "delete", IQN, "0", "--destroy", "--json").out());
        assertTrue(destroyed.get("destroyed").asBoolean(), destroyed.toString());
        assertEquals("No volumes." + System.lineSeparator(), admin("volume", "list").out());

        assertEquals(0, admin("lun", "create", IQN, "--size", "1GiB").status());
        Run target = admin("target", "delete", IQN);
        assertEquals(0, target.status(), target.err());
        assertTrue(target.out().contains("volume cli-0 was kept, detached"), target.out());
        Run gone = admin("volume", "delete", "cli-0");
        assertEquals(0, gone.status(), gone.err());
        assertTrue(gone.out().startsWith("Volume cli-0 was destroyed"), gone.out());
        assertEquals(1, admin("volume", "delete", "cli-0").status());
    }

    /** Issue item 14: status and stats say when the pool is read-only. */
    @Test
    void statusAndStatsShowAReadOnlyPool() throws Exception {
        data();
        assertTrue(admin("status").out().contains("Pool:      read-write"), admin("status").out());
        api.poolReadOnly = "metadata damaged: volume record of lun0 fails its check";
        Run status = admin("status");
        assertTrue(status.out().contains("Pool:      READ-ONLY: metadata damaged: volume record of lun0 fails its check"),
                status.out());
        JsonNode json = AdminJson.mapper().readTree(admin("status", "--json").out());
        assertEquals("read-only", json.get("pool").asText());
        assertTrue(json.get("pool_read_only").asBoolean());
        assertEquals(api.poolReadOnly, json.get("pool_read_only_reason").asText());
        Run stats = admin("stats");
        assertTrue(stats.out().contains("The pool is READ-ONLY: metadata damaged"), stats.out());
    }

    @Test
    void secretsAreMaskedEverywhere() throws Exception {
        admin("target", "create", IQN);
        Run noLun = admin("acl", "add", IQN, "iqn.1994-05.com.redhat:host1", "--luns", "0");
        assertEquals(2, noLun.status(), "mapping a LUN that does not exist is refused as bad input");
        assertTrue(noLun.err().contains("--luns: LUN 0 does not exist"), noLun.err());
        assertEquals(0, admin("acl", "add", IQN, "iqn.1994-05.com.redhat:host1").status());
        Path secretFile = dir.resolve("secret");
        Files.writeString(secretFile, "file-secret-123\n");
        Run set = admin("chap", "set", IQN, "--initiator", "iqn.1994-05.com.redhat:host1", "--user", "host1",
                "--secret-file", secretFile.toString(), "--mutual-user", "target", "--mutual-secret", "mutual-secret-9");
        assertEquals(0, set.status(), set.err());
        assertEquals(0, admin("chap", "set", IQN, "--target-wide", "--user", "all", "--secret", "target-wide-sec").status());
        assertTrue(Files.readString(dir.resolve("targets/cli.toml")).contains("file-secret-123"));

        StringBuilder everything = new StringBuilder();
        for (String[] cmd : List.of(new String[] {"target", "show", IQN}, new String[] {"target", "show", IQN, "--json"},
                new String[] {"acl", "list", IQN}, new String[] {"acl", "list", IQN, "--json"},
                new String[] {"target", "list", "--json"})) {
            Run r = admin(cmd);
            assertEquals(0, r.status(), r.err());
            everything.append(r.out()).append(r.err());
        }
        for (String secret : List.of("file-secret-123", "mutual-secret-9", "target-wide-sec")) {
            assertFalse(everything.toString().contains(secret), everything.toString());
        }
        assertTrue(everything.toString().contains("********"));
        assertTrue(admin("acl", "list", IQN).out().matches("(?s).*iqn\\.1994-05\\.com\\.redhat:host1\\s+all\\s+no\\s+host1\\s+target.*"));

        Run shortSecret = admin("chap", "set", IQN, "--target-wide", "--user", "u", "--secret", "short");
        assertEquals(1, shortSecret.status());
        assertTrue(shortSecret.err().contains("12 to 255 characters"), shortSecret.err());
        assertFalse(shortSecret.err().contains("short"), "even a rejected secret is not echoed");
        assertEquals(0, admin("chap", "clear", IQN, "--initiator", "iqn.1994-05.com.redhat:host1").status());
    }

    @Test
    void statsTableLikeVdostats() throws Exception {
        Run r = admin("stats");
        assertEquals(0, r.status(), r.err());
        String[] lines = r.out().split("\\R");
        assertTrue(lines[0].matches("VOLUME\\s+TARGET\\s+LUN\\s+SIZE\\s+USED\\s+AVAILABLE\\s+USE%\\s+SAVING%\\s+DEDUP\\s+COMPRESS\\s+EXCLUSIVE\\s+MODE"), lines[0]);
        assertTrue(lines[1].matches("default-0\\s+iqn\\.2026-11\\.io\\.orion:default\\s+0\\s+16\\.0 GiB\\s+8\\.0 GiB\\s+8\\.0 GiB\\s+50\\.0%\\s+75\\.0%\\s+-\\s+-\\s+1\\.0 GiB\\s+-"),
                lines[1]);
        assertTrue(lines[2].matches("\\(pool\\)\\s+-\\s+-\\s+100\\.0 GiB\\s+2\\.0 GiB\\s+98\\.0 GiB\\s+2\\.0%\\s+75\\.0%\\s+-\\s+-\\s+-\\s+-"), lines[2]);
        assertEquals(3, lines.length);

        Run verbose = admin("stats", "--verbose");
        assertTrue(verbose.out().contains("duplicate_blocks") && verbose.out().contains("4194304 (4.0 MiB)"), verbose.out());

        JsonNode json = AdminJson.mapper().readTree(admin("stats", "--json").out());
        assertEquals(8L << 30, json.get("volumes").get(0).get("logical_used_bytes").asLong());
        assertEquals(2L << 30, json.get("pool").get("used_bytes").asLong());
        assertTrue(json.get("pool").get("unique_bytes").isNull(), "unknown is null, not -1: " + json);
        assertTrue(json.get("pool").get("dedup_ratio").isNull(), json.toString());
        assertTrue(json.get("volumes").get(0).get("unique_bytes").isNull(), json.toString());
    }

    @Test
    void managementCommandsReachTheServer() throws Exception {
        Run flush = admin("dedup-cache-flush");
        assertEquals(0, flush.status(), flush.err());
        assertEquals(1, api.cacheFlushes);
        assertTrue(flush.out().matches("(?s)NAME\\s+VALUE\\R+entries_dropped\\s+77\\R+dropped_bytes\\s+315392 \\(308\\.0 KiB\\).*"),
                flush.out());
        Run hash = admin("dedup-hash-stats");
        assertTrue(hash.out().contains("1500000000 (1.4 GiB/s)"), hash.out());
        assertTrue(hash.out().matches("(?s).*duplicate_ratio\\s+0\\.750.*"), hash.out());
        Run cache = admin("dedup-cache-stats");
        assertTrue(cache.out().matches("(?s).*\\Rblock_cache\\.hits\\s+10\\R.*"), cache.out());
        assertTrue(cache.out().contains("block_cache.size_bytes  1048576 (1.0 MiB)"), cache.out());
        assertTrue(cache.out().matches("(?s).*\\Rdevices\\[1\\]\\.path\\s+/srv/chunks\\.1\\R.*"), cache.out());
        Map<?, ?> m = AdminJson.mapper().readValue(admin("dedup-reference-cleanup", "--json").out(), Map.class);
        assertEquals(12, m.get("chunks_reclaimed"));
        for (var c : io.orion.dedup.admin.ManagementCommand.values()) {
            assertEquals(0, admin(c.command()).status(), c.command());
        }
    }

    @Test
    void statusAndSaveconfig() throws Exception {
        admin("target", "create", IQN);
        Run s = admin("status");
        assertTrue(s.out().contains("Uptime:    00h 00m 42s"), s.out());
        assertTrue(s.out().contains("Commits:   durable at flushes (durable_commits = false)"), s.out());
        assertTrue(s.out().contains("iqn.1994-05.com.redhat:c1"));
        Run save = admin("saveconfig");
        assertEquals(0, save.status());
        assertTrue(save.out().startsWith("Saved 1 target definition:"), save.out());
    }

    @Test
    void serveRejectsBadConfigWithExitTwo() throws Exception {
        Path cfg = dir.resolve("bad.toml");
        Files.writeString(cfg, "[deduplication]\nhash_algorithm = \"sha256\"\ncompression_threshold = 2.0\n");
        Run r = run("serve", "--config", cfg.toString(), "--data", dir.resolve("d").toString());
        assertEquals(2, r.status());
        assertEquals("orion-dedup: " + cfg + ":3: deduplication.compression_threshold = 2.0: must be > 0 and <= 1.0 "
                + "(fraction of the original size)" + System.lineSeparator(), r.err());

        Files.writeString(cfg, "[server]\nportals = [\"127.0.0.1:0\"]\n\n[metrics]\nenabeld = true\n");
        Run unknown = run("serve", "--config", cfg.toString());
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().startsWith("orion-dedup: " + cfg + ":5: metrics.enabeld: unknown key (did you mean enabled?)"),
                unknown.err());
        assertFalse(Files.exists(dir.resolve("d")), "nothing started");

        Run missing = run("serve", "--config", dir.resolve("none.toml").toString());
        assertEquals(2, missing.status());
        assertTrue(missing.err().contains("none.toml: file not found"));
    }

    @Test
    void serveWithoutAServerInTheBuildFails() {
        StringWriter err = new StringWriter();
        int status = new OrionCli(new PrintWriter(new StringWriter()), new PrintWriter(err), Optional::empty, r -> {})
                .execute("serve", "--data", dir.toString());
        assertEquals(1, status);
        assertTrue(err.toString().contains("this build has no server"));
    }

    @Test
    void servePrintsReadyAndStopsOnTermination() throws Exception {
        Path cfg = dir.resolve("ok.toml");
        Files.writeString(cfg, "[server]\nportals = [\"127.0.0.1:0\"]\n");
        StringWriter out = new StringWriter();
        List<Runnable> handlers = new ArrayList<>();
        OrionCli cli = new OrionCli(new PrintWriter(out), new PrintWriter(new StringWriter()),
                () -> ServerLaunchers.reflective(FakeOrionServer.class.getName()), handlers::add);
        int[] status = {-1};
        Thread t = new Thread(() -> status[0] = cli.execute("serve", "--config", cfg.toString(), "--data",
                dir.resolve("d").toString(), "--targets", dir.resolve("t").toString()));
        t.start();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!out.toString().contains("orion-dedup ready") && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        String ready = out.toString();
        assertTrue(ready.matches("(?s)orion-dedup ready: portals 127\\.0\\.0\\.1:[1-9][0-9]*, data .*"), ready);
        assertEquals(1, handlers.size());
        handlers.get(0).run();
        t.join(10_000);
        assertEquals(0, status[0]);
        assertEquals("clean\n", Files.readString(dir.resolve("d/closed")));
        assertEquals(cfg + "\n" + dir.resolve("t") + "\n", Files.readString(dir.resolve("d/started")));
    }
}
