package io.orion.dedup.meta;

import io.orion.dedup.dedup.DedupMode;
import io.orion.dedup.containers.JournalFormat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * Fixed-layout, big-endian encodings of every LMDB key and value (see docs/on-disk-format.md).
 * Every value ends with a CRC32C over the key bytes followed by the value bytes before the CRC, so
 * a damaged value (or a value found under the wrong key) is detected on read.
 */
final class MetaCodec {
    static final int BLOCK_KEY = 12;
    static final int BLOCK_VAL = 12;
    static final int CHUNK_KEY = 8;
    static final int CHUNK_VAL = 57;
    static final int INDEX_KEY = 32;
    static final int INDEX_VAL = 12;
    /** Fingerprint bytes in an {@code fpindex} key (format 3): the rest is in the chunk record. */
    static final int FP_PREFIX = 8;
    /** Bytes of the chunk id in an {@code fpindex} key (ids below 2^48). */
    static final int FP_ID = 6;
    /** {@code fpindex} key: fingerprint prefix ‖ chunk id (6 bytes); the value is empty (no CRC). */
    static final int FP_KEY = FP_PREFIX + FP_ID;
    /** {@code fplog} key: the change's sequence number (u64). */
    static final int FPLOG_KEY = 8;
    /** {@code fplog} value: fingerprint (32) ‖ chunk id (u64) ‖ CRC32C. */
    static final int FPLOG_VAL = INDEX_KEY + 8 + 4;
    static final int CONTAINER_KEY = 4;
    static final int CONTAINER_VAL = 45;
    /** A container value with its journal bytes (version 2; version 1 is {@link #CONTAINER_VAL}). */
    static final int CONTAINER_VAL_V2 = 53;
    /** Length of a version 1 volume value (no flags, no origin). */
    static final int VOLUME_VAL = 56;
    /** Length of a version 2 volume value without its origin name bytes. */
    static final int VOLUME_VAL_V2 = 67;
    /** Version 2 volume flag: read-only (a snapshot). */
    static final int VOLUME_READ_ONLY = 1;
    /** Version 2 volume flags, bits 1-2: the dedup mode (0 inline, 1 post-process, 2 off; 3 is damage). */
    static final int VOLUME_MODE_SHIFT = 1;
    static final int VOLUME_MODE_MASK = 3 << VOLUME_MODE_SHIFT;
    static final int COUNTERS_VAL = 72;
    static final byte[] COUNTERS_KEY = "pool".getBytes(StandardCharsets.US_ASCII);
    /** Persistent reservation fragments: volume id (4) + fragment number (2). */
    static final int RESERVATION_KEY = 6;
    /** Largest fragment payload: a value stays well inside a leaf page (no overflow pages). */
    static final int RESERVATION_FRAGMENT = 1024;

    /** Block-map entries per page of the {@code blockpages} database (docs/on-disk-format.md). */
    static final int PAGE_ENTRIES = 128;
    /** Block-map page key: volume id u32 ‖ page index u64 (dedup block index / {@link #PAGE_ENTRIES}). */
    static final int PAGE_KEY = 12;
    /** A page of at most this many entries is written as a list (offsets), else with a bitmap. */
    static final int PAGE_LIST_MAX = 15;
    /** Page layout flag in the header byte: entries listed by offset (else: a 16-byte bitmap). */
    static final int PAGE_LIST = 0x10;
    /** Shortest page value: list header, one zero-written entry, pad, CRC. */
    static final int PAGE_VAL_MIN = 8;
    /** Longest page value: bitmap header, 128 eight-byte chunk ids, CRC, pad (no LMDB overflow pages). */
    static final int PAGE_VAL_MAX = 1 + PAGE_ENTRIES / 8 + PAGE_ENTRIES * 8 + 4 + 1;

    static void pageKey(ByteBuffer k, int volume, long page) {
        k.clear();
        k.putInt(volume).putLong(page).flip();
    }

