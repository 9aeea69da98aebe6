package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link MetadataBackup#write}: two backups to one file at once (one server process) both succeed. */
class MetadataBackupTest {
    @TempDir
    Path dir;

    @Test
    void twoConcurrentBackupsToOneFileBothSucceedAndTheFileChecksOut() throws Exception {
        UUID pool = UUID.randomUUID();
        byte[][] images = new byte[2][8 << 20];
        Path[] files = new Path[2];
        for (int i = 0; i < 2; i++) {
            new Random(i).nextBytes(images[i]);
            files[i] = Files.write(dir.resolve("image" + i), images[i]);
        }
        Path target = Files.createDirectories(dir.resolve("backups")).resolve("pool.orbk");
        ExecutorService ex = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 3; round++) {
                CyclicBarrier start = new CyclicBarrier(2);
                List<Future<MetadataBackup.Header>> f = List.of(0, 1).stream().map(i -> ex.submit(() -> {
                    start.await();
                    return MetadataBackup.write(target, pool, 7, files[i]);
                })).toList();
                MetadataBackup.Header a = f.get(0).get();
                MetadataBackup.Header b = f.get(1).get();
                // the file is whole: one of the two backups, and it passes the restore checks
                MetadataBackup.Header h = MetadataBackup.readHeader(target);
                Path out = dir.resolve("restored-" + round);
                MetadataBackup.extract(target, out);
                byte[] got = Files.readAllBytes(out);
                assertArrayEquals(h.imageCrc() == a.imageCrc() ? images[0] : images[1], got);
                assertEquals(h.imageCrc() == a.imageCrc() ? a : b, h);
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
                try (Stream<Path> s = Files.list(target.getParent())) {
                    assertEquals(List.of(target), s.toList(), "no temporary file left beside the backup");
                }
            }
        } finally {
            ex.shutdownNow();
        }
    }
}
