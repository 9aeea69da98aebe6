package io.orion.dedup.iscsi.login;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.orion.dedup.iscsi.ChapCredentials;
import io.orion.dedup.iscsi.DiscoveryAuth;
import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.iscsi.LoginAuthorizer;
import io.orion.dedup.iscsi.TargetCatalog;
import io.orion.dedup.iscsi.pdu.LoginRequest;
import io.orion.dedup.iscsi.pdu.TextParams;
import io.orion.dedup.scsi.Nexus;
import io.orion.dedup.scsi.ScsiCommand;
import io.orion.dedup.scsi.ScsiResponse;
import io.orion.dedup.scsi.ScsiTarget;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class LoginNegotiatorTest {

    static final String TARGET = "iqn.2026-11.io.orion:t1";
    static final String INITIATOR = "iqn.2026-11.test:host";

    static final ScsiTarget NO_SCSI = new ScsiTarget() {
        @Override
        public CompletableFuture<ScsiResponse> execute(ScsiCommand command, io.orion.dedup.blockdev.IoBatch batch) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean hasLun(Nexus nexus, long lun) {
            return false;
        }

        @Override
        public void logicalUnitReset(Nexus issuer, long lun) {
        }

        @Override
        public void targetReset(Nexus issuer, boolean cold) {
        }

        @Override
        public void taskSetCleared(Nexus issuer, long lun, boolean allInitiators) {
        }

        @Override
        public void nexusLost(Nexus nexus) {
        }
    };

    private static LoginAuthorizer chapFor(ChapCredentials c, String denied) {
        return authorizer(c, denied, local -> true);
    }

    private static LoginAuthorizer authorizer(ChapCredentials c, String denied, Predicate<InetSocketAddress> reachable) {
        return new LoginAuthorizer() {
            @Override
            public boolean mayLogin(String initiatorName) {
                return !initiatorName.equals(denied);
            }

            @Override
            public boolean visibleInDiscovery(String initiatorName) {
                return true;
            }

            @Override
            public Optional<ChapCredentials> chap(String initiatorName) {
                return Optional.ofNullable(c);
            }

            @Override
            public boolean reachableThrough(InetSocketAddress local) {
                return reachable.test(local);
            }
        };
    }

    private final ChapFailureLimiter limiter = new ChapFailureLimiter(3, Duration.ofMinutes(1));

    private LoginNegotiator negotiator(LoginAuthorizer auth, IscsiServerOptions options) {
        IscsiTargetInfo t = new IscsiTargetInfo(TARGET, "alias one", 3, List.of(), NO_SCSI, auth);
        return new LoginNegotiator(TargetCatalog.of(List.of(t)), options, limiter, new SecureRandom(), n -> 0);
    }

    private static LoginRequest req(boolean transit, int csg, int nsg) {
        return new LoginRequest(transit, false, csg, nsg, 0, 0, 0x400001370000L, 0, 1, 0, 1, 0,
                Unpooled.EMPTY_BUFFER);
    }

    private static byte[] text(String... kv) {
        StringBuilder sb = new StringBuilder();
        for (String s : kv) {
            sb.append(s).append('\0');
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static Map<String, String> map(LoginNegotiator.Step s) {
        Map<String, String> m = new LinkedHashMap<>();
        s.answer().forEach(e -> m.put(e.getKey(), e.getValue()));
        return m;
    }

    /**
     * A target on two portal groups: the login answers the TargetPortalGroupTag of the group whose
     * portal the connection arrived at (a wildcard portal takes every address on its port), and
     * the session's target port is that group's.
     */
    @Test
    void targetPortalGroupTagIsTheGroupOfThePortalTheLoginArrivedAt() {
        IscsiTargetInfo t = new IscsiTargetInfo(TARGET, null, NO_SCSI, LoginAuthorizer.OPEN, 0, List.of(
                new IscsiTargetInfo.PortalGroup(1, List.of("127.0.0.1:3260")),
                new IscsiTargetInfo.PortalGroup(2, List.of("127.0.0.1:3261", "0.0.0.0:3262"))));
        Map<InetSocketAddress, String> expect = Map.of(
                new InetSocketAddress("127.0.0.1", 3260), "1",
                new InetSocketAddress("127.0.0.1", 3261), "2",
                new InetSocketAddress("127.0.0.2", 3262), "2",
                new InetSocketAddress("127.0.0.1", 3999), "1");
        for (Map.Entry<InetSocketAddress, String> e : expect.entrySet()) {
            LoginNegotiator n = new LoginNegotiator(TargetCatalog.of(List.of(t)), IscsiServerOptions.defaults(), limiter,
                    new SecureRandom(), x -> 0, e.getKey());
            LoginNegotiator.Step s = n.step(req(true, 0, 1), text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET,
                    "SessionType=Normal", "AuthMethod=None"));
            assertEquals(0, s.status());
            assertEquals(e.getValue(), map(s).get("TargetPortalGroupTag"), "login at " + e.getKey());
            assertEquals(Integer.parseInt(e.getValue()), n.target().portalGroupTag());
        }
    }

    @Test
    void noAuthThenOperationalToFullFeature() {
        LoginNegotiator n = negotiator(LoginAuthorizer.OPEN, IscsiServerOptions.defaults());
        LoginNegotiator.Step s1 = n.step(req(true, 0, 1), text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET,
                "SessionType=Normal", "AuthMethod=None"));
        assertEquals(0, s1.status());
        assertTrue(s1.transit());
        assertEquals(1, s1.nsg());
        Map<String, String> a1 = map(s1);
        assertEquals("None", a1.get("AuthMethod"));
        assertEquals("3", a1.get("TargetPortalGroupTag"));
        assertEquals("alias one", a1.get("TargetAlias"));
        LoginNegotiator.Step s2 = n.step(req(true, 1, 3), text("HeaderDigest=None,CRC32C", "DataDigest=None",
                "InitialR2T=Yes", "ImmediateData=Yes", "MaxBurstLength=262144", "FirstBurstLength=65536",
                "MaxRecvDataSegmentLength=65536", "MaxConnections=1", "X-vendor.key=1"));
        assertEquals(0, s2.status());
        assertTrue(s2.complete());
        Map<String, String> a2 = map(s2);
        assertEquals("None", a2.get("HeaderDigest"));
        assertEquals("Yes", a2.get("InitialR2T"));
        assertEquals("NotUnderstood", a2.get("X-vendor.key"));
        assertEquals("262144", a2.get("MaxRecvDataSegmentLength"));
        assertFalse(a2.containsKey("InitiatorName"));
        assertEquals(65536, n.params().initiatorMaxRecvDataSegmentLength());
        assertEquals(262144, n.params().maxBurstLength());
        assertTrue(n.params().initialR2T());
    }

    @Test
    void aLoginThroughAPortalTheTargetIsNotReachableAtFindsNoTarget() {
        InetSocketAddress only = new InetSocketAddress("127.0.0.2", 3262);
        LoginAuthorizer onePortal = authorizer(null, "nobody", only::equals);
        IscsiTargetInfo t = new IscsiTargetInfo(TARGET, null, 3, List.of(), NO_SCSI, onePortal);
        byte[] login = text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET, "SessionType=Normal",
                "AuthMethod=None");
        for (InetSocketAddress local : List.of(only, new InetSocketAddress("127.0.0.1", 3262))) {
            LoginNegotiator n = new LoginNegotiator(TargetCatalog.of(List.of(t)), IscsiServerOptions.defaults(),
                    limiter, new SecureRandom(), x -> 0, local);
            assertEquals(local.equals(only) ? 0 : LoginStatus.NOT_FOUND, n.step(req(true, 0, 1), login).status(),
                    "login through " + local);
        }
    }

    @Test
    void straightToOperationalStage() {
        LoginNegotiator n = negotiator(LoginAuthorizer.OPEN, IscsiServerOptions.defaults());
        LoginNegotiator.Step s = n.step(req(true, 1, 3), text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET,
                "InitialR2T=No", "ImmediateData=Yes", "FirstBurstLength=8192"));
        assertEquals(0, s.status());
        assertTrue(s.complete());
        assertFalse(n.params().initialR2T());
        assertEquals(8192, n.params().firstBurstLength());
    }

    @Test
    void statusCodesForBadLogins() {
        IscsiServerOptions o = IscsiServerOptions.defaults();
        assertEquals(LoginStatus.MISSING_PARAMETER, negotiator(LoginAuthorizer.OPEN, o)
                .step(req(true, 0, 1), text("TargetName=" + TARGET)).status());
        assertEquals(LoginStatus.MISSING_PARAMETER, negotiator(LoginAuthorizer.OPEN, o)
                .step(req(true, 0, 1), text("InitiatorName=" + INITIATOR)).status());
        assertEquals(LoginStatus.NOT_FOUND, negotiator(LoginAuthorizer.OPEN, o)
                .step(req(true, 0, 1), text("InitiatorName=" + INITIATOR, "TargetName=iqn.2026-11.x:nope"))
                .status());
        assertEquals(LoginStatus.AUTHORIZATION_FAILURE, negotiator(chapFor(null, INITIATOR), o)
                .step(req(true, 0, 1), text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET)).status());
        assertEquals(LoginStatus.SESSION_TYPE_NOT_SUPPORTED, negotiator(LoginAuthorizer.OPEN, o)
                .step(req(true, 0, 1), text("InitiatorName=" + INITIATOR, "SessionType=Other")).status());
        LoginRequest v1 = new LoginRequest(true, false, 0, 1, 2, 1, 1, 0, 1, 0, 1, 0, Unpooled.EMPTY_BUFFER);
        assertEquals(LoginStatus.UNSUPPORTED_VERSION, negotiator(LoginAuthorizer.OPEN, o)
                .step(v1, text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET)).status());
        // transit to a stage that is not after the current one
        assertEquals(LoginStatus.INITIATOR_ERROR, negotiator(LoginAuthorizer.OPEN, o)
                .step(req(true, 1, 0), text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET)).status());
    }

    @Test
    void discoverySessionAnswersIrrelevantForSessionKeys() {
        LoginNegotiator n = negotiator(LoginAuthorizer.OPEN, IscsiServerOptions.defaults());
        LoginNegotiator.Step s = n.step(req(true, 1, 3), text("InitiatorName=" + INITIATOR, "SessionType=Discovery",
                "MaxBurstLength=262144", "HeaderDigest=None"));
        assertTrue(s.complete());
        assertTrue(n.discovery());
        assertEquals("Irrelevant", map(s).get("MaxBurstLength"));
        assertEquals("None", map(s).get("HeaderDigest"));
        assertFalse(map(s).containsKey("TargetPortalGroupTag"));
    }

    /** The keys open-iscsi's iscsiadm sends in a SendTargets discovery login, answered as LIO does. */
    @Test
    void discoverySessionNegotiatesRecoveryAndTimeKeys() {
        LoginNegotiator n = negotiator(LoginAuthorizer.OPEN, IscsiServerOptions.defaults());
        LoginNegotiator.Step s = n.step(req(true, 1, 3), text("InitiatorName=" + INITIATOR, "SessionType=Discovery",
                "HeaderDigest=None", "DataDigest=None", "DefaultTime2Wait=2", "DefaultTime2Retain=0",
                "IFMarker=No", "OFMarker=No", "ErrorRecoveryLevel=0", "MaxRecvDataSegmentLength=32768"));
        assertEquals(0, s.status());
        assertTrue(s.complete());
        Map<String, String> a = map(s);
        assertEquals("0", a.get("ErrorRecoveryLevel"));
        assertEquals("2", a.get("DefaultTime2Wait"));
        assertEquals("0", a.get("DefaultTime2Retain"));
        assertFalse(a.containsValue("Irrelevant"), a.toString());
    }

    @Test
    void continuedTextIsCollectedBeforeAnswering() {
        LoginNegotiator n = negotiator(LoginAuthorizer.OPEN, IscsiServerOptions.defaults());
        LoginRequest part = new LoginRequest(false, true, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, Unpooled.EMPTY_BUFFER);
        byte[] all = text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET, "MaxBurstLength=65536");
        LoginNegotiator.Step s1 = n.step(part, java.util.Arrays.copyOfRange(all, 0, 20));
        assertEquals(0, s1.status());
        assertTrue(s1.answer().isEmpty());
        assertFalse(s1.transit());
        LoginNegotiator.Step s2 = n.step(req(true, 1, 3), java.util.Arrays.copyOfRange(all, 20, all.length));
        assertTrue(s2.complete());
        assertEquals("65536", map(s2).get("MaxBurstLength"));
    }

    private static String chapResponse(ChapAlgorithm a, Map<String, String> challenge, String secret) {
        int id = Integer.parseInt(challenge.get("CHAP_I"));
        byte[] c = HexFormat.of().parseHex(challenge.get("CHAP_C").substring(2));
        return "0x" + HexFormat.of().formatHex(a.response(id, secret.getBytes(StandardCharsets.UTF_8), c));
    }

    @Test
    void oneWayChapWithSha256WhenOffered() {
        ChapCredentials cred = ChapCredentials.oneWay("user1", "secretsecret1");
        LoginNegotiator n = negotiator(chapFor(cred, null), IscsiServerOptions.defaults());
        LoginNegotiator.Step s1 = n.step(req(true, 0, 1), text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET,
                "AuthMethod=CHAP,None"));
        assertEquals("CHAP", map(s1).get("AuthMethod"));
        assertFalse(s1.transit());
        LoginNegotiator.Step s2 = n.step(req(true, 0, 1), text("CHAP_A=7,5"));
        Map<String, String> ch = map(s2);
        assertEquals("7", ch.get("CHAP_A"));
        assertFalse(s2.transit());
        LoginNegotiator.Step s3 = n.step(req(true, 0, 1), text("CHAP_N=user1",
                "CHAP_R=" + chapResponse(ChapAlgorithm.SHA256, ch, "secretsecret1")));
        assertEquals(0, s3.status());
        assertTrue(s3.transit());
        assertEquals(1, s3.nsg());
    }

    @Test
    void mutualChapMd5() {
        ChapCredentials cred = new ChapCredentials("user1", "secretsecret1", "target1", "targetsecret2");
        LoginNegotiator n = negotiator(chapFor(cred, null), IscsiServerOptions.defaults());
        n.step(req(false, 0, 0), text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET, "AuthMethod=CHAP"));
        Map<String, String> ch = map(n.step(req(false, 0, 0), text("CHAP_A=5")));
        assertEquals("5", ch.get("CHAP_A"));
        byte[] myChallenge = new byte[16];
        myChallenge[0] = 42;
        LoginNegotiator.Step s3 = n.step(req(true, 0, 1), text("CHAP_N=user1",
                "CHAP_R=" + chapResponse(ChapAlgorithm.MD5, ch, "secretsecret1"), "CHAP_I=77",
                "CHAP_C=0x" + HexFormat.of().formatHex(myChallenge)));
        assertEquals(0, s3.status());
        Map<String, String> a = map(s3);
        assertEquals("target1", a.get("CHAP_N"));
        byte[] expected = ChapAlgorithm.MD5.response(77, "targetsecret2".getBytes(StandardCharsets.UTF_8),
                myChallenge);
        assertEquals("0x" + HexFormat.of().formatHex(expected), a.get("CHAP_R"));
    }

    @Test
    void wrongSecretFailsAndRepeatedFailuresAreRateLimited() {
        ChapCredentials cred = ChapCredentials.oneWay("user1", "secretsecret1");
        for (int i = 0; i < 4; i++) {
            LoginNegotiator n = negotiator(chapFor(cred, null), IscsiServerOptions.defaults());
            n.step(req(false, 0, 0), text("InitiatorName=" + INITIATOR, "TargetName=" + TARGET, "AuthMethod=CHAP"));
            Map<String, String> ch = map(n.step(req(false, 0, 0), text("CHAP_A=5")));
            String secret = i < 3 ? "wrongsecret" : "secretsecret1";
            LoginNegotiator.Step s = n.step(req(true, 0, 1), text("CHAP_N=user1",
                    "CHAP_R=" + chapResponse(ChapAlgorithm.MD5, ch, secret)));
            // the 4th attempt has the right secret but comes after 3 failures within the window
            assertEquals(LoginStatus.AUTHENTICATION_FAILURE, s.status(), "attempt " + i);
        }
    }

    @Test
    void chapRequiredButInitiatorOffersNone() {
        ChapCredentials cred = ChapCredentials.oneWay("user1", "secretsecret1");
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, negotiator(chapFor(cred, null),
                IscsiServerOptions.defaults()).step(req(true, 0, 1), text("InitiatorName=" + INITIATOR,
                "TargetName=" + TARGET, "AuthMethod=None")).status());
        assertEquals(LoginStatus.AUTHENTICATION_FAILURE, negotiator(chapFor(cred, null),
                IscsiServerOptions.defaults()).step(req(true, 1, 3), text("InitiatorName=" + INITIATOR,
                "TargetName=" + TARGET)).status());
    }

    @Test
    void discoveryChapFromServerOptions() {
        ChapCredentials cred = ChapCredentials.oneWay("disc", "discoverysecret");
        IscsiServerOptions o = IscsiServerOptions.defaults().withDiscoveryAuth(DiscoveryAuth.chap(cred));
        LoginNegotiator n = negotiator(LoginAuthorizer.OPEN, o);
        LoginNegotiator.Step s = n.step(req(true, 0, 1), text("InitiatorName=" + INITIATOR, "SessionType=Discovery",
                "AuthMethod=CHAP,None"));
        assertEquals("CHAP", map(s).get("AuthMethod"));
        assertFalse(s.transit());
    }

    @Test
    void binaryValuesInHexAndBase64() {
        assertEquals(3, ChapAuthenticator.decodeBinary("0x010203").length);
        assertEquals(3, ChapAuthenticator.decodeBinary("0bAQID").length);
        assertEquals(null, ChapAuthenticator.decodeBinary("010203"));
        assertEquals(null, ChapAuthenticator.decodeBinary("0x" + "00".repeat(1025)));
        assertEquals(null, ChapAuthenticator.decodeBinary("0bnot*base64"));
        assertEquals(List.of(Map.entry("A", "1")), TextParams.parse(text("A=1")));
    }
}