    /**
     * Encodes the {@link #PAGE_ENTRIES} entries of one block-map page ({@code -1} unmapped, {@code 0}
     * written as zeros, else a chunk id) into {@code v} and seals it; false (nothing written) when
     * every entry is unmapped: such a page is deleted, never stored.
     *
     * <p>Layout: header u8 (bits 0-3: w, the bytes of each stored value, 0..8; bit 4: list layout);
     * list layout: count u8 ‖ count offsets u8 (ascending); bitmap layout: 16 bytes, bit i (most
     * significant first) set when entry i is mapped; then the mapped entries' values (0 for
     * zeros, else the chunk id), w bytes each, big-endian, in entry order; a zero pad byte when the
     * length so far plus the CRC is odd (LMDB pads odd nodes: the CRC stays the node's last bytes);
     * CRC32C over key ‖ value.
     */
    static boolean pageValue(ByteBuffer key, ByteBuffer v, long[] e) {
        int m = 0;
        long max = 0;
        for (long x : e) {
            if (x != -1) {
                m++;
                max = Math.max(max, x);
            }
        }
        if (m == 0) {
            return false;
        }
        int w = max == 0 ? 0 : (71 - Long.numberOfLeadingZeros(max)) / 8;
        v.clear();
        if (m <= PAGE_LIST_MAX) {
            v.put((byte) (PAGE_LIST | w)).put((byte) m);
            for (int i = 0; i < e.length; i++) {
                if (e[i] != -1) {
                    v.put((byte) i);
                }
            }
        } else {
            v.put((byte) w);
            for (int i = 0; i < e.length; i += 8) {
                int bits = 0;
                for (int j = 0; j < 8; j++) {
                    bits = bits << 1 | (e[i + j] != -1 ? 1 : 0);
                }
                v.put((byte) bits);
            }
        }
        for (long x : e) {
            if (x != -1) {
                for (int s = (w - 1) * 8; s >= 0; s -= 8) {
                    v.put((byte) (x >>> s));
                }
            }
        }
        if ((v.position() & 1) != 0) {
            v.put((byte) 0);
        }
        seal(key, v);
        return true;
    }

    /** Null when {@code v} is a sound block-map page value (layout, length, pad, CRC), else why not. */
    static String checkPage(ByteBuffer key, ByteBuffer v) {
        int n = v.remaining();
        if (n < PAGE_VAL_MIN || n > PAGE_VAL_MAX) {
            return "page value has " + n + " bytes";
        }
        int hdr = v.get(0) & 0xff;
        int w = hdr & 0x0f;
        if ((hdr & ~(PAGE_LIST | 0x0f)) != 0 || w > 8) {
            return "page header " + hdr;
        }
        int body;
        if ((hdr & PAGE_LIST) != 0) {
            int m = v.get(1) & 0xff;
            if (m < 1 || m > PAGE_LIST_MAX) {
                return "page lists " + m + " entries";
            }
            if (n < 2 + m + 4) {
                return "page value has " + n + " bytes for " + m + " entries";
            }
            for (int i = 1; i < m; i++) {
                if ((v.get(2 + i) & 0xff) <= (v.get(1 + i) & 0xff)) {
                    return "page entry offsets out of order";
                }
            }
            if ((v.get(1 + m) & 0xff) >= PAGE_ENTRIES) {
                return "page entry offset " + (v.get(1 + m) & 0xff);
            }
            body = 2 + m + m * w;
        } else {
            if (n < 1 + PAGE_ENTRIES / 8 + 4) {
                return "page value has " + n + " bytes, too short for its bitmap";
            }
            int m = 0;
            for (int i = 0; i < PAGE_ENTRIES / 8; i++) {
                m += Integer.bitCount(v.get(1 + i) & 0xff);
            }
            if (m == 0) {
                return "page maps no block";
            }
            body = 1 + PAGE_ENTRIES / 8 + m * w;
        }
        int len = body + 4 + ((body & 1) != 0 ? 1 : 0);
        if (n != len) {
            return "page value has " + n + " bytes, its header says " + len;
        }
        if ((body & 1) != 0 && v.get(body) != 0) {
            return "page pad byte is not zero";
        }
        return check(key, v, n);
    }

