package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.scsi.PrStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file store of a file volume's persistent reservations: replaced whole, private, removable. */
class VolumePrStoresTest {
    @TempDir
    Path data;

    @Test
    void fileStoreKeepsTheLastImageAndRemovesIt() throws Exception {
        Path file = VolumePrStores.file(data, "vol-1");
        assertEquals(data.resolve("reservations/vol-1.pr"), file);
        PrStore store = VolumePrStores.file(file);
        assertTrue(store.persistent());
        assertNull(store.load(), "nothing saved yet");
        store.save(new byte[] {1, 2, 3, 4, 5, 6});
        store.save(new byte[] {9, 8, 7});
        assertArrayEquals(new byte[] {9, 8, 7}, VolumePrStores.file(file).load(), "a new store reads the last image");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        try (var files = Files.list(file.getParent())) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
        store.save(null);
        assertFalse(Files.exists(file));
        assertNull(store.load());
        store.save(null); // removing nothing is fine
    }
}
