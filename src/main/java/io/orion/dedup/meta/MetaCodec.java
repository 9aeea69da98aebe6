package io.orion.dedup.meta;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * Fixed-layout, big-endian encodings of every LMDB key and value (see docs/on-disk-format.md).
 * Every value ends with a CRC32C over the key bytes followed by the value bytes before the CRC, so
 * a damaged value (or a value found under the wrong key) is detected on read.
 */
final class MetaCodec {
    static final int BLOCK_KEY = 12;
    static final int BLOCK_VAL = 12;
    static final int CHUNK_KEY = 8;
    static final int CHUNK_VAL = 57;
    static final int INDEX_KEY = 32;
    static final int INDEX_VAL = 12;
    static final int CONTAINER_KEY = 4;
    static final int CONTAINER_VAL = 45;
    /** A container value with its journal bytes (version 2; version 1 is {@link #CONTAINER_VAL}). */
    static final int CONTAINER_VAL_V2 = 53;
    /** Length of a version 1 volume value (no flags, no origin). */
    static final int VOLUME_VAL = 56;
    /** Length of a version 2 volume value without its origin name bytes. */
    static final int VOLUME_VAL_V2 = 67;
    /** Version 2 volume flag: read-only (a snapshot). */
    static final int VOLUME_READ_ONLY = 1;
    static final int COUNTERS_VAL = 72;
    static final byte[] COUNTERS_KEY = "pool".getBytes(StandardCharsets.US_ASCII);
    /** Persistent reservation fragments: volume id (4) + fragment number (2). */
    static final int RESERVATION_KEY = 6;
    /** Largest fragment payload: a value stays well inside a leaf page (no overflow pages). */
    static final int RESERVATION_FRAGMENT = 1024;

    static void reservationKey(ByteBuffer k, int volume, int fragment) {
        k.clear();
        k.putInt(volume).putShort((short) fragment).flip();
    }

    private MetaCodec() {
    }

    static int crc(ByteBuffer key, ByteBuffer val, int valLen) {
        CRC32C c = new CRC32C();
        int kp = key.position();
        int kl = key.limit();
        c.update(key);
        key.limit(kl).position(kp);
        int vp = val.position();
        int vl = val.limit();
        val.limit(valLen).position(0);
        c.update(val);
        val.limit(vl).position(vp);
        return (int) c.getValue();
    }

    /** Appends the CRC after {@code val}'s first position bytes and flips it. */
    static void seal(ByteBuffer key, ByteBuffer val) {
        int n = val.position();
        val.putInt(crc(key, val, n));
        val.flip();
    }

    /** Null when {@code val} has the expected length and CRC, else why not. */
    static String check(ByteBuffer key, ByteBuffer val, int expectedLen) {
        if (val.remaining() != expectedLen) {
            return "value has " + val.remaining() + " bytes, expected " + expectedLen;
        }
        int stored = val.getInt(expectedLen - 4);
        if (stored != crc(key, val, expectedLen - 4)) {
            return "CRC32C mismatch (metadata damaged)";
        }
        return null;
    }

    static void check(String what, ByteBuffer key, ByteBuffer val, int expectedLen) throws MetaCorruptException {
        String bad = check(key, val, expectedLen);
        if (bad != null) {
            throw new MetaCorruptException(what + ": " + bad);
        }
    }

    static ByteBuffer be(ByteBuffer b) {
        return b.order(ByteOrder.BIG_ENDIAN);
    }

    static void blockKey(ByteBuffer k, int volume, long dblock) {
        k.clear();
        k.putInt(volume).putLong(dblock).flip();
    }

    static void chunkKey(ByteBuffer k, long id) {
        k.clear();
        k.putLong(id).flip();
    }

    static void indexKey(ByteBuffer k, byte[] fp) {
        k.clear();
        k.put(fp).flip();
    }

    static void containerKey(ByteBuffer k, int id) {
        k.clear();
        k.putInt(id).flip();
    }

    static void longValue(ByteBuffer key, ByteBuffer v, long x) {
        v.clear();
        v.putLong(x);
        seal(key, v);
    }

    static void chunkValue(ByteBuffer key, ByteBuffer v, ChunkRecord r) {
        v.clear();
        v.put(r.fingerprint()).putInt(r.containerId()).putInt(r.offset()).putInt(r.length())
                .putInt(r.originalLength()).put((byte) r.flags()).putInt(r.refCount());
        seal(key, v);
    }

    static ChunkRecord chunk(long id, ByteBuffer v) {
        byte[] fp = new byte[32];
        v.duplicate().get(fp);
        return new ChunkRecord(id, fp, v.getInt(32), v.getInt(36), v.getInt(40), v.getInt(44), v.get(48) & 0xff,
                v.getInt(49));
    }