    /** Decodes a checked page value into {@code out} ({@code -1} where unmapped). */
    static void decodePage(ByteBuffer v, long[] out) {
        java.util.Arrays.fill(out, -1L);
        int hdr = v.get(0) & 0xff;
        int w = hdr & 0x0f;
        if ((hdr & PAGE_LIST) != 0) {
            int m = v.get(1) & 0xff;
            int at = 2 + m;
            for (int i = 0; i < m; i++, at += w) {
                out[v.get(2 + i) & 0xff] = uint(v, at, w);
            }
        } else {
            int at = 1 + PAGE_ENTRIES / 8;
            for (int i = 0; i < PAGE_ENTRIES; i++) {
                if ((v.get(1 + (i >> 3)) & 0x80 >>> (i & 7)) != 0) {
                    out[i] = uint(v, at, w);
                    at += w;
                }
            }
        }
    }

    /** Entry {@code i} of a checked page value: {@code -1} unmapped, 0 zeros, else the chunk id. */
    static long pageEntry(ByteBuffer v, int i) {
        int hdr = v.get(0) & 0xff;
        int w = hdr & 0x0f;
        if ((hdr & PAGE_LIST) != 0) {
            int m = v.get(1) & 0xff;
            for (int j = 0; j < m; j++) {
                int off = v.get(2 + j) & 0xff;
                if (off == i) {
                    return uint(v, 2 + m + j * w, w);
                }
                if (off > i) {
                    break;
                }
            }
            return -1;
        }
        int b = v.get(1 + (i >> 3)) & 0xff;
        if ((b & 0x80 >>> (i & 7)) == 0) {
            return -1;
        }
        int rank = Integer.bitCount(b >>> (8 - (i & 7)));
        for (int j = 0; j < i >> 3; j++) {
            rank += Integer.bitCount(v.get(1 + j) & 0xff);
        }
        return uint(v, 1 + PAGE_ENTRIES / 8 + rank * w, w);
    }

    /** Mapped entries of a checked page value. */
    static int pageCount(ByteBuffer v) {
        if ((v.get(0) & PAGE_LIST) != 0) {
            return v.get(1) & 0xff;
        }
        int m = 0;
        for (int i = 0; i < PAGE_ENTRIES / 8; i++) {
            m += Integer.bitCount(v.get(1 + i) & 0xff);
        }
        return m;
    }

    private static long uint(ByteBuffer v, int at, int w) {
        long x = 0;
        for (int i = 0; i < w; i++) {
            x = x << 8 | (v.get(at + i) & 0xff);
        }
        return x;
    }

    /** Bytes of a {@code staged} key: volume id u32 ‖ dedup block u64. */
    static final int STAGED_KEY = 12;

    static void stagedKey(ByteBuffer k, int volume, long dblock) {
        k.clear();
        k.putInt(volume).putLong(dblock).flip();
    }

    static void reservationKey(ByteBuffer k, int volume, int fragment) {
        k.clear();
        k.putInt(volume).putShort((short) fragment).flip();
    }

    private MetaCodec() {
    }

    static int crc(ByteBuffer key, ByteBuffer val, int valLen) {
        CRC32C c = new CRC32C();
        int kp = key.position();
        int kl = key.limit();
        c.update(key);
        key.limit(kl).position(kp);
        int vp = val.position();
        int vl = val.limit();
        val.limit(valLen).position(0);
        c.update(val);
        val.limit(vl).position(vp);
        return (int) c.getValue();
    }

    /** Appends the CRC after {@code val}'s first position bytes and flips it. */
    static void seal(ByteBuffer key, ByteBuffer val) {
        int n = val.position();
        val.putInt(crc(key, val, n));
        val.flip();
    }

