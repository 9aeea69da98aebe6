package io.orion.dedup.iscsi.login;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;

/** CHAP_A algorithm identifiers (RFC 7143 §12.1.3; IANA "PPP Authentication Algorithms"). */
public enum ChapAlgorithm {
    MD5(5, "MD5", 16),
    SHA1(6, "SHA-1", 20),
    SHA256(7, "SHA-256", 32),
    SHA3_256(8, "SHA3-256", 32);

    private final int code;
    private final String jca;
    private final int length;

    ChapAlgorithm(int code, String jca, int length) {
        this.code = code;
        this.jca = jca;
        this.length = length;
    }

    public int code() {
        return code;
    }

    /** Digest (and challenge) length in bytes. */
    public int length() {
        return length;
    }

    public static Optional<ChapAlgorithm> of(int code) {
        for (ChapAlgorithm a : values()) {
            if (a.code == code) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    /** H(identifier || secret || challenge), RFC 1994 §4.1. */
    public byte[] response(int identifier, byte[] secret, byte[] challenge) {
        try {
            MessageDigest md = MessageDigest.getInstance(jca);
            md.update((byte) identifier);
            md.update(secret);
            md.update(challenge);
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JCA lacks " + jca, e);
        }
    }
}
