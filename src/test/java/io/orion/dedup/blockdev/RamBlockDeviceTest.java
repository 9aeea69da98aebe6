package io.orion.dedup.blockdev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class RamBlockDeviceTest {

    @Test
    void thinTrackingOfMappedBlocks() throws Exception {
        RamBlockDevice d = new RamBlockDevice(512, 100);
        assertEquals(new LbaStatus(0, 100, false), d.status(0, 1000));
        d.write(10, ByteBuffer.allocate(512 * 5), false);
        assertEquals(new LbaStatus(10, 5, true), d.status(10, 100));
        assertEquals(5, d.mappedBlocks());
        d.unmap(11, 2);
        assertEquals(new LbaStatus(11, 2, false), d.status(11, 100));
        d.writeSame(20, 10, ByteBuffer.allocate(512), true);
        assertEquals(3, d.mappedBlocks());
        d.resize(11);
        assertEquals(1, d.mappedBlocks());
    }

    /** Concurrent COMPARE AND WRITE on one block acts as a lock: exactly one winner per round. */
    @Test
    void compareAndWriteIsAtomicUnderContention() throws Exception {
        RamBlockDevice d = new RamBlockDevice(512, 4);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            for (int round = 0; round < 50; round++) {
                int expect = round;
                List<Future<Long>> results = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    int me = t;
                    results.add(pool.submit(() -> {
                        ByteBuffer e = ByteBuffer.allocate(512);
                        e.putInt(0, expect);
                        ByteBuffer w = ByteBuffer.allocate(512);
                        w.putInt(0, expect + 1);
                        w.putInt(4, me);
                        return d.compareAndWrite(0, e, w, false);
                    }));
                }
                int winners = 0;
                for (Future<Long> f : results) {
                    if (f.get() == -1) {
                        winners++;
                    }
                }
                assertEquals(1, winners, "round " + round);
                ByteBuffer now = ByteBuffer.allocate(512);
                d.read(0, now);
                assertEquals(round + 1, now.getInt(0));
                // Reset the tail bytes so the next round compares only on the counter
                ByteBuffer reset = ByteBuffer.allocate(512);
                reset.putInt(0, round + 1);
                d.write(0, reset, false);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void rangeLockExcludesOnlyOverlaps() throws Exception {
        LbaRangeLock locks = new LbaRangeLock();
        LbaRangeLock.Range a = locks.lock(0, 10);
        LbaRangeLock.Range b = locks.lock(10, 10);
        assertEquals(2, locks.heldCount());
        Thread t = new Thread(() -> locks.lock(5, 1).close());
        t.start();
        t.join(200);
        assertTrue(t.isAlive(), "overlapping lock must wait");
        a.close();
        t.join(5000);
        assertEquals(1, locks.heldCount());
        b.close();
        assertEquals(0, locks.heldCount());
    }
}