    /** Null when {@code val} has the expected length and CRC, else why not. */
    static String check(ByteBuffer key, ByteBuffer val, int expectedLen) {
        if (val.remaining() != expectedLen) {
            return "value has " + val.remaining() + " bytes, expected " + expectedLen;
        }
        int stored = val.getInt(expectedLen - 4);
        if (stored != crc(key, val, expectedLen - 4)) {
            return "CRC32C mismatch (metadata damaged)";
        }
        return null;
    }

    static void check(String what, ByteBuffer key, ByteBuffer val, int expectedLen) throws MetaCorruptException {
        String bad = check(key, val, expectedLen);
        if (bad != null) {
            throw new MetaCorruptException(what + ": " + bad);
        }
    }

    static ByteBuffer be(ByteBuffer b) {
        return b.order(ByteOrder.BIG_ENDIAN);
    }

    static void blockKey(ByteBuffer k, int volume, long dblock) {
        k.clear();
        k.putInt(volume).putLong(dblock).flip();
    }

    static void chunkKey(ByteBuffer k, long id) {
        k.clear();
        k.putLong(id).flip();
    }

    /** The {@code fplog} key of change {@code seq}. */
    static void fpLogKey(ByteBuffer k, long seq) {
        k.clear();
        k.putLong(seq).flip();
    }

    /** The {@code fplog} value indexing {@code fp} to chunk {@code id} (key {@code k} already set). */
    static void fpLogValue(ByteBuffer k, ByteBuffer v, byte[] fp, long id) {
        v.clear();
        v.put(fp, 0, INDEX_KEY).putLong(id);
        seal(k, v);
    }

    /** The {@code fpindex} key of {@code fp} indexed to chunk {@code id}. */
    static void fpKey(ByteBuffer k, byte[] fp, long id) {
        if (id <= 0 || id >= 1L << 48) {
            throw new IllegalArgumentException("chunk id " + id + " does not fit a fingerprint index key");
        }
        k.clear();
        k.put(fp, 0, FP_PREFIX).putShort((short) (id >>> 32)).putInt((int) id).flip();
    }

    /** The fingerprint prefix alone: where the {@code fpindex} keys of {@code fp} begin. */
    static void fpPrefix(ByteBuffer k, byte[] fp) {
        k.clear();
        k.put(fp, 0, FP_PREFIX).flip();
    }

    /** The chunk id of an {@code fpindex} key. */
    static long fpKeyId(ByteBuffer k) {
        return ((k.getShort(FP_PREFIX) & 0xffffL) << 32) | (k.getInt(FP_PREFIX + 2) & 0xffffffffL);
    }

    /** Whether the {@code fpindex} key {@code k} begins with {@code fp}'s prefix. */
    static boolean fpKeyMatches(ByteBuffer k, byte[] fp) {
        if (k.remaining() != FP_KEY) {
            return false;
        }
        for (int i = 0; i < FP_PREFIX; i++) {
            if (k.get(k.position() + i) != fp[i]) {
                return false;
            }
        }
        return true;
    }

    static void indexKey(ByteBuffer k, byte[] fp) {
        k.clear();
        k.put(fp).flip();
    }

    static void containerKey(ByteBuffer k, int id) {
        k.clear();
        k.putInt(id).flip();
    }

    static void longValue(ByteBuffer key, ByteBuffer v, long x) {
        v.clear();
        v.putLong(x);
        seal(key, v);
    }

    static void chunkValue(ByteBuffer key, ByteBuffer v, ChunkRecord r) {
        v.clear();
        v.put(r.fingerprint()).putInt(r.containerId()).putInt(r.offset()).putInt(r.length())
                .putInt(r.originalLength()).put((byte) r.flags()).putInt(r.refCount());
        seal(key, v);
    }

