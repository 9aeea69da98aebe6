package io.orion.dedup.server;

import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Run under the powercut shim by {@code PowerCutShimIT}: known file operations through the JVM's
 * own I/O paths (libnio), so the test can check what the shim logged. Argument: the tracked dir.
 */
public final class PowerCutChild {

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Path a = dir.resolve("a.bin");
        try (FileChannel ch = FileChannel.open(a, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.READ)) {
            ch.write(ByteBuffer.wrap(filled(8192, 1)), 0);              // pwrite64
            ch.force(false);                                            // fdatasync
            ch.write(ByteBuffer.wrap(filled(4096, 2)), 4096);           // pwrite64, not synced
            ch.position(8192);
            ch.write(new ByteBuffer[] {ByteBuffer.wrap(filled(100, 3)), ByteBuffer.wrap(filled(50, 4))}); // writev
            ch.truncate(8192 + 120);                                    // ftruncate64
        }
        Path t = dir.resolve("t.tmp");
        Files.write(t, filled(10, 5));                                   // open O_TRUNC, write
        Files.move(t, dir.resolve("t.json"), StandardCopyOption.ATOMIC_MOVE); // rename
        if (args.length > 1 && args[1].equals("map")) {
            try (FileChannel ch = FileChannel.open(a, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_WRITE, 0, 4096); // shared writable
                m.put(0, (byte) 9);
                m.force();
            }
        }
    }

    static byte[] filled(int n, int v) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) v);
        return b;
    }
}
