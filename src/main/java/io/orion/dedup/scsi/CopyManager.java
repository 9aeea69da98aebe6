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

    private final ConcurrentMap<String, LogicalUnit> byNaa = new ConcurrentHashMap<>();
    private final RodTokens tokens;

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

    void register(LogicalUnit lu) {
        byNaa.put(key(Inquiry.naa(lu)), lu);
    }

    /** The LUN is gone: it can no longer be named as a copy target, and its tokens are revoked. */
    void unregister(LogicalUnit lu) {
        byNaa.remove(key(Inquiry.naa(lu)), lu);
        if (!byNaa.containsValue(lu)) {
            tokens.revokeAll(lu.device);
        }
    }

    /** The logical unit whose NAA designator is {@code naa}, or null when no target serves it. */
    LogicalUnit find(byte[] naa) {
        return byNaa.get(key(naa));
    }

    /** True while {@code lu} is still served (a token's source may have been removed since). */
    boolean serves(LogicalUnit lu) {
        return byNaa.containsValue(lu);
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
