package io.orion.dedup.iscsi.login;

import io.orion.dedup.iscsi.LogText;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Checks the iSCSI names an initiator sends at login (InitiatorName, TargetName; RFC 7143
 * §4.2.7, RFC 3720 §3.2.6.3): {@code iqn.yyyy-mm.naming-authority[:anything]}, {@code eui.} + 16
 * hex digits or {@code naa.} + 16 or 32 hex digits, at most 223 bytes of UTF-8, printable
 * characters only (no spaces, controls, line or paragraph separators, format characters).
 * Upper case is accepted: names compare case-insensitively.
 */
public final class LoginNames {

    /** RFC 7143 §4.2.7: "iSCSI names ... are at most 223 bytes". */
    public static final int MAX_BYTES = 223;
    /** Longest InitiatorAlias kept (RFC 7143 §6.1: text values are at most 255 bytes unless stated). */
    public static final int MAX_ALIAS_BYTES = 255;

    private static final Pattern IQN = Pattern.compile("(?i)iqn\\.[0-9]{4}-(0[1-9]|1[0-2])\\.[\\p{L}\\p{N}].*");
    private static final Pattern EUI = Pattern.compile("(?i)eui\\.[0-9a-f]{16}");
    private static final Pattern NAA = Pattern.compile("(?i)naa\\.([0-9a-f]{16}|[0-9a-f]{32})");

    private LoginNames() {
    }

    /** Null when {@code name} is a valid iSCSI name, else what is wrong (safe to log). */
    public static String problem(String name) {
        if (name == null || name.isEmpty()) {
            return "empty";
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_BYTES) {
            return "longer than " + MAX_BYTES + " bytes";
        }
        if (!printable(name, false)) {
            return "contains a space, control or invisible character";
        }
        if (IQN.matcher(name).matches() || EUI.matcher(name).matches() || NAA.matcher(name).matches()) {
            return null;
        }
        return "not iqn.yyyy-mm.authority[:id], eui.<16 hex> or naa.<16|32 hex>";
    }

    /** True if {@code alias} may be kept as an InitiatorAlias: printable (spaces allowed), short. */
    public static boolean aliasOk(String alias) {
        return alias != null && alias.getBytes(StandardCharsets.UTF_8).length <= MAX_ALIAS_BYTES
                && printable(alias, true);
    }

    private static boolean printable(String s, boolean spaces) {
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || !LogText.visible(cp)) {
                return false;
            }
            if (!spaces && Character.isSpaceChar(cp)) {
                return false;
            }
        }
        return true;
    }

    static String describe(String name) {
        return LogText.of(name);
    }
}
