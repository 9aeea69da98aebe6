package io.orion.dedup.dedup;

import io.orion.dedup.blockdev.PrivateFiles;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The one-owner lock of a pool: an exclusive lock on {@code <metadata dir>/pool.lock}, taken before
 * anything of the pool is read or written and held until it is closed. A second server (or a
 * second open in this process) on the same pool is refused before it can check the metadata, cut
 * what it takes for torn container tails (another server's appends in flight), save a power-loss
 * state over the first one's or seal the file: the lock is the first thing {@link DedupPool#open}
 * does. The kernel drops it when the process dies, so a crash leaves nothing to clean up.
 */
final class PoolLock implements Closeable {
    static final String FILE = "pool.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private PoolLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock of the pool whose metadata lives in {@code metadataDir} (created if needed). */
    static PoolLock take(Path metadataDir) throws IOException {
        PrivateFiles.directory(metadataDir);
        Path f = metadataDir.resolve(FILE);
        FileChannel ch = PrivateFiles.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock l;
        try {
            l = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            l = null; // this process has the pool open already
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (l == null) {
            ch.close();
            throw new DedupPool.PoolRefusedException("the pool in " + metadataDir + " is open in another server (it"
                    + " holds " + f + "); stop that server first: two servers on one pool would destroy each other's"
                    + " writes");
        }
        return new PoolLock(ch, l);
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
