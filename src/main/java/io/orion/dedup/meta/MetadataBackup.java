package io.orion.dedup.meta;

import io.orion.dedup.config.AtomicFiles;
import io.orion.dedup.blockdev.PrivateFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The metadata backup file of {@code orion-dedup backup} (docs/on-disk-format.md, "Metadata backup
 * file"): a 64-byte header, then a compacted copy of {@code data.mdb} (the image).
 *
 * <pre>
 *  off len field
 *    0   4 magic "ORBK" (0x4F52424B)
 *    4   2 backup file version (1)
 *    6   2 pool format version (of the pool counters)
 *    8  16 pool UUID
 *   24   8 taken at (epoch milliseconds)
 *   32   8 image length in bytes (the file is exactly 64 + this long)
 *   40   4 CRC32C of the image
 *   44  16 reserved, zero
 *   60   4 CRC32C of bytes 0..59
 * </pre>
 *
 * <p>Written to a temporary file in the target's directory (mode 0600), forced, then renamed over the
 * target, so the target is either the old file or the whole new one.
 */
public final class MetadataBackup {
    public static final int MAGIC = 0x4F52424B;
    public static final int HEADER = 64;
    public static final int VERSION = 1;

    private MetadataBackup() {
    }

    /** A backup file's header. */
    public record Header(int poolFormat, UUID pool, long takenMillis, long imageLength, int imageCrc) {
        public Instant taken() {
            return Instant.ofEpochMilli(takenMillis);
        }
    }

    /** Writes {@code image} (a compacted {@code data.mdb}) as the backup {@code target}, atomically, mode 0600. */
    public static Header write(Path target, UUID pool, int poolFormat, Path image) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        // one temporary file per backup: two backups to one target (one server process) must not share it
        Path tmp = privateTempFile(dir, target);
        Header h;
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE);
             FileChannel in = FileChannel.open(image, StandardOpenOption.READ)) {
            CRC32C crc = new CRC32C();
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            long pos = HEADER;
            long length = 0;
            while (true) {
                buf.clear();
                int n = in.read(buf, length);
                if (n < 0) {
                    break;
                }
                buf.flip();
                crc.update(buf.duplicate());
                while (buf.hasRemaining()) {
                    pos += out.write(buf, pos);
                }
                length += n;
            }
            h = new Header(poolFormat, pool, System.currentTimeMillis(), length, (int) crc.getValue());
            ByteBuffer head = encode(h);
            while (head.hasRemaining()) {
                out.write(head, head.position());
            }
            out.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        moveIntoPlace(tmp, target, dir);
        return h;
    }

    static ByteBuffer encode(Header h) {
        ByteBuffer b = ByteBuffer.allocate(HEADER).order(ByteOrder.BIG_ENDIAN);
        b.putInt(MAGIC).putShort((short) VERSION).putShort((short) h.poolFormat())
                .putLong(h.pool().getMostSignificantBits()).putLong(h.pool().getLeastSignificantBits())
                .putLong(h.takenMillis()).putLong(h.imageLength()).putInt(h.imageCrc());
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 60);
        b.putInt(60, (int) crc.getValue());
        b.clear();
        return b;
    }

    /** Reads and checks the header of backup {@code file} (magic, version, CRC32C, length). */
    public static Header readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(HEADER).order(ByteOrder.BIG_ENDIAN);
            while (b.hasRemaining()) {
                if (ch.read(b, b.position()) < 0) {
                    throw new IOException(file + " is not an Orion metadata backup (shorter than its header)");
                }
            }
            if (b.getInt(0) != MAGIC) {
                throw new IOException(file + " is not an Orion metadata backup (bad magic)");
            }
            CRC32C crc = new CRC32C();
            crc.update(b.array(), 0, 60);
            if ((int) crc.getValue() != b.getInt(60)) {
                throw new IOException(file + ": the backup header fails its CRC32C (damaged file)");
            }
            if (b.getShort(4) != VERSION) {
                throw new IOException(file + ": backup file version " + b.getShort(4) + " is not supported");
            }
            Header h = new Header(b.getShort(6), new UUID(b.getLong(8), b.getLong(16)), b.getLong(24), b.getLong(32),
                    b.getInt(40));
            if (ch.size() != HEADER + h.imageLength()) {
                throw new IOException(file + " is " + ch.size() + " bytes long, its header says "
                        + (HEADER + h.imageLength()) + " (truncated or damaged file)");
            }
            return h;
        }
    }

    /**
     * Writes the image of backup {@code file} as {@code target} (mode 0600, atomically), after
     * checking its CRC32C; a damaged backup leaves {@code target} as it was.
     */
    public static Header extract(Path file, Path target) throws IOException {
        Header h = readHeader(file);
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = privateTempFile(dir, target);
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            CRC32C crc = new CRC32C();
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            long done = 0;
            while (done < h.imageLength()) {
                buf.clear();
                buf.limit((int) Math.min(buf.capacity(), h.imageLength() - done));
                int n = in.read(buf, HEADER + done);
                if (n < 0) {
                    throw new IOException(file + " ends early");
                }
                buf.flip();
                crc.update(buf.duplicate());
                long pos = done;
                while (buf.hasRemaining()) {
                    pos += out.write(buf, pos);
                }
                done += n;
            }
            if ((int) crc.getValue() != h.imageCrc()) {
                throw new IOException(file + ": the metadata image fails its CRC32C (damaged backup); nothing restored");
            }
            out.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        moveIntoPlace(tmp, target, dir);
        return h;
    }

    /** A new empty file beside {@code target}, unique to this call, mode 0600 from its creation (where POSIX). */
    private static Path privateTempFile(Path dir, Path target) throws IOException {
        String prefix = "." + target.getFileName() + ".tmp-";
        if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
            return Files.createTempFile(dir, prefix, "", PosixFilePermissions.asFileAttribute(PrivateFiles.FILE));
        }
        return Files.createTempFile(dir, prefix, "");
    }

    /** Renames the finished {@code tmp} over {@code target} atomically and syncs the directory; on failure removes {@code tmp}. */
    private static void moveIntoPlace(Path tmp, Path target, Path dir) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        AtomicFiles.syncDirectory(dir);
    }
}
