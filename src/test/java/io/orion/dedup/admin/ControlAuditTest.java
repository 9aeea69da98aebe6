package io.orion.dedup.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import io.orion.dedup.config.AclDefinition;
import io.orion.dedup.config.ChapCredentials;
import io.orion.dedup.config.ControlSettings;
import io.orion.dedup.config.LunDefinition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** Every admin change over the control socket leaves one audit line: who (peer uid), what, result; never a secret. */
class ControlAuditTest {

    private static final String IQN = "iqn.2026-11.io.orion:audit";
    private static final String HOST = "iqn.1994-05.com.redhat:host1";
    private static final String USER = "chapuser-x17";
    private static final String SECRET = "s3cret-value-0042";
    private static final String MUTUAL_USER = "target-user-y29";
    private static final String MUTUAL_SECRET = "mutual-secret-0099";

    @TempDir
    Path dir;

    private ControlServer server;
    private Path socket;
    private final ListAppender<ILoggingEvent> all = new ListAppender<>();
    private Logger root;
    private Level auditLevel;
    private Level orionLevel;

    @BeforeEach
    void start() throws Exception {
        root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger audit = (Logger) LoggerFactory.getLogger("io.orion.dedup.audit");
        Logger orion = (Logger) LoggerFactory.getLogger("io.orion");
        auditLevel = audit.getLevel();
        orionLevel = orion.getLevel();
        orion.setLevel(Level.DEBUG); // everything Orion says, so that "no secret" covers it all
        all.start();
        root.addAppender(all);
        socket = dir.resolve("control.sock");
        server = ControlServer.start(new FakeAdminApi(dir.resolve("targets")), socket, ControlSettings.permissions(0660));
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
        root.detachAppender(all);
        ((Logger) LoggerFactory.getLogger("io.orion.dedup.audit")).setLevel(auditLevel);
        ((Logger) LoggerFactory.getLogger("io.orion")).setLevel(orionLevel);
    }

    private List<String> auditLines() {
        return all.list.stream().filter(e -> e.getLoggerName().equals("io.orion.dedup.audit"))
                .map(ILoggingEvent::getFormattedMessage).toList();
    }

    private static String me() throws IOException {
        Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        String name = Files.getOwner(Path.of("/proc/self")).getName();
        return "uid=" + uid + "(" + name + ")";
    }

    @Test
    void everyChangeIsAuditedWithPeerUidWhatAndResult() throws Exception {
        try (AdminClient c = AdminClient.connect(socket)) {
            c.createTarget(IQN, null, false);
            c.createLun(IQN, LunDefinition.dedup(1, "audit-1", 1L << 30, 4096));
            c.listTargets(); // a read: not audited
            c.status();
            assertThrows(AdminException.class, () -> c.createLun(IQN, LunDefinition.dedup(1, "audit-2", 1L << 30, 4096)));
        }
        List<String> lines = auditLines();
        String who = me();
        assertEquals(List.of(
                "audit: " + who + " target.create iqn=" + IQN + " result=ok",
                "audit: " + who + " lun.create iqn=" + IQN + " lun=1 result=ok",
                "audit: " + who + " lun.create iqn=" + IQN + " lun=1 result=refused: LUN 1 already exists in " + IQN),
                lines);
    }

    @Test
    void jobReadsAreNotAuditedAndJobChangesSayWhichJob() throws Exception {
        try (AdminClient c = AdminClient.connect(socket)) {
            // the fake has no jobs: each call is refused, and a refusal is audited like a success
            assertThrows(AdminException.class, () -> c.startJob("scrub"));
            for (int i = 0; i < 5; i++) { // what scrub --wait and job show --follow do every 250 ms
                assertThrows(AdminException.class, () -> c.showJob(7));
            }
            assertThrows(AdminException.class, c::listJobs);
            assertThrows(AdminException.class, c::jobSummary);
            assertThrows(AdminException.class, c::refcountHistogram);
            assertThrows(AdminException.class, () -> c.cancelJob(7));
        }
        String who = me();
        assertEquals(List.of(
                "audit: " + who + " job.start kind=scrub result=refused: this server has no background jobs",
                "audit: " + who + " job.cancel id=7 result=refused: this server has no background jobs"),
                auditLines());
    }

