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

    ChunkGroup(long group) {
        this.group = group;
    }

    /** Takes the records of a checked group value. */
    void load(ByteBuffer v) {
        bits = v.getLong(0);
        int at = 8;
        for (int i = 0; i < MetaCodec.GROUP; i++) {
            if ((bits & Long.MIN_VALUE >>> i) != 0) {
                v.get(at, slots, i * R, R);
                at += R;
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
        view.put(r.fingerprint(), 0, 32).putInt(r.containerId()).putInt(r.offset()).putInt(r.length())
                .putInt(r.originalLength()).put((byte) r.flags()).putInt(r.refCount());
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
        int at = s * R;
        byte[] fp = new byte[32];
        System.arraycopy(slots, at, fp, 0, 32);
        return new ChunkRecord(id, fp, view.getInt(at + 32), view.getInt(at + 36), view.getInt(at + 40),
                view.getInt(at + 44), slots[at + 48] & 0xff, view.getInt(at + 49));
    }

    /**
     * Encodes the group into {@code v} under {@code key} (see {@link MetaCodec#groupValue}) and
     * seals it; false, with nothing written, when no slot is in use.
     */
    boolean encode(ByteBuffer key, ByteBuffer v) {
        if (bits == 0) {
            return false;
        }
        v.clear();
        v.putLong(bits);
        for (int i = 0; i < MetaCodec.GROUP; i++) {
            if ((bits & Long.MIN_VALUE >>> i) != 0) {
                v.put(slots, i * R, R);
            }
        }
        if ((v.position() & 1) != 0) {
            v.put((byte) 0);
        }
        MetaCodec.seal(key, v);
        return true;
    }
}
