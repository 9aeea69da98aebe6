package io.orion.dedup.meta;

import io.orion.dedup.storage.PrivateFiles;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.LmdbException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one owner of the pool's LMDB environment and its six databases ({@code volumes},
 * {@code blocks}, {@code chunks}, {@code index}, {@code containers}, {@code counters}; layouts in
 * docs/on-disk-format.md).
 *
 * <p>Threads: any thread may open short read transactions ({@link #read()}); exactly one thread
 * (the pool's committer) opens write transactions ({@link #write()}), one per batch. The map is
 * grown ({@link #grow()}) when a write hits MDB_MAP_FULL: growing waits until no read transaction
 * is open (LMDB requires that), so readers hold a shared lock for their short lifetime.
 *
 * <p>Durability: the environment runs with MDB_WRITEMAP | MDB_NOSYNC (commits write into the shared
 * mapping, no copies), so a commit is atomic and survives a process crash but is made durable
 * against power loss only by {@link #sync()}, which the pool calls after
 * forcing the chunk data to the devices (data before the metadata that references it).
 */
public final class MetaStore implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(MetaStore.class);

    final Env<ByteBuffer> env;
    final Dbi<ByteBuffer> volumes;
    final Dbi<ByteBuffer> blocks;
    final Dbi<ByteBuffer> chunks;
    final Dbi<ByteBuffer> index;
    final Dbi<ByteBuffer> containers;
    final Dbi<ByteBuffer> counters;
    final ReentrantReadWriteLock mapLock = new ReentrantReadWriteLock();
    /** Key/value buffers of the (single) write transaction. */
    final ByteBuffer writerKey = ByteBuffer.allocateDirect(512);
    final ByteBuffer writerVal = ByteBuffer.allocateDirect(128);
    final ByteBuffer writerVal2 = ByteBuffer.allocateDirect(128);
    /** Reset read transactions kept for reuse (MDB_NOTLS: not bound to a thread). */
    private final java.util.concurrent.ConcurrentLinkedDeque<org.lmdbjava.Txn<ByteBuffer>> idle =
            new java.util.concurrent.ConcurrentLinkedDeque<>();
    private final Path dir;
    private volatile long mapSize;
    /** What the last integrity check found (never null; empty when sound). */
    private volatile MetaDamage damage = new MetaDamage();
    private volatile LmdbVerifier.Report lastCheck;

    private MetaStore(Path dir, Env<ByteBuffer> env, long mapSize) {
        this.dir = dir;
        this.env = env;
        this.mapSize = Math.max(mapSize, env.info().mapSize);
        this.volumes = env.openDbi("volumes", DbiFlags.MDB_CREATE);
        this.blocks = env.openDbi("blocks", DbiFlags.MDB_CREATE);
        this.chunks = env.openDbi("chunks", DbiFlags.MDB_CREATE);
        this.index = env.openDbi("index", DbiFlags.MDB_CREATE);
        this.containers = env.openDbi("containers", DbiFlags.MDB_CREATE);
        this.counters = env.openDbi("counters", DbiFlags.MDB_CREATE);
    }

    /**
     * Opens (creating if needed) the environment in {@code dir}. The file is checked first
     * ({@link LmdbVerifier}): damage to what everything hangs on (meta pages, the main database) is
     * reported as {@link MetaCorruptException} before LMDB maps it; damage inside the databases
     * opens the store with {@link #damage()} telling which key ranges cannot be trusted (lookups
     * there fail with {@link MetaCorruptException}, and LMDB is never led into a damaged page).
     */
    public static MetaStore open(Path dir, long mapSize) throws IOException {
        return open(dir, mapSize, false);
    }

    /**
     * As {@link #open(Path, long)}; with {@code durableCommits} LMDB syncs every commit itself
     * (no MDB_NOSYNC), so each commit is durable against power loss.
     */
    public static MetaStore open(Path dir, long mapSize, boolean durableCommits) throws IOException {
        PrivateFiles.directory(dir);
        LmdbVerifier.Report check = LmdbVerifier.check(dir.resolve("data.mdb"), -1);
        if (check.damage().fatal() != null) {
            throw new MetaCorruptException("metadata file " + dir.resolve("data.mdb") + " is damaged: "
                    + check.damage().fatal());
        }
        if (!check.damage().isEmpty()) {
            List<String> p = check.damage().problems();
            LOG.error("metadata in {} is damaged ({} ms to check {} pages), {} problem(s){}: {}", dir, check.millis(),
                    check.pages(), p.size(), p.size() > 20 ? ", the first 20" : "", p.subList(0, Math.min(20, p.size())));
        } else {
            LOG.info("metadata in {} checked: {} pages, {} entries, {} ms", dir, check.pages(), check.entries(),
                    check.millis());
        }
        try {
            Env<ByteBuffer> env = Env.create().setMapSize(mapSize).setMaxDbs(8).setMaxReaders(1024)
                    .open(dir.toFile(), durableCommits
                            ? new EnvFlags[] {EnvFlags.MDB_NOTLS, EnvFlags.MDB_WRITEMAP}
                            : new EnvFlags[] {EnvFlags.MDB_NOSYNC, EnvFlags.MDB_NOTLS, EnvFlags.MDB_WRITEMAP});
            try {
                PrivateFiles.restrictFiles(dir); // data.mdb, lock.mdb: LMDB creates them 0664 & ~umask
                MetaStore m = new MetaStore(dir, env, mapSize);
                m.damage = check.damage();
                m.lastCheck = check;
                return m;
            } catch (LmdbException e) {
                env.close();
                throw e;
            }
        } catch (LmdbException e) {
            throw new MetaCorruptException("cannot open metadata in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** What the last integrity check found: empty when the metadata is sound. */
    public MetaDamage damage() {
        return damage;
    }

    /** Figures of the last integrity check. */
    public LmdbVerifier.Report lastCheck() {
        return lastCheck;
    }

    /**
     * Checks the whole file again against one read snapshot (its pages cannot be reused while the
     * check runs, so writes may go on). Damage found is kept for every later lookup; returns it.
     */
    public MetaDamage verify() throws IOException {
        for (int attempt = 0; attempt < 5; attempt++) {
            LmdbVerifier.Report r;
            try (MetaTxn t = read()) {
                r = LmdbVerifier.check(dir.resolve("data.mdb"), t.txn.getId());
            }
            if (!r.stable()) {
                continue; // commits kept rewriting the meta pages while they were read
            }
            lastCheck = r;
            if (!r.damage().isEmpty() || damage.isEmpty()) {
                damage = r.damage();
            }
            return damage;
        }
        LOG.warn("metadata integrity check skipped: the meta pages kept changing under 5 attempts");
        return damage;
    }

    public Path dir() {
        return dir;
    }

    /** Current map size in bytes. */
    public long mapSize() {
        return mapSize;
    }

    /** Opens a short read transaction (a reset one is renewed when available); close it promptly. */
    public MetaTxn read() {
        mapLock.readLock().lock();
        try {
            org.lmdbjava.Txn<ByteBuffer> t = idle.pollFirst();
            if (t != null) {
                try {
                    t.renew();
                } catch (RuntimeException e) {
                    t.close();
                    t = null;
                }
            }
            if (t == null) {
                t = env.txnRead();
            }
            return new MetaTxn(this, t, true);
        } catch (RuntimeException e) {
            mapLock.readLock().unlock();
            throw e;
        }
    }

    /** Takes back a finished read transaction: reset (its snapshot released) and kept for reuse. */
    void release(org.lmdbjava.Txn<ByteBuffer> t) {
        try {
            t.reset();
            idle.offerFirst(t);
        } catch (RuntimeException e) {
            t.close();
        }
    }

    /** Opens the write transaction of one batch; committer thread only. */
    public MetaWriteTxn write() {
        // a null flag array: lmdbjava computes the mask of a non-null one with a stream per call
        return new MetaWriteTxn(this, env.txn(null, (org.lmdbjava.TxnFlags[]) null));
    }

    /** Doubles the map size (after MDB_MAP_FULL); waits for open read transactions to finish. */
    public void grow() {
        mapLock.writeLock().lock();
        try {
            long next = mapSize * 2;
            env.setMapSize(next);
            mapSize = next;
            LOG.info("metadata map grown to {} bytes", next);
        } finally {
            mapLock.writeLock().unlock();
        }
    }

    /** Forces every committed transaction to disk. */
    public void sync() {
        env.sync(true);
    }

    /**
     * Bytes of the metadata file in use (up to its last used page; with MDB_WRITEMAP the file itself
     * is as large as the map, sparse).
     */
    public long fileSize() throws IOException {
        mapLock.readLock().lock();
        try {
            return (env.info().lastPageNumber + 1) * (long) env.stat().pageSize;
        } finally {
            mapLock.readLock().unlock();
        }
    }

    @Override
    public void close() {
        mapLock.writeLock().lock();
        try {
            org.lmdbjava.Txn<ByteBuffer> t;
            while ((t = idle.pollFirst()) != null) {
                t.close();
            }
            if (!env.isClosed()) {
                env.close();
            }
        } finally {
            mapLock.writeLock().unlock();
        }
    }
}
