package io.orion.dedup.containers;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The 64-byte header at the start of every container slot on a backing device. It names the pool
 * and the container that owns the slot, so a scan can tell a live container from a slot's stale
 * previous content:
 *
 * <pre>
 *  off len field
 *    0   4 magic "ORCS" (0x4F524353)
 *    4   2 version (1)
 *    6   2 reserved
 *    8   4 container id
 *   12   4 slot index
 *   16   4 device index
 *   20  16 pool UUID (most significant long first)
 *   36  24 reserved, zero
 *   60   4 CRC32C over bytes 0..59
 * </pre>
 */
public final class SlotHeader {
    public static final int SIZE = 64;
    public static final int MAGIC = 0x4F524353;

    private SlotHeader() {
    }

    public static ByteBuffer encode(int containerId, int slot, int device, UUID pool) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.BIG_ENDIAN);
        b.putInt(MAGIC).putShort((short) 1).putShort((short) 0).putInt(containerId).putInt(slot).putInt(device)
                .putLong(pool.getMostSignificantBits()).putLong(pool.getLeastSignificantBits());
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 60);
        b.putInt(60, (int) crc.getValue());
        b.clear();
        return b;
    }

    /** Null when {@code b} (64 bytes) is the header of {@code containerId} in {@code pool}, else why not. */
    public static String check(ByteBuffer b, int containerId, UUID pool) {
        ByteBuffer h = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        int p = h.position();
        if (h.remaining() < SIZE) {
            return "slot header truncated";
        }
        if (h.getInt(p) != MAGIC) {
            return "bad slot header magic";
        }
        byte[] raw = new byte[60];
        h.duplicate().position(p).get(raw);
        CRC32C crc = new CRC32C();
        crc.update(raw);
        if ((int) crc.getValue() != h.getInt(p + 60)) {
            return "slot header CRC32C mismatch";
        }
        if (h.getInt(p + 8) != containerId) {
            return "slot belongs to container " + h.getInt(p + 8) + ", expected " + containerId;
        }
        if (h.getLong(p + 20) != pool.getMostSignificantBits() || h.getLong(p + 28) != pool.getLeastSignificantBits()) {
            return "slot belongs to another pool";
        }
        return null;
    }
}
