package io.orion.dedup.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.dedup.DedupPool;
import io.orion.dedup.dedup.PoolOptions;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code orion-dedup restore --force}: what it says about the metadata it replaced. Once the restored
 * pool has been opened the devices are cut back to the backup, so the replaced file cannot be switched
 * back to; with {@code --no-check} it can until the first open.
 */
class RestoreCommandTest {
    @TempDir
    Path dir;

    private Path config() throws Exception {
        return Files.writeString(dir.resolve("dedup.toml"), "[deduplication]\nhash_cache_size = \"1MB\"\n"
                + "cache_size = \"8MB\"\nreference_metadata_size = \"64MB\"\nbackground_processing = false\n");
    }

    /** A pool at the default places under {@code data}, a backup of it, then a write after the backup. */
    private Path poolAndBackup(Path data) throws Exception {
        PoolOptions o = PoolOptions.builder(data.resolve("meta")).device(data.resolve("store/chunks.0"), 0)
                .metadataMapSize(64L << 20).referenceCleanupIntervalSeconds(0).cacheSize(8 << 20)
                .hashCacheSize(1 << 20).build();
        Path backup = dir.resolve("pool.orbk");
        try (DedupPool pool = DedupPool.open(o)) {
            var v = pool.createVolume("lun", 4096, 1 << 20, 4096);
            v.write(0, ByteBuffer.wrap(new byte[4096]).put(0, (byte) 1), true);
            pool.backup(backup);
            v.write(1, ByteBuffer.wrap(new byte[4096]).put(0, (byte) 2), true);
        }
        return backup;
    }

    @Test
    void afterTheCheckTheReplacedMetadataIsNotOfferedAsAWayBack() throws Exception {
        Path data = dir.resolve("data");
        Path backup = poolAndBackup(data);
        OrionCliTest.Run run = OrionCliTest.run("restore", "--from", backup.toString(), "--data", data.toString(),
                "--config", config().toString(), "--force");
        assertEquals(0, run.status(), run.out() + run.err());
        assertTrue(run.out().contains("cannot be switched back to"), run.out());
        assertFalse(run.out().contains("until the first open"), run.out());
    }

    @Test
    void withNoCheckTheReplacedMetadataIsUsableUntilTheFirstOpen() throws Exception {
        Path data = dir.resolve("data");
        Path backup = poolAndBackup(data);
        OrionCliTest.Run run = OrionCliTest.run("restore", "--from", backup.toString(), "--data", data.toString(),
                "--config", config().toString(), "--force", "--no-check");
        assertEquals(0, run.status(), run.out() + run.err());
        assertTrue(run.out().contains("until the first open"), run.out());
    }
}
