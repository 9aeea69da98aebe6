package io.orion.dedup.iscsi.login;

import io.orion.dedup.iscsi.ChapCredentials;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The target side of CHAP (RFC 7143 §12.1.3, RFC 1994), one instance per login. Steps:
 * <ol>
 * <li>initiator CHAP_A=&lt;list&gt; → we choose the first algorithm we support and send CHAP_A,
 *     CHAP_I and CHAP_C;</li>
 * <li>initiator CHAP_N, CHAP_R (and for mutual CHAP its own CHAP_I, CHAP_C) → we verify and, when
 *     challenged, answer CHAP_N and CHAP_R computed with the mutual secret.</li>
 * </ol>
 * Binary values are accepted in hex (0x) and base64 (0b) and sent in hex. Secrets never leave this
 * class, not even in exceptions, and failure texts (which are logged) hold no CHAP name.
 */
public final class ChapAuthenticator {

    /** RFC 7143 §12.1.3: binary values are at most 1024 bytes. */
    private static final int MAX_BINARY = 1024;

    private enum Step { WAIT_ALGORITHM, WAIT_RESPONSE, DONE }

    /** Result of one step: the pairs to send, or a failure with its login status detail. */
    public record Result(List<Map.Entry<String, String>> answer, boolean done, String failure) {
        static Result fail(String why) {
            return new Result(List.of(), false, why);
        }
    }

    private final ChapCredentials credentials;
    private final SecureRandom random;
    private Step step = Step.WAIT_ALGORITHM;
    private ChapAlgorithm algorithm;
    private int identifier;
    private byte[] challenge;

    public ChapAuthenticator(ChapCredentials credentials, SecureRandom random) {
        this.credentials = credentials;
        this.random = random;
    }

    public boolean done() {
        return step == Step.DONE;
    }

    /** The algorithm chosen, once CHAP_A was received. */
    public Optional<ChapAlgorithm> algorithm() {
        return Optional.ofNullable(algorithm);
    }

    /** Handles the CHAP keys of one login request ({@code keys} maps CHAP_* names to values). */
    public Result step(Map<String, String> keys) {
        switch (step) {
            case WAIT_ALGORITHM -> {
                String offered = keys.get("CHAP_A");
                if (offered == null) {
                    return Result.fail("CHAP_A expected");
                }
                for (String s : offered.split(",")) {
                    Long code = KeyNegotiator.number(s.trim());
                    if (code != null && ChapAlgorithm.of(code.intValue()).isPresent()) {
                        algorithm = ChapAlgorithm.of(code.intValue()).get();
                        break;
                    }
                }
                if (algorithm == null) {
                    return new Result(List.of(Map.entry("CHAP_A", KeyNegotiator.REJECT)), false,
                            "no supported CHAP_A in " + io.orion.dedup.iscsi.LogText.of(offered, 64));
                }
                identifier = random.nextInt(256);
                challenge = new byte[Math.max(16, algorithm.length())];
                random.nextBytes(challenge);
                step = Step.WAIT_RESPONSE;
                return new Result(List.of(Map.entry("CHAP_A", Integer.toString(algorithm.code())),
                        Map.entry("CHAP_I", Integer.toString(identifier)),
                        Map.entry("CHAP_C", "0x" + HexFormat.of().formatHex(challenge))), false, null);
            }
            case WAIT_RESPONSE -> {
                String name = keys.get("CHAP_N");
                String response = keys.get("CHAP_R");
                if (name == null || response == null) {
                    return Result.fail("CHAP_N and CHAP_R expected");
                }
                byte[] r = decodeBinary(response);
                byte[] expected = algorithm.response(identifier, secret(credentials.secret()), challenge);
                boolean nameOk = MessageDigest.isEqual(name.getBytes(StandardCharsets.UTF_8),
                        credentials.user().getBytes(StandardCharsets.UTF_8));
                if (r == null || !MessageDigest.isEqual(r, expected) || !nameOk) {
                    // the name is not logged: it is a credential, and the client chooses it
                    return Result.fail(nameOk ? "wrong CHAP response" : "unknown CHAP name or wrong response");
                }
                List<Map.Entry<String, String>> answer = new ArrayList<>();
                String mutualI = keys.get("CHAP_I");
                String mutualC = keys.get("CHAP_C");
                if (mutualI != null || mutualC != null) {
                    if (mutualI == null || mutualC == null) {
                        return Result.fail("mutual CHAP needs both CHAP_I and CHAP_C");
                    }
                    if (!credentials.mutual()) {
                        return Result.fail("initiator asked for mutual CHAP, none configured");
                    }
                    Long id = KeyNegotiator.number(mutualI);
                    byte[] c = decodeBinary(mutualC);
                    if (id == null || id > 255 || c == null || c.length == 0) {
                        return Result.fail("malformed mutual CHAP_I/CHAP_C");
                    }
                    if (MessageDigest.isEqual(c, challenge)) {
                        return Result.fail("initiator reflected our CHAP challenge");
                    }
                    byte[] ours = algorithm.response(id.intValue(), secret(credentials.mutualSecret()), c);
                    answer.add(Map.entry("CHAP_N", credentials.mutualUser()));
                    answer.add(Map.entry("CHAP_R", "0x" + HexFormat.of().formatHex(ours)));
                }
                step = Step.DONE;
                return new Result(answer, true, null);
            }
            default -> {
                return Result.fail("CHAP already completed");
            }
        }
    }

    private static byte[] secret(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Decodes a binary value in hex (0x...) or base64 (0b...); null when malformed or too long. */
    public static byte[] decodeBinary(String v) {
        try {
            byte[] out;
            if (v.startsWith("0x") || v.startsWith("0X")) {
                String hex = v.substring(2);
                if (hex.length() % 2 == 1) {
                    hex = "0" + hex;
                }
                if (hex.length() > 2 * MAX_BINARY) {
                    return null;
                }
                out = HexFormat.of().parseHex(hex);
            } else if (v.startsWith("0b") || v.startsWith("0B")) {
                String b64 = v.substring(2);
                if (b64.length() > (MAX_BINARY + 2) / 3 * 4) {
                    return null;
                }
                out = Base64.getDecoder().decode(b64);
            } else {
                return null;
            }
            return out.length > MAX_BINARY ? null : out;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
