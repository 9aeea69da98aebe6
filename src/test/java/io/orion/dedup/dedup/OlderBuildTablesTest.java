package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaTxn;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/**
 * An older build (format 1 or 2) opening a converted pool creates the old tables {@code blocks} and
 * {@code index} (empty) before it reads the format and refuses. The next open by this build took
 * them for an unconverted pool and "converted" them: it emptied the block map and the fingerprint
 * index, and every block then read as zeros with GOOD status. Now an empty old table in a converted
 * pool is dropped, and a non-empty one refuses the open.
 */
class OlderBuildTablesTest {
    @TempDir
    Path dir;

    private byte[] fill() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.createVolume("a", 4096, 1024L * 4096, 4096);
            ByteBuffer buf = ByteBuffer.allocate(256 * 4096);
            for (int i = 0; i < 256; i++) {
                buf.put(PoolFixture.random(i % 200, 4096));
            }
            a.write(0, buf.flip(), false);
            return PoolFixture.read(a, 0, 256).array();
        }
    }

    /** What an older build's environment open does: create the tables it knows, empty. */
    private void openAsAnOlderBuild(boolean putAnEntry) {
        try (Env<ByteBuffer> env = Env.create().setMapSize(256L << 20).setMaxDbs(16).open(dir.resolve("meta").toFile())) {
            Dbi<ByteBuffer> blocks = env.openDbi("blocks", DbiFlags.MDB_CREATE);
            env.openDbi("index", DbiFlags.MDB_CREATE);
            env.openDbi("chunks", DbiFlags.MDB_CREATE);
            if (putAnEntry) {
                try (Txn<ByteBuffer> t = env.txnWrite()) {
                    ByteBuffer k = ByteBuffer.allocateDirect(12).putInt(1).putLong(7).flip();
                    ByteBuffer v = ByteBuffer.allocateDirect(12).putLong(1).putInt(0).flip();
                    blocks.put(t, k, v);
                    t.commit();
                }
            }
        }
    }

    private List<String> tables() {
        try (Env<ByteBuffer> env = Env.create().setMapSize(256L << 20).setMaxDbs(16).open(dir.resolve("meta").toFile())) {
            List<String> names = new ArrayList<>();
            for (byte[] n : env.getDbiNames()) {
                names.add(new String(n, StandardCharsets.UTF_8));
            }
            return names;
        }
    }

    @Test
    void emptyOldTablesInAConvertedPoolAreDroppedAndEveryBlockStillReads() throws Exception {
        byte[] content = fill();
        long chunks;
        try (DedupPool pool = PoolFixture.open(dir)) {
            chunks = pool.stats(false).uniqueChunks();
        }
        openAsAnOlderBuild(false);
        assertTrue(tables().contains("blocks") && tables().contains("index") && tables().contains("chunks"),
                tables().toString());
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume a = pool.openVolume("a").orElseThrow();
            assertArrayEquals(content, PoolFixture.read(a, 0, 256).array());
            assertEquals(chunks, pool.stats(false).uniqueChunks());
            try (MetaTxn t = pool.meta().read()) {
                assertEquals(io.orion.dedup.meta.PoolCounters.FORMAT_VERSION, t.counters().formatVersion());
            }
            // and it still dedups through the index
            a.write(300, ByteBuffer.wrap(PoolFixture.random(5, 4096)), false);
            assertEquals(chunks, pool.stats(false).uniqueChunks());
        }
        assertTrue(!tables().contains("blocks") && !tables().contains("index") && !tables().contains("chunks"),
                tables().toString());
    }

    @Test
    void aNonEmptyOldTableInAConvertedPoolRefusesTheOpen() throws Exception {
        byte[] content = fill();
        openAsAnOlderBuild(true);
        // refused (the stray entry also fails its CRC, so the open-time check reports damage first),
        // and nothing of the converted tables was touched
        IOException e = assertThrows(IOException.class, () -> PoolFixture.open(dir).close());
        assertTrue(e.getMessage().contains("old table 'blocks'") || e.getMessage().contains("format " + io.orion.dedup.meta.PoolCounters.FORMAT_VERSION),
                e.getMessage());
        try (Env<ByteBuffer> env = Env.create().setMapSize(256L << 20).setMaxDbs(16).open(dir.resolve("meta").toFile())) {
            Dbi<ByteBuffer> blocks = env.openDbi("blocks");
            try (Txn<ByteBuffer> t = env.txnWrite()) {
                blocks.drop(t, true);
                t.commit();
            }
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertArrayEquals(content, PoolFixture.read(pool.openVolume("a").orElseThrow(), 0, 256).array());
        }
    }
}
