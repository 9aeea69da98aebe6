package io.orion.dedup.meta;

import io.orion.dedup.blockdev.PrivateFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.UUID;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state of {@code data.mdb} at the last flush, kept so that a power loss can never leave the
 * metadata inconsistent (issue 14, "Power loss").
 *
 * <p>Why: the environment runs with MDB_NOSYNC, so between two flushes LMDB's writes (its pages,
 * then its meta page) reach the disk in whatever order the kernel writes them back. After a power
 * loss the disk may hold a meta page whose pages never arrived, or pages of the flushed state
 * overwritten by a later transaction that reused them: a tree LMDB would walk into garbage.
 *
 * <p>How, in the manner of a journal's checkpoint: at every flush, once {@code data.mdb} is synced,
 * its two meta pages (the newest names the flushed transaction) are written to {@code flushed.meta}
 * (two slots, each with a sequence number and a CRC32C, written in turn and fsynced), and a read
 * transaction is held on that transaction until the next flush: LMDB never reuses a page a reader
 * can see, so every page of the flushed state stays as it was on disk. At open, if the server did
 * not stop cleanly and the machine restarted since that flush (the boot id differs: a process
 * crash keeps everything in the page cache, a power loss or a kernel crash does not), the two meta
 * pages are written back: LMDB then opens exactly the flushed state, whose pages are all intact.
 * Writes acknowledged after the last flush may be lost, as on any disk with a volatile write
 * cache; nothing flushed is, and nothing reads back inconsistent.
 *
 * <p>The saved pages belong to one file: the slot records {@code data.mdb}'s inode, and a pool whose
 * {@code data.mdb} is created afresh (a new pool, {@code recover}, {@code restore}) drops the file.
 */
public final class FlushedMeta {
    private static final Logger LOG = LoggerFactory.getLogger(FlushedMeta.class);
    /** File name, in the metadata directory. */
    public static final String FILE = "flushed.meta";
    private static final int MAGIC = 0x4f52464d; // "ORFM"
    private static final int VERSION = 1;
    private static final int HEADER = 64;
    /** Distance between the two slots (room for two 4 KiB pages; larger pages use a wider stride). */
    static int stride(int pageSize) {
        return HEADER + 2 * pageSize;
    }
    /** Where the boot id is read (a system property lets a test simulate a restart). */
    static final String BOOT_ID_PROPERTY = "orion.boot-id-file";

    /** One saved flush: the two meta pages of {@code data.mdb} when transaction {@code txnId} was synced. */
    record Saved(long seq, UUID bootId, long inode, long txnId, int pageSize, byte[] pages, int slot, int mainRootCrc,
                 int freeRootCrc) {
    }

    private final Path file;
    private FileChannel channel;
    private long seq;
    private int nextSlot;

    private final int pageSize;

    private FlushedMeta(Path file, int pageSize) {
        this.file = file;
        this.pageSize = pageSize;
    }

    /** The id of this boot of the machine, or null when it cannot be read. */
    static UUID bootId() {
        Path p = Path.of(System.getProperty(BOOT_ID_PROPERTY, "/proc/sys/kernel/random/boot_id"));
        try {
            return UUID.fromString(Files.readString(p, StandardCharsets.US_ASCII).trim());
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
    }

    static long inode(Path mdb) throws IOException {
        Object ino = Files.getAttribute(mdb, "unix:ino");
        return ((Number) ino).longValue();
    }

    /** The newest valid slot of {@code file}, or null. */
    static Saved read(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        Saved best = null;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            // the slot stride follows the page size, which slot 0 names (or, torn, the file's length)
            int ps = pageSizeOf(ch);
            for (int slot = 0; slot < 2; slot++) {
                Saved s = readSlot(ch, slot, ps);
                if (s != null && (best == null || s.seq() > best.seq())) {
                    best = s;
                }
            }
        }
        return best;
    }

    private static int pageSizeOf(FileChannel ch) throws IOException {
        long size = ch.size();
        return (int) Math.max(512, Math.min(65536, Long.highestOneBit(Math.max(1, (size / 2 - HEADER) / 2))));
    }

