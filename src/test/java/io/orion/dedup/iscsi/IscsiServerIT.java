package io.orion.dedup.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Starts {@link IscsiServer} on 127.0.0.1 with a RAM test target and drives it with real initiator
 * tools (libiscsi's iscsi-ls, iscsi-inq and iscsi-test-cu; qemu-img with its libiscsi driver).
 */
class IscsiServerIT {

    static final String IQN = "iqn.2026-11.io.orion:it";
    static final String CHAP_IQN = "iqn.2026-11.io.orion:it-chap";
    static final String INITIATOR = "iqn.2026-11.test:raw";

    static RamScsiTarget scsi;
    static RamScsiTarget chapScsi;
    static IscsiServer server;
    static InetSocketAddress portal;

    @BeforeAll
    static void start() throws IOException {
        scsi = new RamScsiTarget(64);
        chapScsi = new RamScsiTarget(1);
        LoginAuthorizer chap = new LoginAuthorizer() {
            @Override
            public boolean mayLogin(String initiatorName) {
                return true;
            }

            @Override
            public boolean visibleInDiscovery(String initiatorName) {
                return false;
            }

            @Override
            public Optional<ChapCredentials> chap(String initiatorName) {
                return Optional.of(new ChapCredentials("ituser", "itsecret1234", "ittarget", "ittargetsecret1"));
            }
        };
        TargetCatalog catalog = TargetCatalog.of(List.of(
                new IscsiTargetInfo(IQN, "it", 1, List.of(), scsi, LoginAuthorizer.OPEN),
                new IscsiTargetInfo(CHAP_IQN, null, 1, List.of(), chapScsi, chap)));
        server = new IscsiServer(catalog, IscsiServerOptions.defaults());
        portal = server.bind(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterAll
    static void stop() {
        server.close();
        assertTrue(server.sessions().isEmpty());
        scsi.shutdown();
        chapScsi.shutdown();
    }

    static String url(String iqn) {
        return "iscsi://127.0.0.1:" + portal.getPort() + "/" + iqn + "/0";
    }

    record Run(int exit, String output) {
    }

    static Run run(int timeoutSeconds, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out;
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + String.join(" ", cmd));
        }
        out = p.getInputStream().readAllBytes();
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    @Test
    void iscsiLsListsVisibleTargetsWithLunSize() throws Exception {
        Run r = run(30, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + portal.getPort());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("Target:" + IQN + " Portal:127.0.0.1:" + portal.getPort() + ",1"), r.output());
        assertTrue(r.output().contains("Lun:0"), r.output());
        assertTrue(r.output().contains("DIRECT_ACCESS"), r.output());
        assertTrue(r.output().contains("Size:"), r.output());
        assertFalse(r.output().contains(CHAP_IQN), "hidden from discovery: " + r.output());
    }

    @Test
    void iscsiInqReadsStandardInquiry() throws Exception {
        Run r = run(30, "iscsi-inq", url(IQN));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("Vendor:ORION"), r.output());
        assertTrue(r.output().contains("Product:RAMTEST"), r.output());
    }

    @Test
    void chapLoginWithRightAndWrongSecret() throws Exception {
        String good = "iscsi://ituser%itsecret1234@127.0.0.1:" + portal.getPort() + "/" + CHAP_IQN + "/0";
        Run ok = run(30, "iscsi-inq", good);
        assertEquals(0, ok.exit(), ok.output());
        String bad = "iscsi://ituser%wrongsecret@127.0.0.1:" + portal.getPort() + "/" + CHAP_IQN + "/0";
        Run refused = run(30, "iscsi-inq", bad);
        assertTrue(refused.exit() != 0, refused.output());
        Run none = run(30, "iscsi-inq", url(CHAP_IQN));
        assertTrue(none.exit() != 0, none.output());
    }

    @Test
    void mutualChapProvesTheTargetToTheInitiator() throws Exception {
        String base = "iscsi://ituser%itsecret1234@127.0.0.1:" + portal.getPort() + "/" + CHAP_IQN + "/0";
        Run ok = run(30, "iscsi-inq", base + "?target_user=ittarget&target_password=ittargetsecret1");
        assertEquals(0, ok.exit(), ok.output());
        // an initiator expecting a different target secret rejects our CHAP_R
        Run wrong = run(30, "iscsi-inq", base + "?target_user=ittarget&target_password=notthesecret1");
        assertTrue(wrong.exit() != 0, wrong.output());
    }

    @Test
    void qemuImgConvertThenCompare(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("random.img");
        byte[] data = new byte[24 << 20];
        new Random(42).nextBytes(data);
        Files.write(image, data);
        Run convert = run(120, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", image.toString(), url(IQN));
        assertEquals(0, convert.exit(), convert.output());
        Run compare = run(120, "qemu-img", "compare", "-f", "raw", "-F", "raw", image.toString(), url(IQN));
        assertEquals(0, compare.exit(), compare.output());
        assertTrue(compare.output().contains("Images are identical"), compare.output());
        // and a changed byte is noticed
        data[5 << 20] ^= 1;
        Files.write(image, data);
        Run differ = run(120, "qemu-img", "compare", "-f", "raw", "-F", "raw", image.toString(), url(IQN));
        assertEquals(1, differ.exit(), differ.output());
    }

    @Test
    void qemuWithHeaderDigestCrc32c(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("digest.img");
        byte[] data = new byte[4 << 20];
        new Random(43).nextBytes(data);
        Files.write(image, data);
        String source = "driver=raw,file.driver=file,file.filename=" + image;
        String target = "driver=iscsi,transport=tcp,portal=127.0.0.1:" + portal.getPort() + ",target=" + IQN
                + ",lun=0,header-digest=crc32c";
        Run convert = run(120, "qemu-img", "convert", "-n", "--image-opts", source, "--target-image-opts", target);
        assertEquals(0, convert.exit(), convert.output());
        Run compare = run(120, "qemu-img", "compare", "--image-opts", source, target);
        assertEquals(0, compare.exit(), compare.output());
        assertTrue(compare.output().contains("Images are identical"), compare.output());
    }

    @Test
    void libiscsiIscsiFamilyPasses() throws Exception {
        Run r = run(300, "iscsi-test-cu", "-d", "-t", "iSCSI", url(IQN));
        assertTrue(r.output().contains("Run Summary"), r.output());
        String summary = r.output().substring(r.output().indexOf("Run Summary"));
        List<String> tests = new ArrayList<>();
        for (String line : summary.split("\n")) {
            if (line.trim().startsWith("tests")) {
                tests.add(line.trim());
            }
        }
        assertEquals(1, tests.size(), summary);
        String[] f = tests.get(0).split("\\s+");
        // tests Total Ran Passed Failed Inactive
        assertEquals("0", f[4], summary);
        assertTrue(Integer.parseInt(f[3]) >= 15, summary);
    }

    @Test
    void garbageOnOneConnectionDoesNotDisturbAnotherSession() throws Exception {
        try (RawInitiator good = new RawInitiator(portal); RawInitiator bad = new RawInitiator(portal)) {
            assertEquals(0, good.login(INITIATOR, IQN, 0x400000000001L));
            byte[] payload = "still alive".getBytes(StandardCharsets.US_ASCII);
            assertArrayEquals(payload, good.ping(payload, 0x10));
            // A login PDU claiming a 16 MiB data segment, then noise: framing is lost.
            byte[] junk = new byte[48 + 64];
            new Random(7).nextBytes(junk);
            junk[0] = 0x43;
            junk[5] = (byte) 0xff;
            junk[6] = (byte) 0xff;
            junk[7] = (byte) 0xff;
            bad.sendRaw(junk);
            assertTrue(bad.closedByPeer(), "the misbehaving connection is closed");
            assertArrayEquals(payload, good.ping(payload, 0x11));
            assertTrue(server.sessions().stream().anyMatch(s -> INITIATOR.equals(s.initiatorName())));
            Run r = run(30, "iscsi-inq", url(IQN));
            assertEquals(0, r.exit(), r.output());
        }
    }

    @Test
    void sessionReinstatementReplacesTheOldSession() throws Exception {
        long isid = 0x400000000099L;
        try (RawInitiator first = new RawInitiator(portal); RawInitiator second = new RawInitiator(portal)) {
            assertEquals(0, first.login("iqn.2026-11.test:reinstate", IQN, isid));
            int lostBefore = scsi.lost.size();
            assertEquals(0, second.login("iqn.2026-11.test:reinstate", IQN, isid));
            assertTrue(first.closedByPeer(), "old session's connection dropped");
            assertEquals(lostBefore + 1, scsi.lost.size());
            assertEquals(1, server.sessions().stream()
                    .filter(s -> s.initiatorName().equals("iqn.2026-11.test:reinstate")).count());
            assertArrayEquals(new byte[] {1, 2, 3}, second.ping(new byte[] {1, 2, 3}, 5));
        }
    }

    @Test
    void unknownTargetAndMissingNameGetLoginStatus() throws Exception {
        try (RawInitiator r = new RawInitiator(portal)) {
            assertEquals(0x0203, r.login(INITIATOR, "iqn.2026-11.io.orion:nope", 0x400000000002L));
            assertTrue(r.closedByPeer());
        }
        try (RawInitiator r = new RawInitiator(portal)) {
            assertEquals(0x0207, r.login("", IQN, 0x400000000003L));
            assertTrue(r.closedByPeer());
        }
        assertFalse(server.lunInUse("iqn.2026-11.io.orion:nope", 0));
    }
}
