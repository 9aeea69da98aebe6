package io.orion.dedup.scsi;

import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The third-party copy manager of a server (SPC-4 §5.17, SBC-3 §4.20): one instance is shared by
 * every target the server runs, so that EXTENDED COPY and WRITE USING TOKEN sent to a LUN of one
 * target can name a LUN of any other.
 *
 * <p>It owns two things: the lookup from a logical unit's NAA designator (the one INQUIRY page 83h
 * reports, {@link Inquiry#naa}) to the logical unit, which each {@link ScsiTargetService} fills as
 * LUNs come and go, and the ROD tokens ({@link RodTokens}) that POPULATE TOKEN creates.
 *
 * <p>Writes tell it, through {@link #changing}, which blocks they are about to change, so that the
 * tokens representing those blocks are revoked; when no token exists that costs one volatile read.
 *
 * <p>Thread-safe: concurrent maps; no method does I/O.
 */
public final class CopyManager {

    /**
     * Whether an initiator, in a session logged in to {@code sessionTarget}, may name a LUN of
     * {@code targetName} as a copy source ({@code write} false) or destination: the server answers
     * from that target's ACLs, and for a target other than the session's only when what the
     * session's login proved is enough for it (the initiator name is authenticated by nobody else).
     */
    @FunctionalInterface
    public interface Access {
        boolean allows(String initiatorName, String sessionTarget, String targetName, long lun, boolean write);
    }

    /** A registered logical unit and the target that serves it. */
    record Served(LogicalUnit lu, String targetName) {
    }

    private final ConcurrentMap<String, Served> byNaa = new ConcurrentHashMap<>();
    private final RodTokens tokens;
    private volatile Access access = (initiator, session, target, lun, write) -> true;

    public CopyManager() {
        this(new RodTokens());
    }

    /** With a token store of the caller's (tests pass one with their own clock). */
    CopyManager(RodTokens tokens) {
        this.tokens = tokens;
    }

    RodTokens tokens() {
        return tokens;
    }

    /** Sets who may copy from and to which LUN (until called: anyone, to any LUN registered here). */
    public void access(Access policy) {
        access = policy;
    }

    void register(LogicalUnit lu, String targetName) {
        byNaa.put(key(Inquiry.naa(lu)), new Served(lu, targetName));
    }

    /** The LUN is gone: it can no longer be named as a copy target, and its tokens are revoked. */
    void unregister(LogicalUnit lu) {
        byNaa.values().removeIf(s -> s.lu == lu);
        tokens.revokeAll(lu.device);
    }

    /** The logical unit whose NAA designator is {@code naa} and the target serving it, or null. */
    Served find(byte[] naa) {
        return byNaa.get(key(naa));
    }

    /** True when {@code nexus}'s initiator may read ({@code write} false) or write the served LU. */
    boolean allows(Nexus nexus, Served s, boolean write) {
        return access.allows(nexus.initiatorName(), targetName(nexus), s.targetName, s.lu.lun, write);
    }

    /** The name of the target the nexus's session logged in to (its target port without ",t,0x..."). */
    static String targetName(Nexus nexus) {
        String port = nexus.targetPort();
        int at = port.lastIndexOf(",t,");
        return at < 0 ? port : port.substring(0, at);
    }

    /** True while {@code lu} is still served (a token's source may have been removed since). */
    boolean serves(LogicalUnit lu) {
        for (Served s : byNaa.values()) {
            if (s.lu == lu) {
                return true;
            }
        }
        return false;
    }

    /**
     * Blocks {@code [lba, lba + blocks)} of {@code lu} are about to change ({@code blocks} 0: up to
     * the end of the LU): every ROD token that represents any of them is revoked.
     */
    void changing(LogicalUnit lu, long lba, long blocks) {
        tokens.changing(lu.device, lba, blocks);
    }

    private static String key(byte[] naa) {
        return HexFormat.of().formatHex(naa);
    }
}
