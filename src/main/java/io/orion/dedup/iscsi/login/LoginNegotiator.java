package io.orion.dedup.iscsi.login;

import io.orion.dedup.iscsi.ChapCredentials;
import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.iscsi.LogText;
import io.orion.dedup.iscsi.TargetCatalog;
import io.orion.dedup.iscsi.pdu.LoginRequest;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The target side of the login phase of one connection (RFC 7143 §6.3, §11.12): stages
 * (security, operational, full feature), transit and continue bits, identity checks, CHAP and the
 * key negotiation. Pure logic without I/O; the connection handler feeds it Login Requests and
 * sends the {@link Step} it returns.
 */
public final class LoginNegotiator {

    /** Stage numbers of CSG/NSG. */
    public static final int SECURITY = 0;
    public static final int OPERATIONAL = 1;
    public static final int FULL_FEATURE = 3;

    /**
     * Keys an initiator may send again in a later Login Request of the same login, with the same
     * value: libiscsi repeats its names and session type in the operational stage.
     */
    private static final Set<String> REPEATABLE = Set.of("InitiatorName", "TargetName", "SessionType",
            "InitiatorAlias");

    /**
     * Keys that mean nothing in a discovery session: exactly those RFC 7143 §13 marks "Irrelevant
     * when: SessionType=Discovery". DefaultTime2Wait, DefaultTime2Retain and ErrorRecoveryLevel
     * carry no such clause and are negotiated as in a normal session (as LIO and tgt answer them):
     * open-iscsi refuses a discovery login that answers "ErrorRecoveryLevel=Irrelevant".
     */
    private static final Set<String> IRRELEVANT_IN_DISCOVERY = Set.of("MaxConnections", "InitialR2T",
            "ImmediateData", "MaxBurstLength", "FirstBurstLength", "MaxOutstandingR2T", "DataPDUInOrder",
            "DataSequenceInOrder");

    /**
     * What to send back for one Login Request.
     *
     * @param status 0 or a failure (class &lt;&lt; 8 | detail); a failure ends the login
     * @param transit the T bit of the response
     * @param csg CSG of the response
     * @param nsg NSG of the response (0 unless transit)
     * @param answer text pairs for the response
     * @param complete true when this response moves the connection to full-feature phase
     */
    public record Step(int status, boolean transit, int csg, int nsg, List<Map.Entry<String, String>> answer,
                       boolean complete) {
    }

    /** Checks that depend on the other sessions (TSIH, session limits); returns 0 or a status. */
    @FunctionalInterface
    public interface Admission {
        int check(LoginNegotiator login);
    }

    private final TargetCatalog catalog;
    private final IscsiServerOptions options;
    private final ChapFailureLimiter limiter;
    private final SecureRandom random;
    private final Admission admission;
    private final KeyNegotiator keys;
    private final InetSocketAddress arrivedAt;
    private final InetSocketAddress remote;
    /** Every key received in this login with its value (RFC 7143 §6.1: each at most once). */
    private final Map<String, String> received = new HashMap<>();
    private String failure;

    private boolean first = true;
    private int stage;
    private final ByteArrayOutputStream pendingText = new ByteArrayOutputStream();
    private long isid;
    private int tsih;
    private int cid;
    private String initiatorName;
    private String initiatorAlias;
    private boolean discovery;
    private IscsiTargetInfo target;
    private ChapCredentials chapRequired;
    private ChapAuthenticator chap;
    private boolean authMethodAgreed;
    private boolean authDone;
    private boolean declaredSegmentLength;
    private SessionParams params;
    private SessionParams leadingParams;

    public LoginNegotiator(TargetCatalog catalog, IscsiServerOptions options, ChapFailureLimiter limiter,
                           SecureRandom random, Admission admission) {
        this(catalog, options, limiter, random, admission, null);
    }

