package io.orion.dedup.meta;

import java.nio.ByteBuffer;

/**
 * One {@code chunkgroups} value (pool format 5) held by a write transaction: the records of chunk
 * ids {@code group * GROUP .. group * GROUP + GROUP - 1}, each in its fixed slot of
 * {@link MetaCodec#GROUP_RECORD} bytes, and the bitmap of the slots in use. A change (a new record,
 * a refcount, a deletion) rewrites one slot; nothing is decoded but what is read.
 */
final class ChunkGroup {
    private static final int R = MetaCodec.GROUP_RECORD;
    final long group;
    /** Bit i (most significant first) set when slot i holds a record. */
    long bits;
    private final byte[] slots = new byte[MetaCodec.GROUP * R];
    private final ByteBuffer view = ByteBuffer.wrap(slots);
    private static final byte[] ZERO = new byte[R];

    ChunkGroup(long group) {
        this.group = group;
    }

    /** Takes the records of a checked group value. */
    void load(ByteBuffer v) {
        bits = v.getLong(0);
        for (int i = 0; i < MetaCodec.GROUP; i++) {
            if ((bits & Long.MIN_VALUE >>> i) != 0) {
                v.get(MetaCodec.groupRecordAt(v, i), slots, i * R, R);
            }
        }
    }

    private int slot(long id) {
        if (id / MetaCodec.GROUP != group) {
            throw new IllegalArgumentException("chunk " + id + " is not in group " + group);
        }
        return (int) (id % MetaCodec.GROUP);
    }

    void put(ChunkRecord r) {
        int s = slot(r.id());
        view.position(s * R);
        MetaCodec.putGroupEntry(view, r);
        bits |= Long.MIN_VALUE >>> s;
    }

    void remove(long id) {
        bits &= ~(Long.MIN_VALUE >>> slot(id));
    }

    /** Chunk {@code id}'s record, or null. */
    ChunkRecord get(long id) {
        int s = slot(id);
        if ((bits & Long.MIN_VALUE >>> s) == 0) {
            return null;
        }
        return MetaCodec.groupEntry(id, view, s * R);
    }

    /**
     * Encodes the group into {@code v} under {@code key} (see {@link MetaCodec#groupValue}) and
     * seals it; false, with nothing written, when no slot is in use.
     */
    boolean encode(ByteBuffer key, ByteBuffer v) {
        return encode(key, v, false);
    }

    /**
     * As {@link #encode(ByteBuffer, ByteBuffer)}; {@code fixed}: every slot in its place, absent
     * ones zero ({@link MetaCodec#GROUP_VAL_MAX} bytes), for the last group while it fills: a value
     * that keeps its size is overwritten in place, where a growing one made LMDB split its leaf in
     * the middle at each commit and left the leaves half full.
     */
    boolean encode(ByteBuffer key, ByteBuffer v, boolean fixed) {
        if (bits == 0) {
            return false;
        }
        v.clear();
        v.putLong(bits);
        for (int i = 0; i < MetaCodec.GROUP; i++) {
            if ((bits & Long.MIN_VALUE >>> i) != 0) {
                v.put(slots, i * R, R);
            } else if (fixed) {
                v.put(ZERO, 0, R);
            }
        }
        if ((v.position() & 1) != 0) {
            v.put((byte) 0);
        }
        MetaCodec.seal(key, v);
        return true;
    }
}
