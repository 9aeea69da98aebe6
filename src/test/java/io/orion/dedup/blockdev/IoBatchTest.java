package io.orion.dedup.blockdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

class IoBatchTest {

    /** An executor that records what it was handed and runs nothing until told. */
    private static final class Recording implements Executor {
        final List<Runnable> tasks = new ArrayList<>();

        @Override
        public void execute(Runnable r) {
            tasks.add(r);
        }
    }

    @Test
    void lightBurstRunsOnTheClosingThreadInOrderThenItsDeferredActions() {
        Recording io = new Recording();
        List<String> log = new CopyOnWriteArrayList<>();
        Thread me = Thread.currentThread();
        IoBatch.open();
        for (int i = 0; i < 3; i++) {
            int n = i;
            IoBatch.submit(io, () -> {
                assertEquals(me, Thread.currentThread());
                log.add("write " + n);
                IoBatch.defer("commit", () -> log.add("commit"));
            }, 4096);
        }
        assertTrue(log.isEmpty(), "nothing runs before the batch closes");
        IoBatch.close();
        assertEquals(List.of("write 0", "write 1", "write 2", "commit"), log);
        assertTrue(io.tasks.isEmpty(), "the I/O executor was not involved");
    }

    @Test
    void burstWithOrdinaryWorkGoesToTheExecutorAsOneTask() {
        Recording io = new Recording();
        List<String> log = new CopyOnWriteArrayList<>();
        IoBatch.open();
        IoBatch.submit(io, () -> log.add("light"), 4096);
        IoBatch.submit(io, () -> log.add("ordinary"));
        IoBatch.close();
        assertTrue(log.isEmpty());
        assertEquals(1, io.tasks.size());
        io.tasks.get(0).run();
        assertEquals(List.of("light", "ordinary"), log);
    }

    @Test
    void lightBurstAboveTheLimitGoesToTheExecutor() {
        Recording io = new Recording();
        List<String> log = new CopyOnWriteArrayList<>();
        IoBatch.open();
        int each = 64 * 1024;
        int n = IoBatch.INLINE_MAX_BYTES / each + 1;
        for (int i = 0; i < n; i++) {
            IoBatch.submit(io, () -> log.add("w"), each);
        }
        IoBatch.close();
        assertTrue(log.isEmpty());
        assertEquals(1, io.tasks.size());
        io.tasks.get(0).run();
        assertEquals(n, log.size());
    }

    @Test
    void withoutAnOpenBatchWorkGoesStraightToTheExecutor() {
        Recording io = new Recording();
        List<String> log = new CopyOnWriteArrayList<>();
        IoBatch.submit(io, () -> log.add("w"), 4096);
        assertEquals(1, io.tasks.size());
        assertTrue(log.isEmpty());
        IoBatch.close(); // no batch open: nothing happens
        assertEquals(1, io.tasks.size());
    }
}
