package io.orion.dedup.dedup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.meta.MetaCrossCheck;
import io.orion.dedup.meta.MetaTxn;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A power loss between two flushes, in the default mode (no durable commits, LMDB MDB_NOSYNC): the
 * disk may keep LMDB's newer meta page but not the pages it names. The pool must open at the last
 * flush, with every flushed block intact, nothing inconsistent and the pool writable (see
 * {@code FlushedMeta}). The files are rewritten in place (same inodes), as the disk would hold them
 * after the power came back; the restart is a new boot (another boot id).
 */
class PowerLossTest {
    static final int BLOCKS = 256;

    @TempDir
    Path dir;
    Path bootFile;

    @BeforeEach
    void boot() throws Exception {
        bootFile = dir.resolve("boot_id");
        Files.writeString(bootFile, UUID.randomUUID() + "\n");
        System.setProperty("orion.boot-id-file", bootFile.toString());
    }

    @AfterEach
    void noBoot() {
        System.clearProperty("orion.boot-id-file");
    }

    void reboot() throws Exception {
        Files.writeString(bootFile, UUID.randomUUID() + "\n");
    }

    /** What the disk holds of each file at some instant. */
    record Disk(byte[] mdb, byte[] device, byte[] flushedMeta) {
    }

    Path mdb() {
        return dir.resolve("meta/data.mdb");
    }

    Path device() {
        return dir.resolve("data/dev0.img");
    }

    Disk disk() throws Exception {
        Path fm = dir.resolve("meta/flushed.meta");
        return new Disk(Files.readAllBytes(mdb()), Files.readAllBytes(device()),
                Files.exists(fm) ? Files.readAllBytes(fm) : null);
    }