    /** Chunk ids per {@code chunkgroups} value (format 5): two full values share a 4 KiB LMDB leaf. */
    static final int GROUP = 38;
    /** {@code chunkgroups} key: the group number u64 (chunk id / {@link #GROUP}). */
    static final int GROUP_KEY = 8;
    /**
     * One chunk record inside a group: fingerprint 32 ‖ container u32 ‖ offset u32 ‖ record length
     * u24 ‖ original length − 1 u16 ‖ flags u8 ‖ refcount u32.
     */
    static final int GROUP_RECORD = 50;
    /** Shortest group value: bitmap, one record, CRC. */
    static final int GROUP_VAL_MIN = 8 + GROUP_RECORD + 4;
    /** Longest group value: bitmap, {@link #GROUP} records, CRC (1912 bytes: no overflow pages). */
    static final int GROUP_VAL_MAX = 8 + GROUP * GROUP_RECORD + 4;
    /** Longest original length a group record holds (the largest dedup block). */
    static final int GROUP_MAX_ORIGINAL = 1 << 16;

    static void groupKey(ByteBuffer k, long group) {
        k.clear();
        k.putLong(group).flip();
    }

    /**
     * Encodes the records of one group ({@code r[i]} is chunk {@code group * GROUP + i}, null where
     * there is none) into {@code v} and seals it; false (nothing written) when the group is empty:
     * such a group is deleted, never stored.
     *
     * <p>Layout: bitmap u64 (bit i, most significant first, set when slot i holds a record) ‖ the
     * records in slot order, {@link #GROUP_RECORD} bytes each (fingerprint 32 ‖ container u32 ‖
     * offset u32 ‖ record length u24 ‖ original length − 1 u16 ‖ flags u8 ‖ refcount u32) ‖ a zero
     * pad byte when the length so far is odd ‖ CRC32C over key ‖ value.
     */
    static boolean groupValue(ByteBuffer key, ByteBuffer v, ChunkRecord[] r) {
        ChunkGroup g = null;
        for (ChunkRecord c : r) {
            if (c != null) {
                if (g == null) {
                    g = new ChunkGroup(c.id() / GROUP);
                }
                g.put(c);
            }
        }
        return g != null && g.encode(key, v);
    }

    /** Null when {@code v} is a sound group value (bitmap, length, pad, CRC), else why not. */
    static String checkGroup(ByteBuffer key, ByteBuffer v) {
        int n = v.remaining();
        if (n < GROUP_VAL_MIN || n > GROUP_VAL_MAX) {
            return "chunk group value has " + n + " bytes";
        }
        long bits = v.getLong(0);
        if ((bits & -1L >>> GROUP) != 0 || bits == 0) {
            return "chunk group bitmap " + Long.toHexString(bits);
        }
        if (n == GROUP_VAL_MAX) {
            return check(key, v, n); // every slot in its place (see groupRecordAt)
        }
        int body = 8 + Long.bitCount(bits) * GROUP_RECORD;
        int len = body + ((body & 1) != 0 ? 1 : 0) + 4;
        if (n != len) {
            return "chunk group value has " + n + " bytes, its bitmap says " + len;
        }
        if ((body & 1) != 0 && v.get(body) != 0) {
            return "chunk group pad byte is not zero";
        }
        return check(key, v, n);
    }

    /**
     * Where slot {@code slot}'s record lies in the checked group value {@code v}: a value of
     * {@link #GROUP_VAL_MAX} bytes holds every slot in its place (absent ones zero: the growing last
     * group is written so, and keeps its size as it fills), a shorter one the present records only.
     */
    static int groupRecordAt(ByteBuffer v, int slot) {
        if (v.remaining() == GROUP_VAL_MAX) {
            return 8 + slot * GROUP_RECORD;
        }
        long bits = v.getLong(0);
        return 8 + Long.bitCount(slot == 0 ? 0 : bits >>> (64 - slot)) * GROUP_RECORD;
    }

    /** The record of chunk {@code id} in the checked group value {@code v}, or null when it has none. */
    static ChunkRecord groupRecord(long id, ByteBuffer v) {
        int slot = (int) (id % GROUP);
        if ((v.getLong(0) & Long.MIN_VALUE >>> slot) == 0) {
            return null;
        }
        return groupEntry(id, v, groupRecordAt(v, slot));
    }

