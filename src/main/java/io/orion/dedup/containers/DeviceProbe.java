package io.orion.dedup.containers;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * Looks at a backing device before a pool uses it, so a device that holds data is never
 * initialised over (ARCHITECTURE.md, rule 5): it finds container slot headers (magic "ORCS", valid
 * CRC32C; see {@link SlotHeader}) and the pool they name, or any other non-zero data at the start.
 * Read-only; a missing or empty file holds nothing.
 */
public final class DeviceProbe {
    /** Header candidates are looked for at every multiple of this (the smallest container size). */
    static final long STEP = 1 << 20;
    /** How far headers are looked for (slot sizes of up to this over a thousand slots are covered). */
    static final int MAX_CANDIDATES = 1024;

    private DeviceProbe() {
    }

    /** What a device holds: the first valid slot header's pool (may be null) and a description. */
    public record Found(UUID pool, long offset, String what) {
    }

    /**
     * What {@code path} holds, or null when it holds nothing (absent, empty, or all zeros in its first
     * MiB and no slot header): a valid slot header at a multiple of 1 MiB (where every container
     * size puts slot starts), else non-zero bytes in the first MiB.
     */
    public static Found probe(Path path) throws IOException {
        if (!Files.exists(path)) {
            return null;
        }
        boolean regular = Files.isRegularFile(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = regular ? ch.size() : Long.MAX_VALUE;
            if (size == 0) {
                return null;
            }
            Found header = header(ch, size, STEP);
            if (header != null) {
                return header;
            }
            ByteBuffer head = ByteBuffer.allocate((int) Math.min(STEP, size));
            read(ch, head, 0);
            for (int i = 0; i < head.position(); i++) {
                if (head.get(i) != 0) {
                    return new Found(null, i, "non-zero data at offset " + i + " (no Orion container header)");
                }
            }
            return null;
        }
    }

    /**
     * The first valid slot header at a multiple of {@code slotSize} on {@code path} that names a pool
     * other than {@code pool}, or null.
     */
    public static Found foreign(Path path, long slotSize, UUID pool) throws IOException {
        if (!Files.exists(path)) {
            return null;
        }
        boolean regular = Files.isRegularFile(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = regular ? ch.size() : Long.MAX_VALUE;
            for (int k = 0; k < MAX_CANDIDATES && (long) k * slotSize + SlotHeader.SIZE <= size; k++) {
                Found f = headerAt(ch, (long) k * slotSize);
                if (f != null && !f.pool().equals(pool)) {
                    return f;
                }
            }
            return null;
        }
    }

    private static Found header(FileChannel ch, long size, long step) throws IOException {
        for (int k = 0; k < MAX_CANDIDATES && (long) k * step + SlotHeader.SIZE <= size; k++) {
            Found f = headerAt(ch, k * step);
            if (f != null) {
                return f;
            }
        }
        return null;
    }

    private static Found headerAt(FileChannel ch, long pos) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(SlotHeader.SIZE).order(ByteOrder.BIG_ENDIAN);
        if (read(ch, b, pos) < SlotHeader.SIZE || b.getInt(0) != SlotHeader.MAGIC) {
            return null;
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 60);
        if ((int) crc.getValue() != b.getInt(60)) {
            return null;
        }
        UUID pool = new UUID(b.getLong(20), b.getLong(28));
        if (b.getInt(8) == 0) {
            return new Found(pool, pos, "the label of device #" + b.getInt(16) + " of pool " + pool + " at offset " + pos);
        }
        return new Found(pool, pos, "container slot header of pool " + pool + " (container " + b.getInt(8)
                + ") at offset " + pos);
    }

    private static int read(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        int total = 0;
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + total);
            if (n <= 0) {
                break;
            }
            total += n;
        }
        return total;
    }
}