    /** Rewrites {@code file} in place (same inode) with {@code bytes}. */
    static void overwrite(Path file, byte[] bytes) throws Exception {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(bytes.length);
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b, b.position());
            }
        }
    }

    /**
     * Runs {@link PowerLossChild} to the point where generation 2 is written but not flushed, with
     * the disk state at its flush and at the end; then kills it.
     */
    Disk[] crash() throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaBin, "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dorion.flushEveryMillis=600000", "-Dorion.boot-id-file=" + bootFile,
                "-cp", System.getProperty("java.class.path"), PowerLossChild.class.getName(), dir.toString(),
                Integer.toString(BLOCKS)));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
             OutputStream w = p.getOutputStream()) {
            assertEquals("FLUSHED", r.readLine());
            Disk atFlush = disk();
            w.write('\n');
            w.flush();
            assertEquals("WRITTEN", r.readLine());
            Disk atEnd = disk();
            return new Disk[] {atFlush, atEnd};
        } finally {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    static void checkGeneration(DedupPool pool, int blocksOfGen1, boolean gen2) throws Exception {
        DedupVolume v = pool.openVolume("lun").orElseThrow();
        for (long lba = 0; lba < 2L * BLOCKS; lba++) {
            byte[] want;
            if (gen2 && (lba >= BLOCKS || lba % 2 == 0)) {
                want = PowerLossChild.content(lba, 2);
            } else if (lba < blocksOfGen1) {
                want = PowerLossChild.content(lba, 1);
            } else {
                want = new byte[4096];
            }
            assertArrayEquals(want, PoolFixture.read(v, lba, 1).array(), "block " + lba);
        }
        try (MetaTxn t = pool.meta().read()) {
            MetaCrossCheck.Report r = MetaCrossCheck.run(t);
            assertTrue(r.problems().isEmpty(), r.problems().toString());
        }
    }

    static void writable(DedupPool pool) throws Exception {
        DedupVolume v = pool.openVolume("lun").orElseThrow();
        byte[] b = PoolFixture.random(77, 4096);
        v.write(3 * BLOCKS, ByteBuffer.wrap(b), false);
        pool.flush();
        assertArrayEquals(b, PoolFixture.read(v, 3 * BLOCKS, 1).array());
    }

    @Test
    void aPowerLossThatKeptTheNewerMetaPagesButNotTheirPagesOpensAtTheLastFlush() throws Exception {
        Disk[] d = crash();
        // the worst order of write-back: LMDB's two meta pages of the newer state reached the disk,
        // none of the pages they name did, nor any record written to the device after the flush
        int ps = 4096;
        byte[] mdb = d[0].mdb().length >= d[1].mdb().length ? d[0].mdb().clone()
                : java.util.Arrays.copyOf(d[0].mdb(), d[1].mdb().length);
        System.arraycopy(d[1].mdb(), 0, mdb, 0, 2 * ps);
        overwrite(mdb(), mdb);
        overwrite(device(), d[0].device());
        if (d[0].flushedMeta() != null) {
            overwrite(dir.resolve("meta/flushed.meta"), d[0].flushedMeta());
        }
        reboot();
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertNull(pool.readOnlyReason());
            checkGeneration(pool, BLOCKS, false);
            writable(pool);
        }
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertNull(pool.readOnlyReason());
            checkGeneration(pool, BLOCKS, false);
        }
    }

    @Test
    void aPowerLossThatKeptEverythingWrittenAfterTheFlushAlsoOpensAtTheLastFlush() throws Exception {
        Disk[] d = crash();
        // the kernel had written everything back: the newer state is on disk whole; the rollback to
        // the flush is still consistent (its pages were never reused)
        overwrite(mdb(), d[1].mdb());
        overwrite(device(), d[1].device());
        reboot();
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertNull(pool.readOnlyReason());
            checkGeneration(pool, BLOCKS, false);
            writable(pool);
        }
    }

    @Test
    void aProcessCrashOnTheSameBootKeepsWhatWasCommitted() throws Exception {
        crash();
        // kill -9 only: the page cache kept every write; no rollback on the same boot
        try (DedupPool pool = PoolFixture.open(dir)) {
            assertNull(pool.readOnlyReason());
            checkGeneration(pool, BLOCKS, true);
        }
    }

    /** Unique blocks written without any flush; returns data.mdb's used bytes afterwards. */
    long ingestWithoutFlush(Path where, boolean durableCommits, int blocks) throws Exception {
        try (DedupPool pool = DedupPool.open(PoolFixture.options(where).containerSize(8 << 20)
                .metadataMapSize(1L << 30).durableCommits(durableCommits).build())) {
            DedupVolume v = pool.createVolume("lun", 4096, (long) blocks * 4096, 4096);
            byte[] b = new byte[64 * 4096];
            java.util.Random r = new java.util.Random(11);
            for (int lba = 0; lba < blocks; lba += 64) {
                r.nextBytes(b);
                v.write(lba, ByteBuffer.wrap(b), false);
            }
            return pool.meta().fileSize();
        }
    }

    @Test
    void theStateHeldForAPowerLossDoesNotMakeTheMetadataFileGrowWithoutBound() throws Exception {
        // the pinned flushed state keeps LMDB from reusing pages until the next flush; with no
        // initiator flush in sight the committer flushes after 8192 block operations (here 512),
        // each dirtying at most about 3 pages: the file holds at most two such windows more than
        // without the held state (with only the 5 s bound, this ingest grew data.mdb sixfold)
        int ops = 512;
        System.setProperty("orion.flushEveryOps", Integer.toString(ops));
        try {
            int blocks = 24_000;
            long pinned = ingestWithoutFlush(dir.resolve("a"), false, blocks);
            long unpinned = ingestWithoutFlush(dir.resolve("b"), true, blocks);
            assertTrue(pinned <= unpinned + 2L * ops * 3 * 4096,
                    "data.mdb " + pinned + " bytes with the flushed state held, " + unpinned + " without");
        } finally {
            System.clearProperty("orion.flushEveryOps");
        }
    }

    @Test
    void aCleanStopThenARestartOfTheMachineRollsNothingBack() throws Exception {
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.createVolume("lun", 4096, 4L * BLOCKS * 4096L, 4096);
            for (long lba = 0; lba < 2L * BLOCKS; lba++) {
                v.write(lba, ByteBuffer.wrap(PowerLossChild.content(lba, lba < BLOCKS ? 1 : 2)), false);
            }
        }
        reboot();
        try (DedupPool pool = PoolFixture.open(dir)) {
            DedupVolume v = pool.openVolume("lun").orElseThrow();
            for (long lba = 0; lba < 2L * BLOCKS; lba++) {
                assertArrayEquals(PowerLossChild.content(lba, lba < BLOCKS ? 1 : 2), PoolFixture.read(v, lba, 1).array(),
                        "block " + lba);
            }
        }
    }
}
