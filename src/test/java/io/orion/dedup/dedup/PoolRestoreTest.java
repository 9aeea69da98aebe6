package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetadataBackup;
import io.orion.dedup.blockdev.ChecksumMismatchException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DedupPool#backup} while writes go on, and {@link PoolRestore} into an empty metadata
 * directory: the pool reads back what it held at the backup point, containers written after the
 * backup are cut or free, chunks that cleanup destroyed after the backup are reported and never
 * read as good data, and a backup of another pool is refused.
 */
class PoolRestoreTest {
    private static final int BLOCKS = 400;

    @TempDir
    Path dir;

    private PoolOptions options() {
        return PoolOptions.builder(dir.resolve("meta")).device(dir.resolve("data/dev0.img"), 0)
                .device(dir.resolve("data/dev1.img"), 0).containerSize(1 << 20).metadataMapSize(64L << 20)
                .referenceCleanupIntervalSeconds(0).cacheSize(8 << 20).hashCacheSize(1 << 20).build();
    }

    private static byte[] content(int lba, int gen) {
        return PoolFixture.random(lba * 31L + gen * 1_000_003L, 4096);
    }

    private void emptyMetadata() throws IOException {
        try (Stream<Path> s = Files.walk(dir.resolve("meta"))) {
            s.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(dir.resolve("meta"))).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void aRestoreGivesBackThePoolAsItWasAtTheBackupWhileWritesWentOn() throws Exception {
        Path backup = dir.resolve("backups/pool.orbk");
        Files.createDirectories(backup.getParent());
        ConcurrentHashMap<Integer, List<Integer>> written = new ConcurrentHashMap<>();
        try (DedupPool pool = DedupPool.open(options())) {
            DedupVolume v = pool.createVolume("lun", 4096, 16L << 20, 4096);
            for (int lba = 0; lba < BLOCKS; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 1)), false);
            }
            pool.flush();
            // a writer on other blocks while the backup runs
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread writer = new Thread(() -> {
                try {
                    for (int gen = 10; !stop.get(); gen++) {
                        for (int lba = 1000; lba < 1064 && !stop.get(); lba++) {
                            written.computeIfAbsent(lba, k -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(gen);
                            v.write(lba, ByteBuffer.wrap(content(lba, gen)), false);
                        }
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            writer.start();
            Thread.sleep(50);
            MetadataBackup.Header h = pool.backup(backup);
            stop.set(true);
            writer.join();
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            assertEquals(pool.uuid(), h.pool());
            // after the backup: P2 over the P1 region, new containers the backup does not know
            for (int lba = 0; lba < BLOCKS; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 2)), false);
            }
            pool.flush();
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(backup)));
        try (Stream<Path> s = Files.list(backup.getParent())) {
            assertEquals(List.of(backup), s.toList(), "no temporary file left beside the backup");
        }
        emptyMetadata();
        PoolRestore.Result r = PoolRestore.restore(options(), backup, false, true);
        assertTrue(r.intact(), r.toString());
        assertEquals(1, r.volumes());
        assertTrue(r.open().tailBytesCut() > 0, "bytes written after the backup are cut: " + r.open());
        try (DedupPool pool = DedupPool.open(options())) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (int lba = 0; lba < BLOCKS; lba++) {
                assertArrayEquals(content(lba, 1), PoolFixture.read(v, lba, 1).array(), "P1 at " + lba);
            }
            for (int lba = 1000; lba < 1064; lba++) {
                byte[] got = PoolFixture.read(v, lba, 1).array();
                boolean ok = java.util.Arrays.equals(got, new byte[4096]);
                for (int gen : written.getOrDefault(lba, List.of())) {
                    ok |= java.util.Arrays.equals(got, content(lba, gen));
                }
                assertTrue(ok, "block " + lba + " reads a value written to it, or zeros");
            }
            assertTrue(pool.verify().clean());
            // the pool goes on: new writes land in free space and read back
            for (int lba = 0; lba < BLOCKS; lba += 2) {
                v.write(lba, ByteBuffer.wrap(content(lba, 3)), false);
            }
            pool.flush();
            for (int lba = 0; lba < BLOCKS; lba++) {
                assertArrayEquals(content(lba, lba % 2 == 0 ? 3 : 1), PoolFixture.read(v, lba, 1).array());
            }
            assertTrue(pool.verify().clean());
        }
    }

    @Test
    void chunksCleanupDestroyedAfterTheBackupAreReportedNeverReadAsGood() throws Exception {
        Path backup = dir.resolve("pool.orbk");
        try (DedupPool pool = DedupPool.open(options())) {
            DedupVolume v = pool.createVolume("lun", 4096, 16L << 20, 4096);
            for (int lba = 0; lba < BLOCKS; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 1)), false);
            }
            pool.flush();
            pool.backup(backup);
            for (int lba = 0; lba < BLOCKS; lba++) {
                v.write(lba, ByteBuffer.wrap(content(lba, 2)), false);
            }
            pool.flush();
            assertTrue(pool.cleanup().containersCompacted() > 0);
        }
        IOException refused = assertThrows(PoolRestore.RestoreRefusedException.class,
                () -> PoolRestore.restore(options(), backup, false, true));
        assertTrue(refused.getMessage().contains("--force"), refused.getMessage());
        PoolRestore.Result r = PoolRestore.restore(options(), backup, true, true);
        assertNotNull(r.replaced());
        assertTrue(Files.exists(r.replaced()), "the replaced metadata is kept");
        assertFalse(r.intact(), r.toString());
        assertTrue(r.scrub().crcErrors() + r.scrub().fingerprintMismatches() + r.scrub().containerErrors() > 0,
                r.scrub().toString());
        try (DedupPool pool = DedupPool.open(options())) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            int failed = 0;
            for (int lba = 0; lba < BLOCKS; lba++) {
                try {
                    assertArrayEquals(content(lba, 1), PoolFixture.read(v, lba, 1).array(), "block " + lba);
                } catch (ChecksumMismatchException e) {
                    failed++;
                }
            }
            assertTrue(failed > 0, "destroyed chunks fail their reads");
        }
    }

    @Test
    void aBackupOfAnotherPoolIsRefusedAndNothingWritten() throws Exception {
        Path backup = dir.resolve("other.orbk");
        PoolOptions other = PoolOptions.builder(dir.resolve("other/meta")).device(dir.resolve("other/dev0.img"), 0)
                .containerSize(1 << 20).metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0)
                .cacheSize(8 << 20).hashCacheSize(1 << 20).build();
        try (DedupPool pool = DedupPool.open(other)) {
            pool.createVolume("x", 4096, 1 << 20, 4096).write(0, ByteBuffer.wrap(content(0, 1)), true);
            pool.backup(backup);
        }
        try (DedupPool pool = DedupPool.open(options())) {
            pool.createVolume("lun", 4096, 1 << 20, 4096).write(0, ByteBuffer.wrap(content(0, 2)), true);
        }
        emptyMetadata();
        IOException e = assertThrows(PoolRestore.RestoreRefusedException.class,
                () -> PoolRestore.restore(options(), backup, true, true));
        assertTrue(e.getMessage().contains("belongs to pool"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("meta/data.mdb")), "nothing restored");

        // a damaged backup file is refused before anything is written
        byte[] bytes = Files.readAllBytes(backup);
        bytes[bytes.length - 100] ^= 1;
        Files.write(backup, bytes);
        assertThrows(IOException.class, () -> PoolRestore.restore(other, backup, true, false));
    }

    @Test
    void aDamagedImageWithForceLeavesTheMetadataDirectoryAsItWas() throws Exception {
        Path backup = dir.resolve("pool.orbk");
        try (DedupPool pool = DedupPool.open(options())) {
            DedupVolume v = pool.createVolume("lun", 4096, 1 << 20, 4096);
            v.write(0, ByteBuffer.wrap(content(0, 1)), true);
            pool.backup(backup);
            v.write(1, ByteBuffer.wrap(content(1, 1)), true);
        }
        byte[] bytes = Files.readAllBytes(backup);
        bytes[bytes.length - 100] ^= 1; // one bit of the image: the header still checks out
        Files.write(backup, bytes);
        MetadataBackup.readHeader(backup);
        Path meta = dir.resolve("meta");
        byte[] before = Files.readAllBytes(meta.resolve("data.mdb"));
        List<Path> listed;
        try (Stream<Path> s = Files.list(meta)) {
            listed = s.sorted().toList();
        }
        IOException e = assertThrows(IOException.class, () -> PoolRestore.restore(options(), backup, true, true));
        assertTrue(e.getMessage().contains("nothing restored"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(meta.resolve("data.mdb")), "data.mdb untouched");
        try (Stream<Path> s = Files.list(meta)) {
            assertEquals(listed, s.sorted().toList(), "no replaced-* or temporary file");
        }
        try (DedupPool pool = DedupPool.open(options())) {
            assertArrayEquals(content(1, 1), PoolFixture.read(pool.openVolume("lun").orElseThrow(), 1, 1).array());
        }
    }
}
