package io.orion.dedup.meta;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Checks an LMDB {@code data.mdb} before it is mapped, so a truncated or damaged file is reported
 * as a clear error instead of crashing the JVM on a page fault. It reads the two meta pages (LMDB
 * layout: 16-byte page header, then magic 0xBEEFC0DE, version, address, map size, the free and
 * main database records whose first field in the free record is the page size, last page number
 * and transaction id; little-endian on x86-64) and verifies that the newest valid meta page's last
 * page lies inside the file.
 */
public final class LmdbFileCheck {
    private static final int MAGIC = 0xBEEFC0DE;

    private LmdbFileCheck() {
    }

    /** Throws {@link MetaCorruptException} naming the problem; returns quietly for a sound or absent file. */
    public static void check(Path dataFile) throws IOException {
        if (!Files.exists(dataFile)) {
            return;
        }
        long size = Files.size(dataFile);
        if (size == 0) {
            throw new MetaCorruptException("metadata file " + dataFile + " is empty (truncated)");
        }
        try (FileChannel ch = FileChannel.open(dataFile, StandardOpenOption.READ)) {
            Meta a = readMeta(ch, 0, size);
            long psize = a != null ? a.pageSize : 4096;
            Meta b = readMeta(ch, psize, size);
            Meta best = a == null ? b : (b == null ? a : (b.txnId > a.txnId ? b : a));
            if (best == null) {
                throw new MetaCorruptException("metadata file " + dataFile + " has no valid LMDB meta page (damaged header)");
            }
            long need = (best.lastPage + 1) * best.pageSize;
            if (size < need) {
                throw new MetaCorruptException("metadata file " + dataFile + " is truncated: " + size
                        + " bytes, its last committed page needs " + need);
            }
        }
    }

    private record Meta(long pageSize, long lastPage, long txnId) {
    }

    private static Meta readMeta(FileChannel ch, long pos, long size) throws IOException {
        if (pos + 160 > size) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(160).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                return null;
            }
        }
        if (b.getInt(16) != MAGIC || b.getInt(20) != 1) {
            return null;
        }
        long psize = b.getInt(40) & 0xffffffffL;
        if (psize < 512 || psize > 65536 || Long.bitCount(psize) != 1) {
            return null;
        }
        long last = b.getLong(136);
        long txn = b.getLong(144);
        if (last < 1 || txn < 0) {
            return null;
        }
        return new Meta(psize, last, txn);
    }
}
