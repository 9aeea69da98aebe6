package io.orion.dedup.iscsi.login;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Computes the target's answer to one offered key (RFC 7143 §6.2): range and syntax checks
 * (Reject), MIN/MAX for numbers, AND/OR for booleans, first acceptable value for lists,
 * NotUnderstood for unknown keys (§6.2 "key=NotUnderstood"), Irrelevant where the key has no
 * meaning. Pure function of the table and our preferred values.
 */
public final class KeyNegotiator {

    public static final String NOT_UNDERSTOOD = "NotUnderstood";
    public static final String IRRELEVANT = "Irrelevant";
    public static final String REJECT = "Reject";

    private final Map<String, String> ours;

    /** @param ours our preferred value per key name (numbers in decimal, booleans Yes/No) */
    public KeyNegotiator(Map<String, String> ours) {
        this.ours = Map.copyOf(ours);
    }

    /**
     * The outcome of negotiating one key.
     *
     * @param answer the value to send back, or null when no answer is due (declarative keys)
     * @param result the value now in force, or null when the offer was refused
     */
    public record Outcome(String answer, String result) {
    }

    /** Negotiates {@code key=offer}; {@code key} may be null for a key missing from the table. */
    public Outcome negotiate(String name, LoginKey key, String offer) {
        if (key == null) {
            return new Outcome(NOT_UNDERSTOOD, null);
        }
        if (offer == null || offer.length() > 8192) {
            return new Outcome(REJECT, null);
        }
        switch (key.rule()) {
            case IRRELEVANT:
                return new Outcome(IRRELEVANT, null);
            case TARGET_ONLY:
                return new Outcome(REJECT, null);
            case DECLARATIVE: {
                if (key.max() > 0) {
                    Long v = number(offer);
                    if (v == null || v < key.min() || v > key.max()) {
                        return new Outcome(REJECT, null);
                    }
                    return new Outcome(null, Long.toString(v));
                }
                if (!key.supported().isEmpty() && !key.supported().contains(offer)) {
                    return new Outcome(REJECT, null);
                }
                return new Outcome(null, offer);
            }
            case MIN:
            case MAX: {
                Long v = number(offer);
                if (v == null || v < key.min() || v > key.max()) {
                    return new Outcome(REJECT, null);
                }
                long mine = Long.parseLong(ours.getOrDefault(name, key.defaultValue()));
                long r = key.rule() == KeyRule.MIN ? Math.min(v, mine) : Math.max(v, mine);
                return new Outcome(Long.toString(r), Long.toString(r));
            }
            case AND:
            case OR: {
                if (!offer.equals("Yes") && !offer.equals("No")) {
                    return new Outcome(REJECT, null);
                }
                boolean v = offer.equals("Yes");
                boolean mine = "Yes".equals(ours.getOrDefault(name, key.defaultValue()));
                boolean r = key.rule() == KeyRule.AND ? v && mine : v || mine;
                String s = r ? "Yes" : "No";
                return new Outcome(s, s);
            }
            case LIST: {
                List<String> offered = Arrays.asList(offer.split(",", -1));
                List<String> acceptable = key.supported();
                String preferred = ours.get(name);
                if (preferred != null) {
                    acceptable = Arrays.asList(preferred.split(","));
                }
                for (String o : offered) {
                    if (acceptable.contains(o)) {
                        return new Outcome(o, o);
                    }
                }
                return new Outcome(REJECT, null);
            }
            default:
                throw new IllegalStateException(key.rule().name());
        }
    }

    /** Parses a numerical value: decimal, or hexadecimal with 0x (RFC 7143 §6.1). Null if malformed. */
    public static Long number(String s) {
        try {
            long v;
            if (s.startsWith("0x") || s.startsWith("0X")) {
                if (s.length() < 3 || s.length() > 18) {
                    return null;
                }
                v = Long.parseUnsignedLong(s.substring(2), 16);
            } else {
                if (s.isEmpty() || s.length() > 19 || !s.chars().allMatch(Character::isDigit)) {
                    return null;
                }
                v = Long.parseLong(s);
            }
            return v < 0 ? null : v;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static long parseNumber(String s) {
        Long v = number(s);
        if (v == null) {
            throw new IllegalArgumentException("not a number: " + s);
        }
        return v;
    }
}
