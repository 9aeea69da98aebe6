package io.orion.dedup.meta;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.lmdbjava.Cursor;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/**
 * Turns a closed format 5 pool's metadata into what a format 4 build wrote: one {@code chunks}
 * entry per chunk record (chunk id u64 key; the 53 record bytes ‖ CRC32C value), no
 * {@code chunkgroups} (or, with {@code strayGroup}, one left there as by a conversion cut short),
 * counters at format 4.
 */
public final class LegacyChunkTable {
    private LegacyChunkTable() {
    }

    /** Returns the number of chunk records written to {@code chunks}. */
    public static long downgrade(Path meta, boolean strayGroup) {
        long n = 0;
        try (Env<ByteBuffer> env = Env.create().setMapSize(1L << 30).setMaxDbs(16).open(meta.toFile())) {
            Dbi<ByteBuffer> groups = env.openDbi(MetaStore.CHUNK_GROUPS);
            Dbi<ByteBuffer> chunks = env.openDbi(MetaStore.LEGACY_CHUNKS, DbiFlags.MDB_CREATE);
            Dbi<ByteBuffer> counters = env.openDbi("counters");
            try (Txn<ByteBuffer> t = env.txnWrite()) {
                ByteBuffer k = ByteBuffer.allocateDirect(64);
                ByteBuffer v = ByteBuffer.allocateDirect(MetaCodec.GROUP_VAL_MAX + 16);
                ChunkRecord[] recs = new ChunkRecord[MetaCodec.GROUP];
                java.util.List<ChunkRecord> all = new java.util.ArrayList<>();
                try (Cursor<ByteBuffer> c = groups.openCursor(t)) {
                    for (boolean ok = c.first(); ok; ok = c.next()) {
                        ByteBuffer gk = MetaCodec.be(c.key());
                        ByteBuffer gv = MetaCodec.be(c.val());
                        if (MetaCodec.checkGroup(gk, gv) != null) {
                            throw new IllegalStateException("damaged group");
                        }
                        MetaCodec.decodeGroup(gk.getLong(0), gv, recs);
                        for (ChunkRecord r : recs) {
                            if (r != null) {
                                all.add(r);
                            }
                        }
                    }
                }
                for (ChunkRecord r : all) {
                    MetaCodec.chunkKey(k, r.id());
                    MetaCodec.chunkValue(k, v, r);
                    chunks.put(t, k, v);
                    n++;
                }
                groups.drop(t, !strayGroup);
                if (strayGroup) {
                    ChunkRecord[] one = new ChunkRecord[MetaCodec.GROUP];
                    one[3] = new ChunkRecord(MetaCodec.GROUP * 1000L + 3, new byte[32], 1, 0, 100, 4096, 0, 1);
                    MetaCodec.groupKey(k, 1000);
                    MetaCodec.groupValue(k, v, one);
                    groups.put(t, k, v);
                }
                k.clear();
                k.put(MetaCodec.COUNTERS_KEY).flip();
                PoolCounters pc = MetaCodec.counters(MetaCodec.be(counters.get(t, k)));
                MetaCodec.countersValue(k, v, new PoolCounters(4, pc.poolUuid(), pc.slotSize(), pc.nextChunkId(),
                        pc.nextContainerId(), pc.nextVolumeId(), pc.uniqueChunks(), pc.uniqueBytes(), pc.storedBytes()));
                counters.put(t, k, v);
                t.commit();
            }
        }
        return n;
    }
}