    @Test
    void onlyTheReadsAreLeftOut() throws Exception {
        List<String> reads = List.of(AdminProtocol.TARGET_LIST, AdminProtocol.TARGET_SHOW, AdminProtocol.LUN_LIST,
                AdminProtocol.VOLUME_LIST, AdminProtocol.ACL_LIST, AdminProtocol.STATUS, AdminProtocol.STATS,
                AdminProtocol.JOB_LIST, AdminProtocol.JOB_SHOW, AdminProtocol.JOB_SUMMARY, AdminProtocol.STATS_HISTOGRAM);
        for (var f : AdminProtocol.class.getFields()) {
            if (f.getType() == String.class) {
                String method = (String) f.get(null);
                assertEquals(!reads.contains(method), ControlAudit.audited(method), method);
            }
        }
        for (ManagementCommand m : ManagementCommand.values()) {
            boolean report = m.command().endsWith("-info") || m.command().endsWith("-stats");
            assertEquals(!report, ControlAudit.audited(m.method()), m.method());
        }
        assertTrue(ControlAudit.audited("no.such.method"));
    }

    @Test
    void noSecretOrChapUserNameInAnyLogLine() throws Exception {
        try (AdminClient c = AdminClient.connect(socket)) {
            c.createTarget(IQN, null, false);
            c.addAcl(IQN, new AclDefinition(HOST, List.of(), false, new ChapCredentials(USER, SECRET, MUTUAL_USER, MUTUAL_SECRET)));
            c.setChap(IQN, ChapScope.ACL, HOST, new ChapCredentials(USER, SECRET, MUTUAL_USER, MUTUAL_SECRET));
            // refused (mutual secret equal to the secret): the reason must not repeat the credentials either
            AdminException e = assertThrows(AdminException.class, () -> c.setChap(IQN, ChapScope.ACL, HOST,
                    new ChapCredentials(USER, SECRET, MUTUAL_USER, SECRET)));
            assertFalse(e.getMessage().isEmpty());
            c.setChap(IQN, ChapScope.DISCOVERY, null, ChapCredentials.oneWay(USER, SECRET));
            c.clearChap(IQN, ChapScope.ACL, HOST);
        }
        List<String> lines = auditLines();
        assertEquals(6, lines.size(), lines.toString());
        assertTrue(lines.get(1).contains(" acl.add iqn=" + IQN + " initiator=" + HOST + " result=ok"), lines.get(1));
        assertTrue(lines.get(2).contains(" chap.set iqn=" + IQN + " initiator=" + HOST + " scope=ACL result=ok"),
                lines.get(2));
        assertTrue(lines.get(3).contains(" chap.set ") && lines.get(3).contains("result=refused: "), lines.get(3));
        for (ILoggingEvent ev : all.list) {
            String text = ev.getFormattedMessage() + (ev.getThrowableProxy() == null ? ""
                    : ThrowableProxyUtil.asString(ev.getThrowableProxy()));
            for (String s : List.of(USER, SECRET, MUTUAL_USER, MUTUAL_SECRET)) {
                assertFalse(text.contains(s), "log line contains a credential: " + text);
            }
        }
    }

    @Test
    void aRefusalReasonNeverRepeatsCredentials() throws Exception {
        var params = AdminJson.mapper().readTree(
                "{\"iqn\":\"x\",\"chap\":{\"user\":\"" + USER + "\",\"secret\":\"" + SECRET + "\"}}");
        assertEquals("user **** exists; secret **** too short", ControlAudit.mask("user " + USER + " exists; secret " + SECRET
                + " too short", params));
    }
}