    private static Saved readSlot(FileChannel ch, int slot, int ps) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, h, (long) slot * stride(ps));
        if (h.hasRemaining() || h.getInt(0) != MAGIC || h.getInt(4) != VERSION || h.getInt(48) != ps) {
            return null;
        }
        ByteBuffer pages = ByteBuffer.allocate(2 * ps);
        readFully(ch, pages, (long) slot * stride(ps) + HEADER);
        if (pages.hasRemaining()) {
            return null;
        }
        if (h.getInt(60) != crc(h, pages.array())) {
            return null;
        }
        return new Saved(h.getLong(8), new UUID(h.getLong(16), h.getLong(24)), h.getLong(32), h.getLong(40), ps,
                pages.array(), slot, h.getInt(52), h.getInt(56));
    }

    private static int crc(ByteBuffer header, byte[] pages) {
        CRC32C c = new CRC32C();
        c.update(header.array(), 0, 60);
        c.update(pages);
        return (int) c.getValue();
    }

    /** Root page numbers of the free and main databases named by meta page {@code page}. */
    static long[] roots(byte[] pages, int pageSize, int page) {
        ByteBuffer m = ByteBuffer.wrap(pages, page * pageSize, pageSize).slice().order(ByteOrder.LITTLE_ENDIAN);
        return new long[] {m.getLong(40 + 40), m.getLong(88 + 40)};
    }

    /** CRC32C of page {@code pgno} of {@code ch} (0 for no page). */
    static int pageCrc(FileChannel ch, long pgno, int pageSize) throws IOException {
        if (pgno < 2) {
            return 0;
        }
        ByteBuffer b = ByteBuffer.allocate(pageSize);
        readFully(ch, b, pgno * pageSize);
        CRC32C c = new CRC32C();
        c.update(b.array(), 0, b.position());
        return (int) c.getValue();
    }

    /** The newer of the two meta pages (0 or 1). */
    static int newer(byte[] pages, int pageSize) {
        return txnId(pages, pageSize, 1) > txnId(pages, pageSize, 0) ? 1 : 0;
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, at + b.position());
            if (n < 0) {
                return;
            }
        }
    }

    /** Transaction id of an LMDB meta page (64-bit layout), or -1 when it is not one. */
    static long txnId(byte[] pages, int pageSize, int page) {
        ByteBuffer m = ByteBuffer.wrap(pages, page * pageSize, pageSize).slice().order(ByteOrder.LITTLE_ENDIAN);
        if (m.getLong(0) != page || (m.getShort(10) & 0xffff) != 0x08 || m.getInt(16) != LmdbVerifier.MAGIC
                || m.getInt(40) != pageSize) {
            return -1;
        }
        return m.getLong(144);
    }

    /**
     * At open, before LMDB maps {@code data.mdb} of {@code dir}: rolls the file back to the last
     * flush when the server did not stop cleanly and the machine restarted since (see the class
     * comment). Returns the transaction id rolled back to, or -1 when nothing was written.
     */
    static long rollBackAfterPowerLoss(Path dir) throws IOException {
        Path mdb = dir.resolve("data.mdb");
        Path f = dir.resolve(FILE);
        if (!Files.exists(mdb)) {
            // a new file (new pool, recover, restore): a saved state of an older file must never apply
            remove(dir);
            return -1;
        }
        Saved s = read(f);
        if (s == null) {
            return -1;
        }
        UUID boot = bootId();
        if (boot == null) {
            LOG.warn("{}: cannot read the boot id ({}): a power loss since the last flush cannot be told from a"
                    + " process crash, nothing is rolled back", f, System.getProperty(BOOT_ID_PROPERTY,
                    "/proc/sys/kernel/random/boot_id"));
            return -1;
        }
        if (boot.equals(s.bootId())) {
            // same boot: a process crash left every write in the page cache
            return -1;
        }
        if (inode(mdb) != s.inode()) {
            LOG.warn("{}: saved for another data.mdb (inode {}, now {}); ignored and removed", f, s.inode(),
                    inode(mdb));
            remove(dir);
            return -1;
        }
        int ps = s.pageSize();
        byte[] now = new byte[2 * ps];
        try (FileChannel ch = FileChannel.open(mdb, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(now);
            readFully(ch, b, 0);
            if (Arrays.equals(now, s.pages())) {
                return -1; // nothing committed after the last flush (a clean stop ends with one)
            }
            long current = Math.max(txnId(now, ps, 0), txnId(now, ps, 1));
            if (current >= 0 && current < s.txnId()) {
                LOG.warn("{}: data.mdb is at transaction {}, older than the flushed state {}; not rolled back",
                        mdb, current, s.txnId());
                return -1;
            }
            // the flushed state's root pages were kept as they were (pinned until the next flush): if
            // they differ, this is not the file the state was saved for (copied over in place)
            long[] roots = roots(s.pages(), ps, newer(s.pages(), ps));
            if (pageCrc(ch, roots[0], ps) != s.freeRootCrc() || pageCrc(ch, roots[1], ps) != s.mainRootCrc()) {
                LOG.warn("{}: the root pages of the flushed state (transaction {}) are not in data.mdb: it is not"
                        + " the file that state was saved for; not rolled back, saved state removed", f, s.txnId());
                remove(dir);
                return -1;
            }
            ByteBuffer w = ByteBuffer.wrap(s.pages());
            while (w.hasRemaining()) {
                ch.write(w, w.position());
            }
            ch.force(true);
            LOG.warn("metadata in {}: the server did not stop cleanly and the machine restarted since (boot id {}"
                    + " then, {} now): rolled back to the last flush (transaction {}; the file was at {}); writes"
                    + " acknowledged after that flush and not flushed since are not in it", dir, s.bootId(), boot,
                    s.txnId(), current < 0 ? "a damaged meta page" : current);
            return s.txnId();
        }
    }

    /** Opens (creating) the file of {@code dir} for saving flushes. */
    static FlushedMeta open(Path dir, int pageSize) throws IOException {
        FlushedMeta m = new FlushedMeta(dir.resolve(FILE), pageSize);
        Saved s = read(m.file);
        if (s != null && s.pageSize() == pageSize) {
            m.seq = s.seq();
            m.nextSlot = 1 - s.slot();
        }
        m.channel = PrivateFiles.open(m.file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        // a flush may run on a thread that is interrupted meanwhile (the cleanup timer when the pool
        // closes): an interrupted write would close the channel, and every later flush would fail
        io.orion.dedup.blockdev.UninterruptibleChannels.apply(m.channel);
        try {
            // both slots allocated now: a later save overwrites in place and needs no new space (a
            // flush on a full file system must not fail for want of it)
            long size = m.channel.size();
            long want = 2L * stride(pageSize);
            if (size != want) {
                m.channel.truncate(Math.min(size, want));
                size = Math.min(size, want);
            }
            if (size < want) {
                ByteBuffer zeros = ByteBuffer.allocate((int) (want - size));
                while (zeros.hasRemaining()) {
                    m.channel.write(zeros, size + zeros.position());
                }
                m.channel.force(true);
            }
        } catch (IOException e) {
            m.close();
            throw e;
        }
        return m;
    }

    /**
     * Saves the two meta pages {@code pages} of {@code mdb}, whose newest names transaction
     * {@code txnId} (synced by the caller), into the older slot, and fsyncs it.
     */
    void save(Path mdb, FileChannel data, long txnId, byte[] pages) throws IOException {
        UUID boot = bootId();
        long[] roots = roots(pages, pageSize, newer(pages, pageSize));
        ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(0, MAGIC).putInt(4, VERSION).putLong(8, seq + 1);
        h.putLong(16, boot == null ? 0 : boot.getMostSignificantBits())
                .putLong(24, boot == null ? 0 : boot.getLeastSignificantBits());
        h.putLong(32, inode(mdb)).putLong(40, txnId).putInt(48, pageSize);
        h.putInt(52, pageCrc(data, roots[1], pageSize)).putInt(56, pageCrc(data, roots[0], pageSize));
        h.putInt(60, crc(h, pages));
        long at = (long) nextSlot * stride(pageSize);
        ByteBuffer all = ByteBuffer.allocate(HEADER + pages.length);
        all.put(h.array()).put(pages).flip();
        while (all.hasRemaining()) {
            channel.write(all, at + all.position());
        }
        channel.force(false);
        seq++;
        nextSlot = 1 - nextSlot;
    }

    void close() {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.warn("closing {}: {}", file, e.toString());
        }
    }

    /**
     * Removes the file of {@code dir}, durably (the directory is synced: a removal a power loss
     * undid could roll a later file back).
     */
    public static void remove(Path dir) throws IOException {
        if (Files.deleteIfExists(dir.resolve(FILE))) {
            io.orion.dedup.config.AtomicFiles.syncDirectory(dir);
        }
    }
}