    /**
     * A negotiator for a connection that arrived at local address {@code arrivedAt}: a normal login
     * to a target that is not reachable there ({@link LoginAuthorizer#reachableThrough}) is refused
     * with 0x0203, as the target "does not exist at this address" (RFC 7143 §11.13.5). Null: no
     * portal check.
     */
    public LoginNegotiator(TargetCatalog catalog, IscsiServerOptions options, ChapFailureLimiter limiter,
                           SecureRandom random, Admission admission, InetSocketAddress arrivedAt) {
        this(catalog, options, limiter, random, admission, arrivedAt, null);
    }

    /**
     * A negotiator for a connection from {@code remote} (null: unknown) that arrived at local address
     * {@code arrivedAt}. CHAP failures are counted per source address ({@link ChapFailureLimiter}).
     */
    public LoginNegotiator(TargetCatalog catalog, IscsiServerOptions options, ChapFailureLimiter limiter,
                           SecureRandom random, Admission admission, InetSocketAddress arrivedAt,
                           InetSocketAddress remote) {
        this.arrivedAt = arrivedAt;
        this.remote = remote;
        this.catalog = catalog;
        this.options = options;
        this.limiter = limiter;
        this.random = random;
        this.admission = admission;
        this.params = SessionParams.defaults(options.maxRecvDataSegmentLength());
        Map<String, String> ours = new HashMap<>();
        ours.put("MaxConnections", Integer.toString(options.maxConnections()));
        ours.put("InitialR2T", "No");
        ours.put("ImmediateData", "Yes");
        ours.put("MaxBurstLength", Integer.toString(options.maxBurstLength()));
        ours.put("FirstBurstLength", Integer.toString(options.firstBurstLength()));
        ours.put("DefaultTime2Wait", "2");
        ours.put("DefaultTime2Retain", "0");
        ours.put("MaxOutstandingR2T", Integer.toString(options.maxOutstandingR2T()));
        ours.put("DataPDUInOrder", "Yes");
        ours.put("DataSequenceInOrder", "Yes");
        ours.put("ErrorRecoveryLevel", "0");
        ours.put("OFMarker", "No");
        ours.put("IFMarker", "No");
        ours.put("iSCSIProtocolLevel", "1");
        ours.put("RDMAExtensions", "No");
        this.keys = new KeyNegotiator(ours);
    }

    public long isid() {
        return isid;
    }

    public int tsih() {
        return tsih;
    }

    public int cid() {
        return cid;
    }

    public String initiatorName() {
        return initiatorName;
    }

    public String initiatorAlias() {
        return initiatorAlias;
    }

    /**
     * Why the login failed, for the log: client-supplied text in it is escaped and truncated
     * ({@link LogText}), and it never holds a CHAP name or secret. Null while nothing failed.
     */
    public String failure() {
        return failure;
    }

    public boolean discovery() {
        return discovery;
    }

    /** The target of a normal session (null for discovery). */
    public IscsiTargetInfo target() {
        return target;
    }

    /** The parameters negotiated so far. */
    public SessionParams params() {
        return params;
    }

    /** For a connection joining an existing session: the session's values of the LO keys. */
    public void joiningSession(SessionParams sessionParams) {
        this.leadingParams = sessionParams;
        this.params = sessionParams.forConnection(SessionParams.defaults(options.maxRecvDataSegmentLength()));
    }

