package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clean stop seals data.mdb ({@link CleanSeal}): the next open checks only the file's top and
 * not every page, with the data all there. A byte written into the file right after the stop (in
 * the same clock tick), a file copied back over itself, a damaged seal and a stop that was not
 * clean all lead to the full check, which finds what a damaged key would otherwise hide.
 */
class CleanSealTest {
    @TempDir
    Path dir;

    private static final long N = MetaTxn.PAGE_ENTRIES;

    /** One mapped block on every other block-map page (block i x N maps to chunk i + 1), sealed. */
    private void writeAndStopCleanly() {
        MetaStore m = null;
        try {
            m = MetaStore.open(dir, 64L << 20);
            try (MetaWriteTxn w = m.write()) {
                for (int i = 0; i < 100; i += 2) {
                    w.putBlock(1, i * N, i + 1);
                }
                w.commit();
            }
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        } finally {
            if (m != null) {
                m.closeClean();
            }
        }
    }

    @Test
    void sealedFileOpensWithoutReadingEveryPage() throws Exception {
        writeAndStopCleanly();
        assertTrue(Files.exists(dir.resolve(CleanSeal.FILE)));
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertFalse(m.lastCheck().everyPage(), "a sealed file's pages are not all read");
            assertTrue(m.damage().isEmpty(), m.damage().problems().toString());
            assertFalse(Files.exists(dir.resolve(CleanSeal.FILE)), "the seal is gone while the store is open");
            try (MetaTxn t = m.read()) {
                for (int i = 0; i < 100; i += 2) {
                    assertEquals(i + 1, t.block(1, i * N));
                }
            }
        }
        // a stop that was not clean (plain close: a crash leaves no seal either) is checked in full
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertTrue(m.lastCheck().everyPage());
        }
    }

    @Test
    void aKeyDamagedRightAfterTheCleanStopIsFound() throws Exception {
        writeAndStopCleanly();
        // at once (same clock tick as the seal, or the next): page 40's key becomes page 41's,
        // which keeps the leaf in order; only the full check's CRC sees it
        long pos = LmdbVerifierTest.find(dir.resolve("data.mdb"), new byte[] {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 40});
        try (FileChannel ch = FileChannel.open(dir.resolve("data.mdb"), StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {41}), pos + 11);
        }
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertTrue(m.lastCheck().everyPage(), "a file written since its seal is checked in full");
            assertEquals(1, m.damage().problems().size(), m.damage().problems().toString());
            try (MetaTxn t = m.read()) {
                assertThrows(MetaCorruptException.class, () -> t.block(1, 40 * N), "not read as unmapped");
                assertEquals(39, t.block(1, 38 * N));
            }
        }
    }

    @Test
    void aFileCopiedBackOrADamagedSealIsCheckedInFull() throws Exception {
        writeAndStopCleanly();
        Path copy = dir.resolveSibling(dir.getFileName() + ".copy");
        Files.copy(dir.resolve("data.mdb"), copy, StandardCopyOption.COPY_ATTRIBUTES);
        Files.move(copy, dir.resolve("data.mdb"), StandardCopyOption.REPLACE_EXISTING);
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertTrue(m.lastCheck().everyPage(), "another inode, same bytes and times: checked in full");
            assertTrue(m.damage().isEmpty());
            m.closeClean();
        }
        byte[] seal = Files.readAllBytes(dir.resolve(CleanSeal.FILE));
        seal[20] ^= 1;
        Files.write(dir.resolve(CleanSeal.FILE), seal);
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            assertTrue(m.lastCheck().everyPage(), "a damaged seal vouches for nothing");
        }
    }
}
