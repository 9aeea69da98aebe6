package io.orion.dedup.estimate;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An image file or a block device, opened read-only. A block device's size comes from
 * {@code /sys/dev/block/MAJOR:MINOR/size} (the JDK reports 0 for it).
 */
public final class FileImageSource implements ImageSource {
    private final Path path;
    private final FileChannel channel;
    private final long size;

    private FileImageSource(Path path, FileChannel channel, long size) {
        this.path = path;
        this.channel = channel;
        this.size = size;
    }

    /** Opens {@code path} for reading; a missing path or a directory is a {@link NoSuchFileException}/IOException. */
    public static FileImageSource open(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "no such file or block device");
        }
        if (Files.isDirectory(path)) {
            throw new IOException(path + ": is a directory, not an image file or block device");
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = Files.isRegularFile(path) ? ch.size() : deviceSize(path, ch);
            return new FileImageSource(path, ch, size);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static long deviceSize(Path path, FileChannel ch) throws IOException {
        Object rdev;
        try {
            rdev = Files.getAttribute(path, "unix:rdev");
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            rdev = null;
        }
        if (rdev instanceof Long dev) {
            long major = ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
            long minor = (dev & 0xff) | ((dev >>> 12) & ~0xffL);
            Path sys = Path.of("/sys/dev/block/" + major + ":" + minor + "/size");
            if (Files.isReadable(sys)) {
                return Long.parseLong(Files.readString(sys).trim()) * 512;
            }
        }
        long n = ch.size();
        if (n > 0) {
            return n;
        }
        throw new IOException(path + ": cannot tell its size (not a regular file or a block device)");
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public String describe() {
        return path.toString();
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(dst, dstOffset, length);
        long at = offset;
        while (b.hasRemaining()) {
            int n = channel.read(b, at);
            if (n < 0) {
                throw new EOFException(path + ": ended at byte " + at + " (expected " + size + ")");
            }
            at += n;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
