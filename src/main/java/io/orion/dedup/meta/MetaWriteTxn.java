package io.orion.dedup.meta;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.lmdbjava.PutFlags;
import org.lmdbjava.Txn;

/** The write transaction of one batch (committer thread only). Commit or abort exactly once. */
public final class MetaWriteTxn extends MetaTxn {
    /**
     * Plain put (no flags). lmdbjava 0.9.1 computes the flag mask of a non-null varargs array with a
     * stream on every put; for a null array MaskedFlag.mask returns 0 at once (no stream, no allocation).
     */
    private static final PutFlags[] NO_FLAGS = null;
    private final ByteBuffer val2;

    MetaWriteTxn(MetaStore store, Txn<ByteBuffer> txn) {
        super(store, txn, false);
        this.val2 = store.writerVal2;
    }

    public void putBlock(int volume, long dblock, long chunkId) {
        MetaCodec.blockKey(key, volume, dblock);
        MetaCodec.longValue(key, val, chunkId);
        store.blocks.put(txn, key, val, NO_FLAGS);
    }

    public void deleteBlock(int volume, long dblock) {
        MetaCodec.blockKey(key, volume, dblock);
        store.blocks.delete(txn, key);
    }

    public void putChunk(ChunkRecord r) {
        MetaCodec.chunkKey(key, r.id());
        MetaCodec.chunkValue(key, val, r);
        store.chunks.put(txn, key, val, NO_FLAGS);
    }

    public void deleteChunk(long id) {
        MetaCodec.chunkKey(key, id);
        store.chunks.delete(txn, key);
    }

    public void putIndex(byte[] fp, long chunkId) {
        MetaCodec.indexKey(key, fp);
        MetaCodec.longValue(key, val, chunkId);
        store.index.put(txn, key, val, NO_FLAGS);
    }

    public void deleteIndex(byte[] fp) {
        MetaCodec.indexKey(key, fp);
        store.index.delete(txn, key);
    }

    public void putVolume(VolumeRecord r) {
        key.clear();
        key.put(r.name().getBytes(StandardCharsets.UTF_8)).flip();
        MetaCodec.volumeValue(key, val2, r);
        store.volumes.put(txn, key, val2, NO_FLAGS);
    }

    public void deleteVolume(String name) {
        key.clear();
        key.put(name.getBytes(StandardCharsets.UTF_8)).flip();
        store.volumes.delete(txn, key);
    }

    /**
     * Replaces the persistent reservation image of volume {@code volume} (null: removes it), cut
     * into fragments of at most {@link MetaCodec#RESERVATION_FRAGMENT} bytes, each with its CRC.
     */
    public void putReservations(int volume, byte[] image) {
        deleteReservations(volume);
        if (image == null) {
            return;
        }
        ByteBuffer v = ByteBuffer.allocateDirect(MetaCodec.RESERVATION_FRAGMENT + 4);
        for (int f = 0, at = 0; at < image.length || f == 0; f++, at += MetaCodec.RESERVATION_FRAGMENT) {
            int n = Math.min(MetaCodec.RESERVATION_FRAGMENT, image.length - at);
            MetaCodec.reservationKey(key, volume, f);
            v.clear();
            v.put(image, at, n);
            MetaCodec.seal(key, v);
            store.reservations.put(txn, key, v, NO_FLAGS);
        }
    }

    /** Removes the persistent reservation image of volume {@code volume}, if any. */
    public void deleteReservations(int volume) {
        for (int f = 0; ; f++) {
            MetaCodec.reservationKey(key, volume, f);
            if (!store.reservations.delete(txn, key)) {
                return;
            }
        }
    }

    public void putContainer(ContainerRecord r) {
        MetaCodec.containerKey(key, r.id());
        MetaCodec.containerValue(key, val, r);
        store.containers.put(txn, key, val, NO_FLAGS);
    }

    public void deleteContainer(int id) {
        MetaCodec.containerKey(key, id);
        store.containers.delete(txn, key);
    }

    public void putCounters(PoolCounters c) {
        key.clear();
        key.put(MetaCodec.COUNTERS_KEY).flip();
        MetaCodec.countersValue(key, val2, c);
        store.counters.put(txn, key, val2, NO_FLAGS);
    }

    public void commit() {
        txn.commit();
    }

    public void abort() {
        txn.abort();
    }
}