    /** Decodes the checked group value {@code v} of group {@code group} into {@code out} (null where none). */
    static void decodeGroup(long group, ByteBuffer v, ChunkRecord[] out) {
        long bits = v.getLong(0);
        for (int i = 0; i < GROUP; i++) {
            out[i] = (bits & Long.MIN_VALUE >>> i) != 0 ? groupEntry(group * GROUP + i, v, groupRecordAt(v, i)) : null;
        }
    }

    static ChunkRecord groupEntry(long id, ByteBuffer v, int at) {
        byte[] fp = new byte[32];
        v.get(at, fp);
        int length = (v.get(at + 40) & 0xff) << 16 | (v.getShort(at + 41) & 0xffff);
        return new ChunkRecord(id, fp, v.getInt(at + 32), v.getInt(at + 36), length, (v.getShort(at + 43) & 0xffff) + 1,
                v.get(at + 45) & 0xff, v.getInt(at + 46));
    }

    /** Writes chunk {@code r}'s group record at {@code v}'s position (see {@link #GROUP_RECORD}). */
    static void putGroupEntry(ByteBuffer v, ChunkRecord r) {
        if (r.length() < 0 || r.length() >= 1 << 24 || r.originalLength() < 1
                || r.originalLength() > GROUP_MAX_ORIGINAL || (r.flags() & ~0xff) != 0) {
            throw new IllegalArgumentException("chunk " + r.id() + " (record length " + r.length() + ", original length "
                    + r.originalLength() + ", flags " + r.flags() + ") does not fit a chunk group record");
        }
        v.put(r.fingerprint(), 0, 32).putInt(r.containerId()).putInt(r.offset()).put((byte) (r.length() >>> 16))
                .putShort((short) r.length()).putShort((short) (r.originalLength() - 1)).put((byte) r.flags())
                .putInt(r.refCount());
    }

    /** Fingerprint bytes in an {@code fpruns} entry (format 6): the rest is in the chunk record. */
    static final int RUN_PREFIX = 5;
    /** One {@code fpruns} entry: fingerprint prefix (5 bytes) ‖ chunk id (6 bytes), compared as unsigned bytes. */
    static final int RUN_ENTRY = RUN_PREFIX + FP_ID;
    /** {@code fpruns} key: an entry no greater than the run's first (its first, when the run was written). */
    static final int RUN_KEY = RUN_ENTRY;
    /** Most entries a run holds; a longer one is cut into runs of {@link #RUN_FILL}. */
    static final int RUN_MAX = 64;
    /** Entries per run when a long run is cut (conversions, and merges that overfill a run). */
    static final int RUN_FILL = 48;
    static final int RUN_VAL_MIN = RUN_ENTRY + 4;
    static final int RUN_VAL_MAX = RUN_MAX * RUN_ENTRY + 4;

    /** The first {@link #RUN_PREFIX} bytes of {@code fp}, big-endian. */
    static long runPrefix(byte[] fp) {
        long p = 0;
        for (int i = 0; i < RUN_PREFIX; i++) {
            p = p << 8 | (fp[i] & 0xff);
        }
        return p;
    }

    static void runKey(ByteBuffer k, long prefix, long id) {
        k.clear();
        k.put((byte) (prefix >>> 32)).putInt((int) prefix).putShort((short) (id >>> 32)).putInt((int) id).flip();
    }

    /** The unsigned 40-bit big-endian number at {@code at} (an {@code fpruns} entry's prefix). */
    static long u40(ByteBuffer b, int at) {
        return (b.get(at) & 0xffL) << 32 | (b.getInt(at + 1) & 0xffffffffL);
    }

    /** The unsigned 48-bit big-endian number at {@code at}. */
    static long u48(ByteBuffer b, int at) {
        return (b.getShort(at) & 0xffffL) << 32 | (b.getInt(at + 2) & 0xffffffffL);
    }

