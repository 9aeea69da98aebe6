package io.orion.dedup.config;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Checks iSCSI names (RFC 7143 §4.2.7): {@code iqn.yyyy-mm.reversed.domain[:anything]},
 * {@code eui.} + 16 hex digits, or {@code naa.} + 16 or 32 hex digits; at most 223 bytes. Names
 * compare case-insensitively (RFC 3722 stringprep lower-cases them), so they are kept lower case.
 */
public final class IscsiName {

    private static final Pattern IQN = Pattern.compile("iqn\\.[0-9]{4}-(0[1-9]|1[0-2])\\.[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[a-z0-9.:_-]*)?");
    private static final Pattern EUI = Pattern.compile("eui\\.[0-9a-f]{16}");
    private static final Pattern NAA = Pattern.compile("naa\\.([0-9a-f]{16}|[0-9a-f]{32})");

    private IscsiName() {}

    /** The canonical (lower-case) form. */
    public static String normalize(String name) {
        return name.strip().toLowerCase(Locale.ROOT);
    }

    /** Null when {@code name} (already normalized) is valid, else what is wrong. */
    public static String problem(String name) {
        if (name == null || name.isEmpty()) {
            return "an iSCSI name is required";
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > 223) {
            return "an iSCSI name is at most 223 bytes (RFC 7143 §4.2.7)";
        }
        if (IQN.matcher(name).matches() || EUI.matcher(name).matches() || NAA.matcher(name).matches()) {
            return null;
        }
        return "not an iSCSI name (RFC 7143 §4.2.7): expected iqn.yyyy-mm.reversed.domain[:id], eui.<16 hex> or naa.<16|32 hex>";
    }
}
