package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A flush that runs on an interrupted thread (the cleanup timer's, when the pool closes) neither
 * fails nor leaves the flushed-state file closed for the flushes after it. Found by CI under load:
 * {@code CleanupTest.theTimerCleansUpByItself} failed in close with a ClosedChannelException.
 */
class FlushInterruptTest {
    @TempDir
    Path dir;

    @Test
    void aFlushOnAnInterruptedThreadLeavesLaterFlushesWorking() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 64L << 20)) {
            try (MetaWriteTxn w = m.write()) {
                w.putChunk(new ChunkRecord(1, new byte[32], 1, 64, 4156, 4096, 0, 1));
                w.commit();
            }
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread t = new Thread(() -> {
                Thread.currentThread().interrupt();
                try {
                    m.sync();
                } catch (Throwable e) {
                    failed.set(e);
                }
            });
            t.start();
            t.join();
            assertNull(failed.get(), () -> "the interrupted flush failed: " + failed.get());
            try (MetaWriteTxn w = m.write()) {
                w.putChunk(new ChunkRecord(2, new byte[32], 1, 4220, 4156, 4096, 0, 1));
                w.commit();
            }
            m.sync(); // threw ClosedChannelException: the interrupted write had closed the channel
        }
        try (MetaStore m = MetaStore.open(dir, 64L << 20); MetaTxn r = m.read()) {
            assertEquals(4220, r.chunk(2).offset());
        }
    }
}
