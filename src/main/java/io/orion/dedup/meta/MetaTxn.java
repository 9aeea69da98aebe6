package io.orion.dedup.meta;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.lmdbjava.Cursor;
import org.lmdbjava.GetOp;
import org.lmdbjava.Txn;

/**
 * A typed view of one LMDB transaction. Read transactions must be short; every value read is
 * checked against its CRC32C ({@link MetaCorruptException} on mismatch).
 */
public class MetaTxn implements AutoCloseable {
    /** Block-map value meaning "written as zeros": mapped, but no chunk. */
    public static final long ZERO = 0;
    /** Block-map lookup result meaning "never written or unmapped". */
    public static final long ABSENT = -1;

    private static final ThreadLocal<ByteBuffer[]> SCRATCH = ThreadLocal.withInitial(() -> new ByteBuffer[] {
        MetaCodec.be(ByteBuffer.allocateDirect(512)), MetaCodec.be(ByteBuffer.allocateDirect(128))});

    final MetaStore store;
    final Txn<ByteBuffer> txn;
    final ByteBuffer key;
    final ByteBuffer val;
    private final boolean read;
    private boolean closed;

    MetaTxn(MetaStore store, Txn<ByteBuffer> txn, boolean read) {
        this.store = store;
        this.txn = txn;
        this.read = read;
        if (read) {
            ByteBuffer[] s = SCRATCH.get();
            key = s[0];
            val = s[1];
        } else {
            key = MetaCodec.be(ByteBuffer.allocateDirect(512));
            val = MetaCodec.be(ByteBuffer.allocateDirect(128));
        }
    }

    /** The chunk id mapped at a dedup block, {@link #ZERO}, or {@link #ABSENT}. */
    public long block(int volume, long dblock) throws MetaCorruptException {
        MetaCodec.blockKey(key, volume, dblock);
        ByteBuffer v = store.blocks.get(txn, key);
        if (v == null) {
            return ABSENT;
        }
        v = MetaCodec.be(v);
        MetaCodec.check("block map entry " + volume + "/" + dblock, key, v, MetaCodec.BLOCK_VAL);
        return v.getLong(0);
    }

    /** Visits the block-map entries of a volume in {@code [from, to)} in ascending order. */
    public void scanBlocks(int volume, long from, long to, BlockVisitor visitor) throws MetaCorruptException {
        MetaCodec.blockKey(key, volume, from);
        try (Cursor<ByteBuffer> c = store.blocks.openCursor(txn)) {
            if (!c.get(key, GetOp.MDB_SET_RANGE)) {
                return;
            }
            do {
                ByteBuffer k = MetaCodec.be(c.key());
                if (k.remaining() != MetaCodec.BLOCK_KEY || k.getInt(0) != volume) {
                    return;
                }
                long db = k.getLong(4);
                if (db >= to) {
                    return;
                }
                ByteBuffer v = MetaCodec.be(c.val());
                MetaCodec.check("block map entry " + volume + "/" + db, k, v, MetaCodec.BLOCK_VAL);
                if (!visitor.visit(db, v.getLong(0))) {
                    return;
                }
            } while (c.next());
        }
    }

    public ChunkRecord chunk(long id) throws MetaCorruptException {
        MetaCodec.chunkKey(key, id);
        ByteBuffer v = store.chunks.get(txn, key);
        if (v == null) {
            return null;
        }
        v = MetaCodec.be(v);
        MetaCodec.check("chunk " + id, key, v, MetaCodec.CHUNK_VAL);
        return MetaCodec.chunk(id, v);
    }

    /** Visits chunk records with id >= {@code from} in ascending id order until the visitor says stop. */
    public void scanChunks(long from, ChunkVisitor visitor) throws MetaCorruptException {
        MetaCodec.chunkKey(key, from);
        try (Cursor<ByteBuffer> c = store.chunks.openCursor(txn)) {
            if (!c.get(key, GetOp.MDB_SET_RANGE)) {
                return;
            }
            do {
                ByteBuffer k = MetaCodec.be(c.key());
                long id = k.getLong(0);
                ByteBuffer v = MetaCodec.be(c.val());
                MetaCodec.check("chunk " + id, k, v, MetaCodec.CHUNK_VAL);
                if (!visitor.visit(MetaCodec.chunk(id, v))) {
                    return;
                }
            } while (c.next());
        }
    }

