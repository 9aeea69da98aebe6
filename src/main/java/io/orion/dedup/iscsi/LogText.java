package io.orion.dedup.iscsi;

/**
 * Makes text that came from the network safe for a log line: control characters (and other
 * invisible or line-breaking code points) are shown as {@code \xNN} or {@code \x{NNNN}}, a
 * backslash as {@code \x5c}, so a client cannot forge log lines; long text is truncated.
 */
public final class LogText {

    /** Longest text kept (in characters, before escaping): an iSCSI name is at most 223 bytes. */
    public static final int MAX = 128;

    private LogText() {
    }

    /** {@code s} escaped and truncated to {@link #MAX} characters; "-" for null. */
    public static String of(String s) {
        return of(s, MAX);
    }

    /** {@code s} escaped and truncated to {@code max} characters; "-" for null. */
    public static String of(String s, int max) {
        if (s == null) {
            return "-";
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), max) + 16);
        int i = 0;
        int kept = 0;
        while (i < s.length() && kept < max) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            kept++;
            if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == '\\') {
                b.append(String.format("\\x%02x", cp));
            } else if (!visible(cp)) {
                b.append(String.format("\\x{%04x}", cp));
            } else {
                b.appendCodePoint(cp);
            }
        }
        if (i < s.length()) {
            b.append("...(").append(s.length()).append(" chars)");
        }
        return b.toString();
    }

    /** False for code points that break or hide text: separators, format characters, unpaired surrogates. */
    public static boolean visible(int cp) {
        int t = Character.getType(cp);
        return t != Character.LINE_SEPARATOR && t != Character.PARAGRAPH_SEPARATOR && t != Character.FORMAT
                && t != Character.SURROGATE && t != Character.UNASSIGNED && t != Character.PRIVATE_USE
                && t != Character.CONTROL && cp != 0xfffd;
    }
}