    /** Handles one Login Request with its text data. */
    public Step step(LoginRequest req, byte[] text) {
        if (first) {
            isid = req.isid();
            tsih = req.tsih();
            cid = req.cid();
            if (req.versionMin() > 0) {
                return fail(LoginStatus.UNSUPPORTED_VERSION, req, "Version-min " + req.versionMin());
            }
            if (req.csg() != SECURITY && req.csg() != OPERATIONAL) {
                return fail(LoginStatus.INITIATOR_ERROR, req, "first request in stage " + req.csg());
            }
            stage = req.csg();
        } else if (req.isid() != isid || req.tsih() != tsih || req.cid() != cid) {
            return fail(LoginStatus.INITIATOR_ERROR, req, "ISID, TSIH or CID changed during login");
        }
        if (req.csg() != stage) {
            return fail(LoginStatus.INITIATOR_ERROR, req, "CSG " + req.csg() + " in stage " + stage);
        }
        if (req.transit() && (req.nsg() <= req.csg() || req.nsg() == 2)) {
            return fail(LoginStatus.INITIATOR_ERROR, req, "transit from stage " + req.csg() + " to " + req.nsg());
        }
        pendingText.writeBytes(text);
        if (pendingText.size() > 65536) {
            return fail(LoginStatus.OUT_OF_RESOURCES, req, "more than 64 KiB of login text");
        }
        if (req.cont()) {
            if (req.transit()) {
                return fail(LoginStatus.INITIATOR_ERROR, req, "C and T both set");
            }
            return new Step(0, false, stage, 0, List.of(), false);
        }
        List<Map.Entry<String, String>> pairs = io.orion.dedup.iscsi.pdu.TextParams.parse(pendingText.toByteArray());
        pendingText.reset();
        String repeated = repeatedKey(pairs);
        if (repeated != null) {
            // RFC 7143 §6.1: a key negotiated or declared more than once is an initiator error.
            return fail(LoginStatus.INITIATOR_ERROR, req, "key " + LogText.of(repeated, 64) + " sent more than once");
        }
        List<Map.Entry<String, String>> answer = new ArrayList<>();
        if (first) {
            first = false;
            int status = identify(pairs, req);
            if (status != 0) {
                return fail(status, req, failure);
            }
            if (!discovery) {
                answer.add(Map.entry("TargetPortalGroupTag", Integer.toString(target.portalGroupTag())));
                if (target.alias() != null && !target.alias().isEmpty()) {
                    answer.add(Map.entry("TargetAlias", target.alias()));
                }
            }
        }
        Map<String, String> chapKeys = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : pairs) {
            String name = e.getKey();
            String value = e.getValue();
            if (Set.of("InitiatorName", "TargetName", "SessionType").contains(name)) {
                continue;
            }
            if (LoginKey.CHAP_KEYS.contains(name)) {
                if (stage != SECURITY || chap == null) {
                    answer.add(Map.entry(name, KeyNegotiator.REJECT));
                } else {
                    chapKeys.put(name, value);
                }
                continue;
            }
            if (value != null && (value.equals(KeyNegotiator.NOT_UNDERSTOOD) || value.equals(KeyNegotiator.IRRELEVANT)
                    || value.equals(KeyNegotiator.REJECT))) {
                continue;
            }
            LoginKey key = LoginKey.find(name);
            if ("AuthMethod".equals(name)) {
                if (stage != SECURITY) {
                    answer.add(Map.entry(name, KeyNegotiator.REJECT));
                    continue;
                }
                int status = authMethod(value, answer);
                if (status != 0) {
                    return fail(status, req, failure);
                }
                continue;
            }
            if (key != null && stage == SECURITY && !key.security() && !key.operational()) {
                answer.add(Map.entry(name, KeyNegotiator.REJECT));
                continue;
            }
            if (key != null && discovery && IRRELEVANT_IN_DISCOVERY.contains(name)) {
                answer.add(Map.entry(name, KeyNegotiator.IRRELEVANT));
                continue;
            }
            if (key != null && key.leadingOnly() && leadingParams != null && key.rule() != KeyRule.DECLARATIVE) {
                answer.add(Map.entry(name, currentValue(name, key)));
                continue;
            }
            if ("InitiatorAlias".equals(name)) {
                // kept only when printable and short: it is shown in session lists
                initiatorAlias = LoginNames.aliasOk(value) ? value : null;
                continue;
            }
            KeyNegotiator.Outcome o = keys.negotiate(name, key, value);
            if (o.result() != null) {
                params = params.with(name, o.result());
            }
            if (o.answer() != null) {
                answer.add(Map.entry(name, o.answer()));
            }
        }
        if (!chapKeys.isEmpty()) {
            int status = chapStep(chapKeys, answer);
            if (status != 0) {
                return fail(status, req, failure);
            }
        }
        if (stage == OPERATIONAL || (req.transit() && req.nsg() == FULL_FEATURE)) {
            if (!declaredSegmentLength) {
                declaredSegmentLength = true;
                answer.add(Map.entry("MaxRecvDataSegmentLength", Integer.toString(options.maxRecvDataSegmentLength())));
            }
        }
        if (!req.transit()) {
            return new Step(0, false, stage, 0, answer, false);
        }
        if (stage == SECURITY) {
            if (chapRequired != null && !authDone) {
                if (chap == null && !authMethodAgreed) {
                    return fail(LoginStatus.AUTHENTICATION_FAILURE, req, "CHAP required but not negotiated");
                }
                return new Step(0, false, stage, 0, answer, false);
            }
        }
        if (req.nsg() == FULL_FEATURE) {
            stage = FULL_FEATURE;
            return new Step(0, true, req.csg(), FULL_FEATURE, answer, true);
        }
        stage = req.nsg();
        return new Step(0, true, req.csg(), req.nsg(), answer, false);
    }

    private String currentValue(String name, LoginKey key) {
        SessionParams p = leadingParams;
        return switch (name) {
            case "MaxConnections" -> Integer.toString(p.maxConnections());
            case "InitialR2T" -> p.initialR2T() ? "Yes" : "No";
            case "ImmediateData" -> p.immediateData() ? "Yes" : "No";
            case "MaxBurstLength" -> Integer.toString(p.maxBurstLength());
            case "FirstBurstLength" -> Integer.toString(p.firstBurstLength());
            case "DefaultTime2Wait" -> Integer.toString(p.defaultTime2Wait());
            case "DefaultTime2Retain" -> Integer.toString(p.defaultTime2Retain());
            case "MaxOutstandingR2T" -> Integer.toString(p.maxOutstandingR2T());
            case "DataPDUInOrder" -> p.dataPduInOrder() ? "Yes" : "No";
            case "DataSequenceInOrder" -> p.dataSequenceInOrder() ? "Yes" : "No";
            case "ErrorRecoveryLevel" -> Integer.toString(p.errorRecoveryLevel());
            default -> key.defaultValue();
        };
    }

    private int identify(List<Map.Entry<String, String>> pairs, LoginRequest req) {
        String sessionType = "Normal";
        String targetName = null;
        for (Map.Entry<String, String> e : pairs) {
            switch (e.getKey()) {
                case "InitiatorName" -> initiatorName = e.getValue();
                case "TargetName" -> targetName = e.getValue();
                case "SessionType" -> sessionType = e.getValue();
                default -> {
                }
            }
        }
        if (initiatorName == null || initiatorName.isEmpty()) {
            initiatorName = null;
            failure = "no InitiatorName";
            return LoginStatus.MISSING_PARAMETER;
        }
        String nameProblem = LoginNames.problem(initiatorName);
        if (nameProblem != null) {
            failure = "InitiatorName " + LogText.of(initiatorName) + " is not a valid iSCSI name: " + nameProblem;
            initiatorName = null;
            return LoginStatus.INITIATOR_ERROR;
        }
        if ("Discovery".equals(sessionType)) {
            discovery = true;
            chapRequired = options.discoveryAuth().chap(initiatorName).orElse(null);
        } else if ("Normal".equals(sessionType)) {
            if (targetName == null || targetName.isEmpty()) {
                failure = "no TargetName";
                return LoginStatus.MISSING_PARAMETER;
            }
            String targetProblem = LoginNames.problem(targetName);
            if (targetProblem != null) {
                failure = "TargetName " + LogText.of(targetName) + " is not a valid iSCSI name: " + targetProblem;
                return LoginStatus.INITIATOR_ERROR;
            }
            Optional<IscsiTargetInfo> t = catalog.find(targetName);
            if (t.isEmpty()) {
                failure = "unknown target " + LogText.of(targetName);
                return LoginStatus.NOT_FOUND;
            }
            if (arrivedAt != null && !t.get().authorizer().reachableThrough(arrivedAt)) {
                failure = "target " + LogText.of(targetName) + " is not reachable through portal " + arrivedAt;
                return LoginStatus.NOT_FOUND;
            }
            // the portal group of the portal this connection came through: its tag is this
            // login's TargetPortalGroupTag and the session's SCSI target port
            target = t.get().through(arrivedAt);
            if (!target.authorizer().mayLogin(initiatorName)) {
                failure = "not authorized for " + LogText.of(targetName);
                return LoginStatus.AUTHORIZATION_FAILURE;
            }
            chapRequired = target.authorizer().chap(initiatorName).orElse(null);
        } else {
            failure = "SessionType " + LogText.of(sessionType, 32) + " not supported";
            return LoginStatus.SESSION_TYPE_NOT_SUPPORTED;
        }
        if (chapRequired != null && req.csg() != SECURITY) {
            failure = "skipped the security stage but CHAP is required";
            return LoginStatus.AUTHENTICATION_FAILURE;
        }
        if (chapRequired == null && req.csg() != SECURITY) {
            authDone = true;
        }
        int admitted = admission.check(this);
        if (admitted != 0) {
            failure = switch (admitted) {
                case LoginStatus.OUT_OF_RESOURCES -> "the server's session limit is reached";
                case LoginStatus.TOO_MANY_CONNECTIONS -> "the session's connection limit is reached";
                case LoginStatus.SESSION_DOES_NOT_EXIST -> "no session with TSIH " + tsih;
                default -> "not admitted";
            };
        }
        return admitted;
    }

    private int authMethod(String value, List<Map.Entry<String, String>> answer) {
        if (value == null) {
            answer.add(Map.entry("AuthMethod", KeyNegotiator.REJECT));
            failure = "AuthMethod without a value";
            return LoginStatus.AUTHENTICATION_FAILURE;
        }
        List<String> offered = List.of(value.split(","));
        String wanted = chapRequired != null ? "CHAP" : "None";
        if (!offered.contains(wanted)) {
            answer.add(Map.entry("AuthMethod", KeyNegotiator.REJECT));
            failure = "AuthMethod=" + LogText.of(value, 64) + " but this target needs " + wanted;
            return LoginStatus.AUTHENTICATION_FAILURE;
        }
        answer.add(Map.entry("AuthMethod", wanted));
        authMethodAgreed = true;
        if (chapRequired != null) {
            chap = new ChapAuthenticator(chapRequired, random);
        } else {
            authDone = true;
        }
        return 0;
    }

    private int chapStep(Map<String, String> chapKeys, List<Map.Entry<String, String>> answer) {
        long now = System.nanoTime();
        java.net.InetAddress source = remote == null ? null : remote.getAddress();
        if (chapKeys.containsKey("CHAP_R") && limiter.blocked(source, now)) {
            failure = "CHAP refused without a check: too many recent authentication failures from this address";
            return LoginStatus.AUTHENTICATION_FAILURE;
        }
        ChapAuthenticator.Result r = chap.step(chapKeys);
        answer.addAll(r.answer());
        if (r.failure() != null) {
            int n = limiter.failed(source, now);
            failure = "CHAP authentication failed (" + n + " recent failure(s) from this address): " + r.failure();
            return LoginStatus.AUTHENTICATION_FAILURE;
        }
        if (r.done()) {
            authDone = true;
        }
        return 0;
    }

    /**
     * The key of {@code pairs} that repeats one of the same text, or one received earlier in this
     * login (other than a name sent again with the same value); null if none. Records the keys.
     */
    private String repeatedKey(List<Map.Entry<String, String>> pairs) {
        Set<String> here = new java.util.HashSet<>();
        for (Map.Entry<String, String> e : pairs) {
            String name = e.getKey();
            if (!here.add(name)) {
                return name;
            }
            if (received.containsKey(name)) {
                if (!REPEATABLE.contains(name) || !java.util.Objects.equals(received.get(name), e.getValue())) {
                    return name;
                }
            }
        }
        for (Map.Entry<String, String> e : pairs) {
            received.putIfAbsent(e.getKey(), e.getValue());
        }
        return null;
    }

    private Step fail(int status, LoginRequest req, String why) {
        failure = why;
        return new Step(status, false, req.csg(), 0, List.of(), false);
    }
}