    /**
     * Encodes entries {@code from .. from + n - 1} ({@code prefix[i]}, {@code id[i]}, ascending) as
     * one run value under {@code key} and seals it: the entries, {@link #RUN_ENTRY} bytes each ‖
     * CRC32C over key ‖ entries.
     */
    static void runValue(ByteBuffer key, ByteBuffer v, long[] prefix, long[] id, int from, int n) {
        v.clear();
        for (int i = from; i < from + n; i++) {
            v.put((byte) (prefix[i] >>> 32)).putInt((int) prefix[i]).putShort((short) (id[i] >>> 32))
                    .putInt((int) id[i]);
        }
        seal(key, v);
    }

    /** The number of entries of a run value of {@code len} bytes (no check). */
    static int runEntries(int len) {
        return Math.max(0, (len - 4) / RUN_ENTRY);
    }

    /**
     * Null when {@code v} is a sound run value under {@code key}: 1..{@link #RUN_MAX} entries in
     * ascending order, none naming chunk 0, the first no less than the key, and its CRC; else why not.
     */
    static String checkRun(ByteBuffer key, ByteBuffer v) {
        int n = v.remaining();
        if (key.remaining() != RUN_KEY) {
            return "run key has " + key.remaining() + " bytes";
        }
        if (n < RUN_VAL_MIN || n > RUN_VAL_MAX || (n - 4) % RUN_ENTRY != 0) {
            return "run value has " + n + " bytes";
        }
        long pp = u40(key, key.position());
        long pi = u48(key, key.position() + RUN_PREFIX) - 1; // the first entry may equal the key
        for (int i = 0, at = 0; i < runEntries(n); i++, at += RUN_ENTRY) {
            long p = u40(v, at);
            long id = u48(v, at + RUN_PREFIX);
            if (id == 0) {
                return "run entry " + i + " names chunk 0";
            }
            if (p < pp || p == pp && id <= pi) {
                return i == 0 ? "run's first entry lies below its key" : "run entries out of order at " + i;
            }
            pp = p;
            pi = id;
        }
        return check(key, v, n);
    }

    static ChunkRecord chunk(long id, ByteBuffer v) {
        byte[] fp = new byte[32];
        v.duplicate().get(fp);
        return new ChunkRecord(id, fp, v.getInt(32), v.getInt(36), v.getInt(40), v.getInt(44), v.get(48) & 0xff,
                v.getInt(49));
    }

    static void containerValue(ByteBuffer key, ByteBuffer v, ContainerRecord r) {
        v.clear();
        v.putInt(r.device()).putInt(r.slot()).put((byte) (r.sealed() ? 1 : 0)).putLong(r.committedEnd())
                .putLong(r.liveBytes()).putLong(r.liveCount()).putLong(r.records());
        if (r.journalBytes() != 0) {
            v.putLong(r.journalBytes()); // version 2: only containers holding journal records
        }
        seal(key, v);
    }

    /** The expected length of a container value of {@code len} bytes: its own when a known version. */
    static int containerLength(int len) {
        return len == CONTAINER_VAL_V2 ? CONTAINER_VAL_V2 : CONTAINER_VAL;
    }

    static ContainerRecord container(int id, ByteBuffer v) {
        return new ContainerRecord(id, v.getInt(0), v.getInt(4), v.get(8) != 0, v.getLong(9), v.getLong(17),
                v.getLong(25), v.getLong(33), v.remaining() >= CONTAINER_VAL_V2 ? v.getLong(41) : 0);
    }

    /**
     * Version 1 (56 bytes) for a volume without flags and origin, so pools that never cloned keep
     * byte-identical records; version 2 (67 + origin name bytes) otherwise: the version 1 fields,
     * flags u8, origin time u64 (epoch ms), origin name length u16, origin name (UTF-8), CRC.
     */
    static void volumeValue(ByteBuffer key, ByteBuffer v, VolumeRecord r) {
        v.clear();
        v.putInt(r.id()).putLong(r.uuid().getMostSignificantBits()).putLong(r.uuid().getLeastSignificantBits())
                .putInt(r.logicalBlockSize()).putInt(r.dedupBlockSize()).putLong(r.capacityBytes())
                .putLong(r.dataBlocks()).putLong(r.zeroBlocks());
        if (r.extended()) {
            byte[] origin = r.origin() == null ? new byte[0] : r.origin().getBytes(StandardCharsets.UTF_8);
            int flags = (r.readOnly() ? VOLUME_READ_ONLY : 0) | (modeCode(r.dedupMode()) << VOLUME_MODE_SHIFT);
            v.put((byte) flags).putLong(r.originMillis()).putShort((short) origin.length).put(origin);
        }
        seal(key, v);
    }

