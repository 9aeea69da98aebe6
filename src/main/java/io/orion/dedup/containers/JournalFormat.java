package io.orion.dedup.containers;

import io.orion.dedup.dedup.DedupMode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * Byte layout of one journal record inside a container (see docs/on-disk-format.md, "Journal
 * records"). Journal records share the containers' append stream with the chunk records and
 * describe the metadata changes of one commit, so the whole metadata can be rebuilt from the
 * devices alone:
 *
 * <pre>
 *  off len field
 *    0   4 magic "ORCJ" (0x4F52434A)
 *    4   1 version (1)
 *    5   1 type: 1 = changes, 2 = volume catalogue, 3 = void
 *    6   2 reserved, zero
 *    8   8 sequence number (the later one wins)
 *   16   4 payload length
 *   20   4 entry count
 *   24   4 reserved, zero
 *   28   4 CRC32C over bytes 0..27 and the payload
 *   32   n payload
 * </pre>
 *
 * Changes entries: tag 1 (block-map run) volume u32 ‖ first dedup block u64 ‖ count u32 ‖ count
 * × chunk id u64 ({@link #ZERO} = written as zeros, {@link #UNMAPPED} = unmapped); tag 2 (chunk
 * location) chunk id u64 ‖ container u32 ‖ offset u32 ‖ length u32; tag 3 (uniform range: an
 * UNMAP, a WRITE SAME of zeros, a deletion) volume u32 ‖ first dedup block u64 ‖ count u64 ‖ kind
 * u8 (0 = unmapped, 1 = zero), one entry of 22 bytes however many blocks it covers. Catalogue: next volume id
 * u32 ‖ count u32 ‖ per volume id u32 ‖ UUID 16 ‖ logical block size u32 ‖ dedup block size u32 ‖
 * capacity u64 ‖ flags u8 (bit 0 read-only, bits 1-2 dedup mode: 0 inline, 1 post, 2 off) ‖ origin time u64 ‖ name length u16 ‖ name ‖ origin
 * length u16 (0xFFFF: none) ‖ origin. Void: the sequence number of a journal record whose commit
 * failed (its changes never happened). All integers are big-endian.
 */
public final class JournalFormat {
    public static final int MAGIC = 0x4F52434A;
    public static final int VERSION = 1;
    public static final int HEADER = 32;
    public static final int TYPE_CHANGES = 1;
    public static final int TYPE_CATALOGUE = 2;
    public static final int TYPE_VOID = 3;
    public static final int TAG_MAP = 1;
    public static final int TAG_LOCATION = 2;
    public static final int TAG_RANGE = 3;
    /** Bytes of one range entry (tag included). */
    public static final int RANGE_BYTES = 22;
    /**
     * Shortest run of zero or unmapped blocks written as a range entry: a shorter one costs less
     * inline in a block-map run (8 bytes a block).
     */
    public static final int RANGE_MIN = 4;
    /** A block written as zeros. */
    public static final long ZERO = 0;
    /** A block unmapped (or never written). */
    public static final long UNMAPPED = -1;
    /** Largest payload one record carries (bigger change sets are cut into several records). */
    public static final int MAX_PAYLOAD = 8 << 10;
    /** Largest record a walk accepts (a catalogue of many volumes is one record). */
    public static final int MAX_RECORD = 1 << 20;
    private static final int CRC_OFFSET = 28;

    private JournalFormat() {
    }

    /** A record's bytes: header (sealed with its CRC) and payload. */
    public static byte[] encode(int type, long seq, int entries, byte[] payload, int payloadLength) {
        byte[] rec = new byte[HEADER + payloadLength];
        ByteBuffer b = ByteBuffer.wrap(rec).order(ByteOrder.BIG_ENDIAN);
        b.putInt(0, MAGIC);
        b.put(4, (byte) VERSION);
        b.put(5, (byte) type);
        b.putLong(8, seq);
        b.putInt(16, payloadLength);
        b.putInt(20, entries);
        System.arraycopy(payload, 0, rec, HEADER, payloadLength);
        CRC32C crc = new CRC32C();
        crc.update(rec, 0, CRC_OFFSET);
        crc.update(rec, HEADER, payloadLength);
        b.putInt(CRC_OFFSET, (int) crc.getValue());
        return rec;
    }

    /** Total record length announced by a journal header at {@code rec}'s position, or -1 if none. */
    public static int announcedLength(ByteBuffer rec) {
        int p = rec.position();
        if (rec.remaining() < HEADER) {
            return -1;
        }
        ByteBuffer b = rec.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (b.getInt(p) != MAGIC) {
            return -1;
        }
        int payload = b.getInt(p + 16);
        if (payload < 0 || payload > MAX_RECORD - HEADER) {
            return -1;
        }
        return HEADER + payload;
    }

    /** Null when the record at {@code rec}'s position spanning its remaining bytes is whole, else why not. */
    public static String check(ByteBuffer rec) {
        int p = rec.position();
        int n = rec.remaining();
        if (n < HEADER) {
            return "journal record shorter than its header";
        }
        ByteBuffer b = rec.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (b.getInt(p) != MAGIC) {
            return "bad journal magic";
        }
        if (b.get(p + 4) != VERSION) {
            return "unknown journal version " + b.get(p + 4);
        }
        int type = b.get(p + 5);
        if (type < TYPE_CHANGES || type > TYPE_VOID) {
            return "unknown journal record type " + type;
        }
        if (HEADER + b.getInt(p + 16) != n) {
            return "journal record length does not match its header";
        }
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(p).limit(p + CRC_OFFSET));
        crc.update(b.duplicate().position(p + HEADER).limit(p + n));
        if ((int) crc.getValue() != b.getInt(p + CRC_OFFSET)) {
            return "journal CRC32C mismatch";
        }
        return null;
    }

    public static int type(ByteBuffer rec) {
        return rec.get(rec.position() + 5);
    }

    public static long seq(ByteBuffer rec) {
        return rec.duplicate().order(ByteOrder.BIG_ENDIAN).getLong(rec.position() + 8);
    }

    /** The payload of a checked record (a view). */
    public static ByteBuffer payload(ByteBuffer rec) {
        int p = rec.position();
        int len = rec.duplicate().order(ByteOrder.BIG_ENDIAN).getInt(p + 16);
        return rec.duplicate().position(p + HEADER).limit(p + HEADER + len).slice().order(ByteOrder.BIG_ENDIAN);
    }

    /** Receives the entries of a changes record. */
    public interface ChangeVisitor {
        void map(int volume, long dblock, long chunkId);

        void location(long chunkId, int containerId, int offset, int length);

        /**
         * Blocks {@code [first, first + count)} of {@code volume} all became {@code chunkId}
         * ({@link #ZERO} or {@link #UNMAPPED}). By default one {@link #map} call per block; a
         * visitor that holds the maps for a large volume should take the range whole.
         */
        default void range(int volume, long first, long count, long chunkId) {
            for (long i = 0; i < count; i++) {
                map(volume, first + i, chunkId);
            }
        }
    }

    /** Walks a checked changes payload. */
    public static void readChanges(ByteBuffer payload, ChangeVisitor v) {
        ByteBuffer b = payload.duplicate().order(ByteOrder.BIG_ENDIAN);
        while (b.hasRemaining()) {
            int tag = b.get();
            if (tag == TAG_MAP) {
                int vol = b.getInt();
                long first = b.getLong();
                int count = b.getInt();
                for (int i = 0; i < count; i++) {
                    v.map(vol, first + i, b.getLong());
                }
            } else if (tag == TAG_LOCATION) {
                v.location(b.getLong(), b.getInt(), b.getInt(), b.getInt());
            } else if (tag == TAG_RANGE) {
                int vol = b.getInt();
                long first = b.getLong();
                long count = b.getLong();
                int kind = b.get();
                if (count < 0 || first < 0 || (kind != 0 && kind != 1)) {
                    throw new IllegalArgumentException("bad journal range entry (count " + count + ", kind " + kind + ")");
                }
                v.range(vol, first, count, kind == 1 ? ZERO : UNMAPPED);
            } else {
                throw new IllegalArgumentException("unknown journal entry tag " + tag);
            }
        }
    }

    /** One volume as the catalogue journals it (its block counters are derived from the map). */
    public record CatalogueEntry(int id, String name, UUID uuid, int logicalBlockSize, int dedupBlockSize,
                                 long capacityBytes, boolean readOnly, String origin, long originMillis,
                                 DedupMode dedupMode) {
        public CatalogueEntry {
            if (dedupMode == null) {
                dedupMode = DedupMode.INLINE;
            }
        }

        /** An entry of a volume that deduplicates inline. */
        public CatalogueEntry(int id, String name, UUID uuid, int logicalBlockSize, int dedupBlockSize,
                              long capacityBytes, boolean readOnly, String origin, long originMillis) {
            this(id, name, uuid, logicalBlockSize, dedupBlockSize, capacityBytes, readOnly, origin, originMillis,
                    DedupMode.INLINE);
        }
    }

    /** Flags bits 1-2 of a catalogue entry and of a version 2 volume value: the dedup mode. */
    public static final int MODE_SHIFT = 1;
    public static final int MODE_MASK = 3 << MODE_SHIFT;

    /** The code of a dedup mode in the flags (0 inline, 1 post-process, 2 off). */
    public static int modeCode(DedupMode m) {
        return switch (m == null ? DedupMode.INLINE : m) {
            case INLINE -> 0;
            case POST -> 1;
            case OFF -> 2;
        };
    }

    /** The dedup mode of code {@code c} (see {@link #modeCode}), or null for an unknown code. */
    public static DedupMode mode(int c) {
        return switch (c) {
            case 0 -> DedupMode.INLINE;
            case 1 -> DedupMode.POST;
            case 2 -> DedupMode.OFF;
            default -> null;
        };
    }

    /** The whole volume catalogue, and the next volume id (ids are never reused). */
    public record Catalogue(int nextVolumeId, List<CatalogueEntry> volumes) {
    }

    public static byte[] encodeCatalogue(Catalogue c) {
        ByteBuffer b = ByteBuffer.allocate(8 + c.volumes().size() * 460).order(ByteOrder.BIG_ENDIAN);
        b.putInt(c.nextVolumeId()).putInt(c.volumes().size());
        for (CatalogueEntry e : c.volumes()) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            byte[] origin = e.origin() == null ? null : e.origin().getBytes(StandardCharsets.UTF_8);
            b.putInt(e.id()).putLong(e.uuid().getMostSignificantBits()).putLong(e.uuid().getLeastSignificantBits())
                    .putInt(e.logicalBlockSize()).putInt(e.dedupBlockSize()).putLong(e.capacityBytes())
                    .put((byte) ((e.readOnly() ? 1 : 0) | modeCode(e.dedupMode()) << MODE_SHIFT))
                    .putLong(e.originMillis())
                    .putShort((short) name.length).put(name);
            if (origin == null) {
                b.putShort((short) 0xFFFF);
            } else {
                b.putShort((short) origin.length).put(origin);
            }
        }
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }

    public static Catalogue readCatalogue(ByteBuffer payload) {
        ByteBuffer b = payload.duplicate().order(ByteOrder.BIG_ENDIAN);
        int next = b.getInt();
        int n = b.getInt();
        List<CatalogueEntry> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int id = b.getInt();
            UUID uuid = new UUID(b.getLong(), b.getLong());
            int lbs = b.getInt();
            int dbs = b.getInt();
            long cap = b.getLong();
            int flags = b.get();
            boolean ro = (flags & 1) != 0;
            DedupMode mode = mode((flags & MODE_MASK) >> MODE_SHIFT);
            long millis = b.getLong();
            byte[] name = new byte[b.getShort() & 0xFFFF];
            b.get(name);
            int ol = b.getShort() & 0xFFFF;
            String origin = null;
            if (ol != 0xFFFF) {
                byte[] o = new byte[ol];
                b.get(o);
                origin = new String(o, StandardCharsets.UTF_8);
            }
            out.add(new CatalogueEntry(id, new String(name, StandardCharsets.UTF_8), uuid, lbs, dbs, cap, ro, origin,
                    millis, mode == null ? DedupMode.INLINE : mode));
        }
        return new Catalogue(next, out);
    }

    /**
     * Builds changes records: add entries, then {@link #records} cuts them into records of at most
     * {@link #MAX_PAYLOAD} payload bytes, each taking the next sequence number.
     */
    public static final class ChangesBuilder {
        private final List<byte[]> payloads = new ArrayList<>();
        private final List<Integer> counts = new ArrayList<>();
        /** Grown on demand (most batches journal a few dozen bytes): null until the first entry. */
        private ByteBuffer cur;
        private int entries;
        private int runVolume;
        private long runNext = -1;
        private int runCountPos = -1;
        private int runCount;
        /** A run of zero or unmapped blocks not yet written: a range entry, or inline if short. */
        private int uniVolume;
        private long uniFirst;
        private long uniCount;
        private long uniValue;

        /** Makes room for {@code bytes} more: a new record past {@link #MAX_PAYLOAD}, else a bigger buffer. */
        private void room(int bytes) {
            if (cur != null && cur.position() + bytes > MAX_PAYLOAD) {
                cut();
            }
            if (cur == null) {
                cur = ByteBuffer.allocate(256).order(ByteOrder.BIG_ENDIAN);
            }
            if (cur.remaining() < bytes) {
                int size = cur.capacity();
                while (size - cur.position() < bytes) {
                    size *= 2;
                }
                ByteBuffer b = ByteBuffer.allocate(Math.min(Math.max(size, 256), MAX_PAYLOAD + 64))
                        .order(ByteOrder.BIG_ENDIAN);
                cur.flip();
                b.put(cur);
                cur = b;
            }
        }

        private void cut() {
            endRun();
            if (cur != null && cur.position() > 0) {
                byte[] p = new byte[cur.position()];
                cur.flip().get(p);
                payloads.add(p);
                counts.add(entries);
            }
            cur = null;
            entries = 0;
        }

        private void endRun() {
            if (runCountPos >= 0) {
                cur.putInt(runCountPos, runCount);
            }
            runCountPos = -1;
            runNext = -1;
        }

        /** Block {@code dblock} of {@code volume} now maps {@code chunkId} (or {@link #ZERO}, {@link #UNMAPPED}). */
        public void map(int volume, long dblock, long chunkId) {
            if (chunkId == ZERO || chunkId == UNMAPPED) {
                if (uniCount > 0 && volume == uniVolume && dblock == uniFirst + uniCount && chunkId == uniValue) {
                    uniCount++;
                    return;
                }
                endUniform();
                uniVolume = volume;
                uniFirst = dblock;
                uniCount = 1;
                uniValue = chunkId;
                return;
            }
            endUniform();
            mapInline(volume, dblock, chunkId);
        }

        /**
         * Blocks {@code [first, first + count)} of {@code volume} all become {@code chunkId}
         * ({@link #ZERO} or {@link #UNMAPPED}): one range entry.
         */
        public void range(int volume, long first, long count, long chunkId) {
            if (chunkId != ZERO && chunkId != UNMAPPED) {
                throw new IllegalArgumentException("a range is zero or unmapped, not chunk " + chunkId);
            }
            if (count <= 0) {
                return;
            }
            if (uniCount > 0 && volume == uniVolume && first == uniFirst + uniCount && chunkId == uniValue) {
                uniCount += count;
                return;
            }
            endUniform();
            uniVolume = volume;
            uniFirst = first;
            uniCount = count;
            uniValue = chunkId;
        }

        /** Writes the pending uniform run: a range entry, or inline block-map entries when short. */
        private void endUniform() {
            long n = uniCount;
            if (n == 0) {
                return;
            }
            uniCount = 0;
            if (n < RANGE_MIN) {
                for (long i = 0; i < n; i++) {
                    mapInline(uniVolume, uniFirst + i, uniValue);
                }
                return;
            }
            endRun();
            room(RANGE_BYTES);
            cur.put((byte) TAG_RANGE).putInt(uniVolume).putLong(uniFirst).putLong(n)
                    .put((byte) (uniValue == ZERO ? 1 : 0));
            entries++;
        }

        private void mapInline(int volume, long dblock, long chunkId) {
            if (runCountPos >= 0 && volume == runVolume && dblock == runNext && cur.position() + 8 <= MAX_PAYLOAD) {
                room(8);
                cur.putLong(chunkId);
                runCount++;
                runNext++;
                entries++;
                return;
            }
            endRun();
            room(17 + 8);
            cur.put((byte) TAG_MAP).putInt(volume).putLong(dblock);
            runCountPos = cur.position();
            cur.putInt(0).putLong(chunkId);
            runVolume = volume;
            runNext = dblock + 1;
            runCount = 1;
            entries++;
        }

        /** Chunk {@code chunkId}'s record now lives at {@code loc}. */
        public void location(long chunkId, Location loc) {
            endUniform();
            endRun();
            room(21);
            cur.put((byte) TAG_LOCATION).putLong(chunkId).putInt(loc.containerId()).putInt(loc.offset())
                    .putInt(loc.length());
            entries++;
        }

        public boolean isEmpty() {
            return entries == 0 && payloads.isEmpty() && uniCount == 0;
        }

        /** The records, each with a sequence number from {@code seqs}. */
        public List<byte[]> records(java.util.function.LongSupplier seqs) {
            endUniform();
            cut();
            List<byte[]> out = new ArrayList<>(payloads.size());
            for (int i = 0; i < payloads.size(); i++) {
                byte[] p = payloads.get(i);
                out.add(encode(TYPE_CHANGES, seqs.getAsLong(), counts.get(i), p, p.length));
            }
            payloads.clear();
            counts.clear();
            return out;
        }
    }

    public static byte[] voidRecord(long seq, long voided) {
        byte[] p = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putLong(voided).array();
        return encode(TYPE_VOID, seq, 1, p, 8);
    }

    public static long voided(ByteBuffer payload) {
        return payload.duplicate().order(ByteOrder.BIG_ENDIAN).getLong(0);
    }
}