    /** The chunk id indexed under a fingerprint, or 0. */
    public long index(byte[] fingerprint) throws MetaCorruptException {
        MetaCodec.indexKey(key, fingerprint);
        ByteBuffer v = store.index.get(txn, key);
        if (v == null) {
            return 0;
        }
        v = MetaCodec.be(v);
        MetaCodec.check("fingerprint index entry", key, v, MetaCodec.INDEX_VAL);
        return v.getLong(0);
    }

    public List<VolumeRecord> volumes() throws MetaCorruptException {
        List<VolumeRecord> out = new ArrayList<>();
        try (Cursor<ByteBuffer> c = store.volumes.openCursor(txn)) {
            if (!c.first()) {
                return out;
            }
            do {
                ByteBuffer k = c.key();
                byte[] name = new byte[k.remaining()];
                k.duplicate().get(name);
                ByteBuffer v = MetaCodec.be(c.val());
                String n = new String(name, StandardCharsets.UTF_8);
                MetaCodec.check("volume " + n, k, v, MetaCodec.VOLUME_VAL);
                out.add(MetaCodec.volume(n, v));
            } while (c.next());
        }
        return out;
    }

    /** The volume named {@code name}, or null. */
    public VolumeRecord volume(String name) throws MetaCorruptException {
        key.clear();
        key.put(name.getBytes(StandardCharsets.UTF_8)).flip();
        ByteBuffer v = store.volumes.get(txn, key);
        if (v == null) {
            return null;
        }
        v = MetaCodec.be(v);
        MetaCodec.check("volume " + name, key, v, MetaCodec.VOLUME_VAL);
        return MetaCodec.volume(name, v);
    }

    public List<ContainerRecord> containers() throws MetaCorruptException {
        List<ContainerRecord> out = new ArrayList<>();
        try (Cursor<ByteBuffer> c = store.containers.openCursor(txn)) {
            if (!c.first()) {
                return out;
            }
            do {
                ByteBuffer k = MetaCodec.be(c.key());
                int id = k.getInt(0);
                ByteBuffer v = MetaCodec.be(c.val());
                MetaCodec.check("container " + id, k, v, MetaCodec.CONTAINER_VAL);
                out.add(MetaCodec.container(id, v));
            } while (c.next());
        }
        return out;
    }

    /** The pool counters, or null in a fresh environment. */
    public PoolCounters counters() throws MetaCorruptException {
        key.clear();
        key.put(MetaCodec.COUNTERS_KEY).flip();
        ByteBuffer v = store.counters.get(txn, key);
        if (v == null) {
            return null;
        }
        v = MetaCodec.be(v);
        MetaCodec.check("pool counters", key, v, MetaCodec.COUNTERS_VAL);
        return MetaCodec.counters(v);
    }

    /** Number of entries in the block map, chunk and index databases (for format docs and tests). */
    public long[] entryCounts() {
        return new long[] {store.blocks.stat(txn).entries, store.chunks.stat(txn).entries,
            store.index.stat(txn).entries};
    }

    /**
     * Bytes of LMDB pages (branch, leaf, overflow) per database, in the order
     * {@code blocks, chunks, index}.
     */
    public long[] pageBytes() {
        long[] out = new long[3];
        int i = 0;
        for (org.lmdbjava.Dbi<ByteBuffer> d : List.of(store.blocks, store.chunks, store.index)) {
            org.lmdbjava.Stat st = d.stat(txn);
            out[i++] = (st.branchPages + st.leafPages + st.overflowPages) * (long) st.pageSize;
        }
        return out;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            txn.close();
        } finally {
            if (read) {
                store.mapLock.readLock().unlock();
            }
        }
    }

    /** Visitor of block-map entries. */
    @FunctionalInterface
    public interface BlockVisitor {
        boolean visit(long dblock, long chunkId) throws MetaCorruptException;
    }

    /** Visitor of chunk records. */
    @FunctionalInterface
    public interface ChunkVisitor {
        boolean visit(ChunkRecord chunk) throws MetaCorruptException;
    }
}
