package io.orion.dedup.config;

import java.util.ArrayList;
import java.util.List;

/**
 * CHAP credentials (RFC 1994 as used by iSCSI, RFC 7143 §12.1.3): what the initiator must prove
 * ({@code user}/{@code secret}) and, for mutual CHAP, what the target proves back
 * ({@code mutualUser}/{@code mutualSecret}, both null for one-way CHAP).
 *
 * <p>Secrets are 12 to 255 characters: RFC 7143 §9.2.1 asks for secrets of at least 96 bits, and
 * the Windows initiator refuses shorter ones (and longer than 16 unless IPsec is used). The mutual
 * secret must differ from the initiator's secret (RFC 7143 §9.2.1). {@link #toString()} never
 * shows a secret; use {@link #masked()} before anything leaves the server.
 */
public record ChapCredentials(String user, String secret, String mutualUser, String mutualSecret) {

    /** What every masked secret reads as. */
    public static final String MASK = "********";
    /** Secret length limits. */
    public static final int MIN_SECRET = 12;
    public static final int MAX_SECRET = 255;

    /** One-way CHAP credentials. */
    public static ChapCredentials oneWay(String user, String secret) {
        return new ChapCredentials(user, secret, null, null);
    }

    /** True when the target must also authenticate itself to the initiator. */
    public boolean mutual() {
        return mutualUser != null;
    }

    /** A copy with every secret replaced by {@link #MASK}. */
    public ChapCredentials masked() {
        return new ChapCredentials(user, secret == null ? null : MASK, mutualUser,
                mutualSecret == null ? null : MASK);
    }

    /** Problems with these credentials, keys relative to {@code prefix} ("chap." / "acl[0].chap."). */
    List<TargetDefinition.Problem> problems(String prefix) {
        List<TargetDefinition.Problem> out = new ArrayList<>();
        if (user == null || user.isBlank()) {
            out.add(new TargetDefinition.Problem(prefix + "user", "a CHAP user name is required"));
        } else if (user.length() > 255) {
            out.add(new TargetDefinition.Problem(prefix + "user", "at most 255 characters"));
        }
        checkSecret(out, prefix + "secret", secret);
        if ((mutualUser == null) != (mutualSecret == null)) {
            out.add(new TargetDefinition.Problem(prefix + (mutualUser == null ? "mutual_user" : "mutual_secret"),
                    "mutual CHAP needs both mutual_user and mutual_secret"));
        } else if (mutualUser != null) {
            if (mutualUser.isBlank()) {
                out.add(new TargetDefinition.Problem(prefix + "mutual_user", "must not be empty"));
            }
            checkSecret(out, prefix + "mutual_secret", mutualSecret);
            if (mutualSecret.equals(secret)) {
                out.add(new TargetDefinition.Problem(prefix + "mutual_secret",
                        "must differ from the initiator's secret (RFC 7143 §9.2.1)"));
            }
        }
        return out;
    }

    private static void checkSecret(List<TargetDefinition.Problem> out, String key, String s) {
        if (s == null) {
            out.add(new TargetDefinition.Problem(key, "a CHAP secret is required"));
        } else if (s.length() < MIN_SECRET || s.length() > MAX_SECRET) {
            out.add(new TargetDefinition.Problem(key, "a CHAP secret must be " + MIN_SECRET + " to "
                    + MAX_SECRET + " characters (has " + s.length() + ")"));
        }
    }

    @Override
    public String toString() {
        return "ChapCredentials[user=" + user + ", secret=" + (secret == null ? null : MASK)
                + ", mutualUser=" + mutualUser + ", mutualSecret=" + (mutualSecret == null ? null : MASK) + "]";
    }
}
