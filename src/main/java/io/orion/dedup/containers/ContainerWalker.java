package io.orion.dedup.containers;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Walks the records of one container slot in order, reading it sequentially in large pieces:
 * chunk records ({@link RecordFormat}) and journal records ({@link JournalFormat}), each checked
 * (CRC32C) before it is handed on. The walk stops at the first bytes that are not a whole, valid
 * record: zeros (the container's end) or anything else (a torn tail).
 */
public final class ContainerWalker {
    private static final int READ = 1 << 20;

    /** Receives the records of a walk; the buffers are views valid only during the call. */
    public interface Visitor {
        /** A valid chunk record at {@code offset} (header and payload). */
        void chunk(long offset, ByteBuffer record) throws IOException;

        /** A valid journal record at {@code offset}. */
        void journal(long offset, ByteBuffer record) throws IOException;
    }

    /**
     * How a walk ended.
     *
     * @param end offset just past the last valid record
     * @param torn bytes after {@code end} that are not zeros up to the first zero (a torn or
     *        unreadable record), 0 when the container simply ends there
     * @param why what stopped the walk when it was torn, else null
     * @param scanned bytes read
     */
    public record Result(long end, long torn, String why, long scanned) {
    }

    private ContainerWalker() {
    }

    /** Walks the slot at {@code base} of {@code dev} from {@code from} up to {@code limit} bytes into it. */
    public static Result walk(BackingDevice dev, long base, long from, long limit, Visitor v) throws IOException {
        long fileLimit = limit;
        if (dev.regularFile()) {
            fileLimit = Math.min(limit, Math.max(0, dev.length() - base));
        }
        ByteBuffer buf = ByteBuffer.allocate(READ + 128 * 1024);
        long bufStart = from;
        buf.limit(0);
        long pos = from;
        long scanned = 0;
        while (true) {
            int at = (int) (pos - bufStart);
            int need = JournalFormat.HEADER;
            if (buf.limit() - at < RecordFormat.HEADER) {
                // refill: keep the unread bytes, read more
                int kept = buf.limit() - at;
                buf = refill(dev, base, buf, at, pos, fileLimit);
                scanned += buf.limit() - kept;
                bufStart = pos;
                at = 0;
            }
            int avail = buf.limit() - at;
            if (avail < need) {
                return new Result(pos, nonZero(buf, at), avail == 0 ? null : "short record header", scanned);
            }
            ByteBuffer view = buf.duplicate().position(at);
            int magic = view.getInt(at);
            int len;
            boolean journal;
            if (magic == RecordFormat.MAGIC) {
                len = avail >= RecordFormat.HEADER ? RecordFormat.announcedLength(view) : -1;
                journal = false;
            } else if (magic == JournalFormat.MAGIC) {
                len = JournalFormat.announcedLength(view);
                journal = true;
            } else {
                long torn = nonZero(buf, at);
                return new Result(pos, torn, torn == 0 ? null : "no record magic", scanned);
            }
            if (len < 0 || pos + len > limit) {
                return new Result(pos, Math.max(1, nonZero(buf, at)), "implausible record length", scanned);
            }
            if (avail < len) {
                if (len > buf.capacity()) {
                    return new Result(pos, nonZero(buf, at), "record larger than the read buffer", scanned);
                }
                // read on, keeping this record's start
                int kept = buf.limit() - at;
                buf = refill(dev, base, buf, at, pos, fileLimit);
                scanned += buf.limit() - kept;
                bufStart = pos;
                if (buf.limit() < len) {
                    return new Result(pos, Math.max(1, nonZero(buf, 0)), "record cut short", scanned);
                }
                continue;
            }
            ByteBuffer rec = buf.duplicate().position(at).limit(at + len);
            String bad = journal ? JournalFormat.check(rec) : RecordFormat.check(rec, -1);
            if (bad != null) {
                return new Result(pos, Math.max(1, nonZero(buf, at)), bad, scanned);
            }
            if (journal) {
                v.journal(pos, rec.slice());
            } else {
                v.chunk(pos, rec.slice());
            }
            pos += len;
        }
    }

    /**
     * A fresh buffer (flipped for reading) holding the unread bytes of {@code buf} from {@code at},
     * which lie at offset {@code pos} of the slot, followed by as many more bytes of the slot as fit
     * (none past {@code fileLimit}; a file that ends early leaves what was read).
     */
    private static ByteBuffer refill(BackingDevice dev, long base, ByteBuffer buf, int at, long pos, long fileLimit)
            throws IOException {
        ByteBuffer nb = ByteBuffer.allocate(buf.capacity());
        nb.put(buf.duplicate().position(at).slice());
        long readFrom = pos + nb.position();
        int want = (int) Math.min(nb.remaining(), Math.max(0, fileLimit - readFrom));
        if (want > 0) {
            ByteBuffer dst = nb.duplicate().limit(nb.position() + want);
            try {
                dev.read(dst, base + readFrom);
            } catch (EOFException e) {
                // the file ends: what was read stays
            }
            nb.position(dst.position());
        }
        return nb.flip();
    }

    /** Bytes from {@code at} up to the last non-zero byte in what was read (0 when all zeros). */
    private static long nonZero(ByteBuffer buf, int at) {
        for (int i = buf.limit() - 1; i >= at; i--) {
            if (buf.get(i) != 0) {
                return i + 1 - at;
            }
        }
        return 0;
    }
}