    /** Null when {@code val} is a sound version 1 or 2 volume value, else why not. */
    static String checkVolume(ByteBuffer key, ByteBuffer val) {
        int n = val.remaining();
        if (n == VOLUME_VAL) {
            return check(key, val, VOLUME_VAL);
        }
        if (n < VOLUME_VAL_V2) {
            return "value has " + n + " bytes, expected " + VOLUME_VAL + " or at least " + VOLUME_VAL_V2;
        }
        int originLen = val.getShort(61) & 0xffff;
        if (n != VOLUME_VAL_V2 + originLen) {
            return "value has " + n + " bytes, expected " + (VOLUME_VAL_V2 + originLen) + " for a " + originLen
                    + "-byte origin name";
        }
        String bad = check(key, val, n);
        if (bad == null && mode((val.get(52) & VOLUME_MODE_MASK) >> VOLUME_MODE_SHIFT) == null) {
            return "unknown dedup mode in flags 0x" + Integer.toHexString(val.get(52) & 0xff);
        }
        return bad;
    }

    private static int modeCode(DedupMode m) {
        return JournalFormat.modeCode(m);
    }

    private static DedupMode mode(int code) {
        return JournalFormat.mode(code);
    }

    static void checkVolume(String what, ByteBuffer key, ByteBuffer val) throws MetaCorruptException {
        String bad = checkVolume(key, val);
        if (bad != null) {
            throw new MetaCorruptException(what + ": " + bad);
        }
    }

    static VolumeRecord volume(String name, ByteBuffer v) {
        boolean readOnly = false;
        String origin = null;
        long originMillis = 0;
        DedupMode mode = DedupMode.INLINE;
        if (v.remaining() >= VOLUME_VAL_V2) {
            readOnly = (v.get(52) & VOLUME_READ_ONLY) != 0;
            DedupMode m = mode((v.get(52) & VOLUME_MODE_MASK) >> VOLUME_MODE_SHIFT);
            mode = m == null ? DedupMode.INLINE : m;
            originMillis = v.getLong(53);
            int len = v.getShort(61) & 0xffff;
            if (len > 0) {
                byte[] b = new byte[len];
                v.get(63, b);
                origin = new String(b, StandardCharsets.UTF_8);
            }
        }
        return new VolumeRecord(name, v.getInt(0), new UUID(v.getLong(4), v.getLong(12)), v.getInt(20), v.getInt(24),
                v.getLong(28), v.getLong(36), v.getLong(44), readOnly, origin, originMillis, mode);
    }

    static void countersValue(ByteBuffer key, ByteBuffer v, PoolCounters c) {
        v.clear();
        v.putInt(c.formatVersion()).putLong(c.poolUuid().getMostSignificantBits())
                .putLong(c.poolUuid().getLeastSignificantBits()).putLong(c.slotSize()).putLong(c.nextChunkId())
                .putInt(c.nextContainerId()).putInt(c.nextVolumeId()).putLong(c.uniqueChunks())
                .putLong(c.uniqueBytes()).putLong(c.storedBytes());
        seal(key, v);
    }

    static PoolCounters counters(ByteBuffer v) {
        return new PoolCounters(v.getInt(0), new UUID(v.getLong(4), v.getLong(12)), v.getLong(20), v.getLong(28),
                v.getInt(36), v.getInt(40), v.getLong(44), v.getLong(52), v.getLong(60));
    }
}
