package io.orion.dedup.meta;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * The seal a clean stop leaves beside {@code data.mdb} (file {@code clean.seal}): the file's
 * inode, size, modification and change times and the CRC32C of its two meta pages, taken after the
 * last sync and after LMDB closed it. At the next open, a file that still matches its seal is
 * exactly what this server's LMDB wrote and synced, so {@link MetaStore#open} checks only its top
 * ({@link LmdbVerifier#checkTop}: meta pages, main database) instead of reading every page: a pool
 * of 10^8 blocks (7.7 GiB of metadata) opens in well under a second instead of a minute. A file
 * written by anything else since (a copy, a restore, a damaged byte, a tool) has a new change time
 * or inode and is checked in full, as is every file after a crash (no seal: it is removed at open,
 * before the first commit). Damage that changes no time stamp (a fault of the medium under the
 * file system) is not seen at open; {@code scrub} checks the live file in full.
 *
 * <p>The kernel stamps file times from a clock that may lag by a tick; {@link #write} returns only
 * once the clock is two ticks past the change time it recorded, so any later write of the file
 * carries a later change time.
 */
final class CleanSeal {
    static final String FILE = "clean.seal";
    private static final int MAGIC = 0x4f53454c; // "OSEL"
    private static final int VERSION = 1;
    private static final int SIZE = 4 + 4 + 8 * 6 + 4 + 4;
    /** Two ticks of the coarsest kernel clock (HZ = 100). */
    private static final long CLOCK_MARGIN_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    /** What a seal records of {@code data.mdb}. */
    record Stamp(long inode, long size, long modifiedNanos, long changedNanos, long txnId, int metaCrc) {
    }

    private CleanSeal() {}

    /** The stamp of {@code mdb} as it is now (its meta pages of {@code pageSize} bytes each read). */
    static Stamp stamp(Path mdb, int pageSize, long txnId) throws IOException {
        Map<String, Object> a = Files.readAttributes(mdb, "unix:ino,size,lastModifiedTime,ctime");
        byte[] meta = new byte[2 * pageSize];
        try (FileChannel ch = FileChannel.open(mdb, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.wrap(meta);
            while (b.hasRemaining()) {
                if (ch.read(b, b.position()) < 0) {
                    break;
                }
            }
        }
        CRC32C crc = new CRC32C();
        crc.update(meta);
        return new Stamp(((Number) a.get("ino")).longValue(), ((Number) a.get("size")).longValue(),
                nanos((FileTime) a.get("lastModifiedTime")), nanos((FileTime) a.get("ctime")), txnId,
                (int) crc.getValue());
    }

    private static long nanos(FileTime t) {
        return t.to(TimeUnit.NANOSECONDS);
    }

    /** Seals {@code dir}'s {@code data.mdb} as it is now (closed and synced at transaction {@code txnId}). */
    static void write(Path dir, int pageSize, long txnId) throws IOException {
        Stamp s = stamp(dir.resolve("data.mdb"), pageSize, txnId);
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(VERSION).putLong(s.inode()).putLong(s.size()).putLong(s.modifiedNanos())
                .putLong(s.changedNanos()).putLong(s.txnId()).putLong(0).putInt(s.metaCrc()).putInt(pageSize);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, SIZE);
        ByteBuffer out = ByteBuffer.allocate(SIZE + 4).order(ByteOrder.LITTLE_ENDIAN);
        out.put(b.array(), 0, SIZE).putInt((int) crc.getValue());
        io.orion.dedup.config.AtomicFiles.write(dir.resolve(FILE), out.array());
        // a later write of data.mdb in the same clock tick would keep the recorded change time
        long wait = s.changedNanos() + CLOCK_MARGIN_NANOS
                - TimeUnit.MILLISECONDS.toNanos(System.currentTimeMillis());
        if (wait > 0) {
            try {
                TimeUnit.NANOSECONDS.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                remove(dir); // cannot vouch for the margin: the next open checks in full
            }
        }
    }

    /**
     * Takes {@code dir}'s seal: reads it and removes it (durably, before anything can write the
     * file). Returns the transaction id the seal was made at when {@code data.mdb} matches it, or -1
     * (no seal, a damaged one, or a file changed since).
     */
    static long take(Path dir) throws IOException {
        Path f = dir.resolve(FILE);
        if (!Files.exists(f)) {
            return -1;
        }
        byte[] raw = Files.readAllBytes(f);
        remove(dir);
        if (raw.length != SIZE + 4) {
            return -1;
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        crc.update(raw, 0, SIZE);
        if (b.getInt(SIZE) != (int) crc.getValue() || b.getInt(0) != MAGIC || b.getInt(4) != VERSION) {
            return -1;
        }
        Path mdb = dir.resolve("data.mdb");
        if (!Files.exists(mdb)) {
            return -1;
        }
        Stamp sealed = new Stamp(b.getLong(8), b.getLong(16), b.getLong(24), b.getLong(32), b.getLong(40),
                b.getInt(56));
        int pageSize = b.getInt(60);
        if (pageSize < 512 || pageSize > 65536 || Integer.bitCount(pageSize) != 1) {
            return -1;
        }
        return stamp(mdb, pageSize, sealed.txnId()).equals(sealed) ? sealed.txnId() : -1;
    }

    static void remove(Path dir) throws IOException {
        if (Files.deleteIfExists(dir.resolve(FILE))) {
            io.orion.dedup.config.AtomicFiles.syncDirectory(dir);
        }
    }
}
