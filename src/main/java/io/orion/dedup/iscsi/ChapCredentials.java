package io.orion.dedup.iscsi;

import java.util.Objects;

/**
 * CHAP secrets for one initiator (RFC 7143 §12.1.3, RFC 1994). {@code user}/{@code secret} are what
 * the initiator must prove (one-way CHAP); {@code mutualUser}/{@code mutualSecret}, when not null,
 * are what the target answers with when the initiator challenges it (mutual CHAP).
 */
public record ChapCredentials(String user, String secret, String mutualUser, String mutualSecret) {

    public ChapCredentials {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(secret, "secret");
        if ((mutualUser == null) != (mutualSecret == null)) {
            throw new IllegalArgumentException("mutualUser and mutualSecret go together");
        }
        if (mutualSecret != null && mutualSecret.equals(secret)) {
            throw new IllegalArgumentException("the mutual secret must differ from the initiator secret "
                    + "(RFC 7143 §12.1.3)");
        }
    }

    /** One-way CHAP. */
    public static ChapCredentials oneWay(String user, String secret) {
        return new ChapCredentials(user, secret, null, null);
    }

    public boolean mutual() {
        return mutualUser != null;
    }

    @Override
    public String toString() {
        return "ChapCredentials[user=" + user + ", mutualUser=" + mutualUser + "]";
    }
}
