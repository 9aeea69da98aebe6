package io.orion.dedup.iscsi.login;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The table of text keys this target negotiates (RFC 7143 §13, RFC 7144 §7 for iSCSIProtocolLevel):
 * name, rule, default, numerical range or the values we accept, and whether the key is
 * leading-only (session-wide, LO) and allowed in the security stage, the operational stage and
 * full-feature Text requests.
 *
 * @param name the key as it appears on the wire (case-sensitive, §6.1)
 * @param rule how the result is computed
 * @param defaultValue the value in force when the key is not negotiated
 * @param min lowest acceptable numerical value
 * @param max highest acceptable numerical value
 * @param supported for LIST/boolean keys, the values we accept, most preferred first
 * @param leadingOnly session-wide key, only negotiated on the leading connection (LO)
 * @param security negotiable in the security stage (SecurityNegotiation, CSG=0)
 * @param operational negotiable in the operational stage (LoginOperationalNegotiation, CSG=1)
 */
public record LoginKey(String name, KeyRule rule, String defaultValue, long min, long max, List<String> supported,
                       boolean leadingOnly, boolean security, boolean operational) {

    private static LoginKey num(String name, KeyRule rule, long def, long min, long max, boolean lo) {
        return new LoginKey(name, rule, Long.toString(def), min, max, List.of(), lo, false, true);
    }

    private static LoginKey bool(String name, KeyRule rule, String def, boolean lo) {
        return new LoginKey(name, rule, def, 0, 0, List.of("Yes", "No"), lo, false, true);
    }

    private static LoginKey list(String name, String def, List<String> supported, boolean lo, boolean sec,
                                 boolean op) {
        return new LoginKey(name, KeyRule.LIST, def, 0, 0, supported, lo, sec, op);
    }

    private static LoginKey decl(String name, boolean sec, boolean op) {
        return new LoginKey(name, KeyRule.DECLARATIVE, "", 0, 0, List.of(), false, sec, op);
    }

    private static LoginKey special(String name, KeyRule rule) {
        return new LoginKey(name, rule, "", 0, 0, List.of(), false, true, true);
    }

    /** Every key RFC 7143 §13 names, plus iSCSIProtocolLevel (RFC 7144) and the iSER keys (RFC 7145). */
    public static final List<LoginKey> ALL = List.of(
            list("HeaderDigest", "None", List.of("None", "CRC32C"), false, false, true),
            list("DataDigest", "None", List.of("None", "CRC32C"), false, false, true),
            num("MaxConnections", KeyRule.MIN, 1, 1, 65535, true),
            special("SendTargets", KeyRule.IRRELEVANT),
            decl("TargetName", true, true),
            decl("InitiatorName", true, true),
            special("TargetAlias", KeyRule.TARGET_ONLY),
            decl("InitiatorAlias", true, true),
            special("TargetAddress", KeyRule.TARGET_ONLY),
            special("TargetPortalGroupTag", KeyRule.TARGET_ONLY),
            bool("InitialR2T", KeyRule.OR, "Yes", true),
            bool("ImmediateData", KeyRule.AND, "Yes", true),
            new LoginKey("MaxRecvDataSegmentLength", KeyRule.DECLARATIVE, "8192", 512, 16777215, List.of(), false,
                    false, true),
            num("MaxBurstLength", KeyRule.MIN, 262144, 512, 16777215, true),
            num("FirstBurstLength", KeyRule.MIN, 65536, 512, 16777215, true),
            num("DefaultTime2Wait", KeyRule.MAX, 2, 0, 3600, true),
            num("DefaultTime2Retain", KeyRule.MIN, 20, 0, 3600, true),
            num("MaxOutstandingR2T", KeyRule.MIN, 1, 1, 65535, true),
            bool("DataPDUInOrder", KeyRule.OR, "Yes", true),
            bool("DataSequenceInOrder", KeyRule.OR, "Yes", true),
            num("ErrorRecoveryLevel", KeyRule.MIN, 0, 0, 2, true),
            new LoginKey("SessionType", KeyRule.DECLARATIVE, "Normal", 0, 0, List.of("Discovery", "Normal"), true,
                    true, true),
            list("AuthMethod", "None", List.of("CHAP", "None"), false, true, false),
            bool("OFMarker", KeyRule.AND, "No", false),
            bool("IFMarker", KeyRule.AND, "No", false),
            special("OFMarkInt", KeyRule.IRRELEVANT),
            special("IFMarkInt", KeyRule.IRRELEVANT),
            list("TaskReporting", "RFC3720", List.of("RFC3720"), true, false, true),
            num("iSCSIProtocolLevel", KeyRule.MIN, 1, 0, 31, true),
            bool("RDMAExtensions", KeyRule.AND, "No", true),
            special("TargetRecvDataSegmentLength", KeyRule.IRRELEVANT),
            special("InitiatorRecvDataSegmentLength", KeyRule.IRRELEVANT));

    private static final Map<String, LoginKey> BY_NAME =
            ALL.stream().collect(Collectors.toUnmodifiableMap(LoginKey::name, Function.identity()));

    /** Keys of the CHAP exchange (RFC 7143 §12.1.3); handled by {@link ChapAuthenticator}. */
    public static final List<String> CHAP_KEYS = Stream.of("CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R")
            .toList();

    /** Looks a key up by its exact (case-sensitive) name. */
    public static LoginKey find(String name) {
        return BY_NAME.get(name);
    }
}
