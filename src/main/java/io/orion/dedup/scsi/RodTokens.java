package io.orion.dedup.scsi;

import io.orion.dedup.blockdev.BlockDevice;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The ROD tokens POPULATE TOKEN created (SBC-3 §5.8, SPC-4 §7.8.17 for the format): each one
 * represents block ranges of one logical unit until its inactivity timeout passes, WRITE USING
 * TOKEN deletes it (DEL_TKN), or a write to any block it represents revokes it. A revoked token
 * would otherwise copy data other than what existed when it was populated, so this copy manager's
 * tokens are point-in-time copies, change vulnerable (ROD type 0080 0001h).
 *
 * <p>Token bytes (512): ROD TYPE, ROD TOKEN LENGTH 01F8h, an 8-byte identifier, the creator LU's
 * identification descriptor (CSCD 0xE4 with its NAA designator), the number of bytes represented,
 * and 32 random bytes, so a token cannot be guessed from another.
 *
 * <p>Threads: any. {@link #changing} is the write-path hook: one volatile read when no token
 * exists, one map lookup on the device when some do.
 */
final class RodTokens {

    /** ROD types (SPC-4 Table 117). */
    static final int ROD_ACCESS_UPON_REFERENCE = 0x00010000;
    static final int ROD_PIT_DEFAULT = 0x00800000;
    static final int ROD_PIT_CHANGE_VULNERABLE = 0x00800001;
    static final int ROD_BLOCK_ZERO = 0xffff0001;

    static final int TOKEN_BYTES = 512;
    static final int DEFAULT_INACTIVITY_SECONDS = 60;
    static final int MAX_INACTIVITY_SECONDS = 600;
    static final int MAX_TOKENS = 4096;

    /** One represented extent of the source LU. */
    record Range(long lba, long blocks) {
    }

    /** A token and the state of its life. */
    static final class Token {
        final long id;
        final byte[] bytes;
        final LogicalUnit source;
        final Range[] ranges;
        final long blocks;
        final long timeoutNanos;
        volatile long lastUsed;
        /** Null while usable; else the sense a WRITE USING TOKEN with it gets. */
        volatile SenseReason dead;

        Token(long id, byte[] bytes, LogicalUnit source, Range[] ranges, long blocks, int timeoutSeconds, long now) {
            this.id = id;
            this.bytes = bytes;
            this.source = source;
            this.ranges = ranges;
            this.blocks = blocks;
            this.timeoutNanos = timeoutSeconds * 1_000_000_000L;
            this.lastUsed = now;
        }

        boolean overlaps(long lba, long n) {
            long end = n == 0 ? Long.MAX_VALUE : lba + n;
            for (Range r : ranges) {
                if (r.lba < end && lba < r.lba + r.blocks) {
                    return true;
                }
            }
            return false;
        }
    }

    private final ConcurrentMap<Long, Token> byId = new ConcurrentHashMap<>();
    private final ConcurrentMap<BlockDevice, Set<Token>> live = new ConcurrentHashMap<>();
    /** Usable tokens: zero makes {@link #changing} free. */
    private final AtomicInteger liveCount = new AtomicInteger();
    private final AtomicLong ids = new AtomicLong(System.nanoTime());
    private final SecureRandom random = new SecureRandom();
    private final Clock clock;

    /** Nanosecond time source (tests pass their own to expire tokens without sleeping). */
    interface Clock {
        long nanos();
    }

    RodTokens() {
        this(System::nanoTime);
    }

    RodTokens(Clock clock) {
        this.clock = clock;
    }

    /**
     * Creates a token for {@code ranges} of {@code source}.
     *
     * @throws SenseException INSUFFICIENT RESOURCES TO CREATE ROD TOKEN when {@link #MAX_TOKENS}
     *     usable tokens exist
     */
    Token create(LogicalUnit source, Range[] ranges, int rodType, int timeoutSeconds) {
        long now = clock.nanos();
        prune(now);
        if (byId.size() >= MAX_TOKENS) {
            throw SenseReason.INSUFFICIENT_RESOURCES_TO_CREATE_ROD_TOKEN.ex();
        }
        long blocks = 0;
        for (Range r : ranges) {
            blocks += r.blocks;
        }
        long id = ids.incrementAndGet();
        byte[] t = new byte[TOKEN_BYTES];
        Cdb.put32(t, 0, rodType);
        Cdb.put16(t, 6, TOKEN_BYTES - 8);
        Cdb.put64(t, 8, id);
        // CREATOR LOGICAL UNIT DESCRIPTOR: an identification CSCD descriptor (SPC-4 §6.4.5.2).
        byte[] naa = Inquiry.naa(source);
        t[16] = (byte) 0xe4;
        t[20] = 0x01;                       // binary
        t[21] = 0x03;                       // association: LU, designator type NAA
        t[23] = (byte) naa.length;
        System.arraycopy(naa, 0, t, 24, naa.length);
        int bs = source.device.blockSize();
        t[45] = (byte) (bs >>> 16);
        t[46] = (byte) (bs >>> 8);
        t[47] = (byte) bs;
        Cdb.put64(t, 56, blocks * bs);     // NUMBER OF BYTES REPRESENTED (low 8 of 16 bytes)
        byte[] salt = new byte[32];
        random.nextBytes(salt);
        System.arraycopy(salt, 0, t, 64, salt.length);
        Token token = new Token(id, t, source, ranges.clone(), blocks, timeoutSeconds, now);
        byId.put(id, token);
        live.computeIfAbsent(source.device, d -> ConcurrentHashMap.newKeySet()).add(token);
        liveCount.incrementAndGet();
        return token;
    }

    /**
     * The usable token whose 512 bytes are {@code bytes}; its inactivity clock restarts.
     *
     * @throws SenseException INVALID TOKEN OPERATION: TOKEN UNKNOWN, EXPIRED, REVOKED or DELETED
     */
    Token use(byte[] bytes) {
        Token t = byId.get(Cdb.u64(bytes, 8));
        if (t == null || !Arrays.equals(t.bytes, bytes)) {
            throw SenseReason.INVALID_TOKEN_OPERATION_TOKEN_UNKNOWN.ex();
        }
        long now = clock.nanos();
        if (t.dead == null && now - t.lastUsed > t.timeoutNanos) {
            kill(t, SenseReason.INVALID_TOKEN_OPERATION_TOKEN_EXPIRED);
        }
        if (t.dead != null) {
            throw t.dead.ex();
        }
        t.lastUsed = now;
        return t;
    }

    /** WRITE USING TOKEN with DEL_TKN: the token is no longer usable. */
    void delete(Token t) {
        kill(t, SenseReason.INVALID_TOKEN_OPERATION_TOKEN_DELETED);
    }

    /** The write hook: revokes every usable token of {@code device} that represents a changed block. */
    void changing(BlockDevice device, long lba, long blocks) {
        if (liveCount.get() == 0) {
            return;
        }
        Set<Token> set = live.get(device);
        if (set == null) {
            return;
        }
        for (Token t : set) {
            if (t.overlaps(lba, blocks)) {
                kill(t, SenseReason.INVALID_TOKEN_OPERATION_TOKEN_REVOKED);
            }
        }
    }

    /** The device's LU went away: all its tokens are revoked. */
    void revokeAll(BlockDevice device) {
        Set<Token> set = live.get(device);
        if (set != null) {
            for (Token t : set) {
                kill(t, SenseReason.INVALID_TOKEN_OPERATION_TOKEN_REVOKED);
            }
        }
    }

    /** Usable tokens (for tests and metrics). */
    int liveTokens() {
        return liveCount.get();
    }

    private void kill(Token t, SenseReason why) {
        synchronized (t) {
            if (t.dead != null) {
                return;
            }
            t.dead = why;
        }
        Set<Token> set = live.get(t.source.device);
        if (set != null && set.remove(t)) {
            liveCount.decrementAndGet();
            if (set.isEmpty()) {
                live.remove(t.source.device, set);
            }
        }
    }

    /**
     * Forgets tokens that expired (their death is then reported as TOKEN UNKNOWN) and, while over
     * the limit, the dead ones; a dead token is kept for one timeout so its sense names the cause.
     */
    private void prune(long now) {
        Iterator<Map.Entry<Long, Token>> it = byId.entrySet().iterator();
        while (it.hasNext()) {
            Token t = it.next().getValue();
            if (now - t.lastUsed > 2 * t.timeoutNanos) {
                kill(t, SenseReason.INVALID_TOKEN_OPERATION_TOKEN_EXPIRED);
                it.remove();
            } else if (now - t.lastUsed > t.timeoutNanos) {
                kill(t, SenseReason.INVALID_TOKEN_OPERATION_TOKEN_EXPIRED);
            }
        }
        if (byId.size() >= MAX_TOKENS) {
            byId.values().removeIf(t -> t.dead != null);
        }
    }
}