    static void containerValue(ByteBuffer key, ByteBuffer v, ContainerRecord r) {
        v.clear();
        v.putInt(r.device()).putInt(r.slot()).put((byte) (r.sealed() ? 1 : 0)).putLong(r.committedEnd())
                .putLong(r.liveBytes()).putLong(r.liveCount()).putLong(r.records());
        if (r.journalBytes() != 0) {
            v.putLong(r.journalBytes()); // version 2: only containers holding journal records
        }
        seal(key, v);
    }

    /** The expected length of a container value of {@code len} bytes: its own when a known version. */
    static int containerLength(int len) {
        return len == CONTAINER_VAL_V2 ? CONTAINER_VAL_V2 : CONTAINER_VAL;
    }

    static ContainerRecord container(int id, ByteBuffer v) {
        return new ContainerRecord(id, v.getInt(0), v.getInt(4), v.get(8) != 0, v.getLong(9), v.getLong(17),
                v.getLong(25), v.getLong(33), v.remaining() >= CONTAINER_VAL_V2 ? v.getLong(41) : 0);
    }

    /**
     * Version 1 (56 bytes) for a volume without flags and origin, so pools that never cloned keep
     * byte-identical records; version 2 (67 + origin name bytes) otherwise: the version 1 fields,
     * flags u8, origin time u64 (epoch ms), origin name length u16, origin name (UTF-8), CRC.
     */
    static void volumeValue(ByteBuffer key, ByteBuffer v, VolumeRecord r) {
        v.clear();
        v.putInt(r.id()).putLong(r.uuid().getMostSignificantBits()).putLong(r.uuid().getLeastSignificantBits())
                .putInt(r.logicalBlockSize()).putInt(r.dedupBlockSize()).putLong(r.capacityBytes())
                .putLong(r.dataBlocks()).putLong(r.zeroBlocks());
        if (r.extended()) {
            byte[] origin = r.origin() == null ? new byte[0] : r.origin().getBytes(StandardCharsets.UTF_8);
            v.put((byte) (r.readOnly() ? VOLUME_READ_ONLY : 0)).putLong(r.originMillis()).putShort((short) origin.length)
                    .put(origin);
        }
        seal(key, v);
    }

    /** Null when {@code val} is a sound version 1 or 2 volume value, else why not. */
    static String checkVolume(ByteBuffer key, ByteBuffer val) {
        int n = val.remaining();
        if (n == VOLUME_VAL) {
            return check(key, val, VOLUME_VAL);
        }
        if (n < VOLUME_VAL_V2) {
            return "value has " + n + " bytes, expected " + VOLUME_VAL + " or at least " + VOLUME_VAL_V2;
        }
        int originLen = val.getShort(61) & 0xffff;
        if (n != VOLUME_VAL_V2 + originLen) {
            return "value has " + n + " bytes, expected " + (VOLUME_VAL_V2 + originLen) + " for a " + originLen
                    + "-byte origin name";
        }
        return check(key, val, n);
    }

    static void checkVolume(String what, ByteBuffer key, ByteBuffer val) throws MetaCorruptException {
        String bad = checkVolume(key, val);
        if (bad != null) {
            throw new MetaCorruptException(what + ": " + bad);
        }
    }

    static VolumeRecord volume(String name, ByteBuffer v) {
        boolean readOnly = false;
        String origin = null;
        long originMillis = 0;
        if (v.remaining() >= VOLUME_VAL_V2) {
            readOnly = (v.get(52) & VOLUME_READ_ONLY) != 0;
            originMillis = v.getLong(53);
            int len = v.getShort(61) & 0xffff;
            if (len > 0) {
                byte[] b = new byte[len];
                v.get(63, b);
                origin = new String(b, StandardCharsets.UTF_8);
            }
        }
        return new VolumeRecord(name, v.getInt(0), new UUID(v.getLong(4), v.getLong(12)), v.getInt(20), v.getInt(24),
                v.getLong(28), v.getLong(36), v.getLong(44), readOnly, origin, originMillis);
    }

    static void countersValue(ByteBuffer key, ByteBuffer v, PoolCounters c) {
        v.clear();
        v.putInt(c.formatVersion()).putLong(c.poolUuid().getMostSignificantBits())
                .putLong(c.poolUuid().getLeastSignificantBits()).putLong(c.slotSize()).putLong(c.nextChunkId())
                .putInt(c.nextContainerId()).putInt(c.nextVolumeId()).putLong(c.uniqueChunks())
                .putLong(c.uniqueBytes()).putLong(c.storedBytes());
        seal(key, v);
    }

    static PoolCounters counters(ByteBuffer v) {
        return new PoolCounters(v.getInt(0), new UUID(v.getLong(4), v.getLong(12)), v.getLong(20), v.getLong(28),
                v.getInt(36), v.getInt(40), v.getLong(44), v.getLong(52), v.getLong(60));
    }
}
