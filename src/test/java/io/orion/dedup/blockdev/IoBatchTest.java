package io.orion.dedup.blockdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
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
    void lightBurstRunsOnTheDispatchingThreadInOrderThenItsDeferredActions() {
        Recording io = new Recording();
        List<String> log = new CopyOnWriteArrayList<>();
        Thread me = Thread.currentThread();
        IoBatch batch = new IoBatch();
        for (int i = 0; i < 3; i++) {
            int n = i;
            batch.submit(io, scope -> {
                assertEquals(me, Thread.currentThread());
                assertTrue(scope.inline(), "work on the transport thread is told it must not wait");
                log.add("write " + n);
                scope.defer("commit", () -> log.add("commit"));
            }, 4096);
        }
        assertTrue(log.isEmpty(), "nothing runs before the batch is dispatched");
        batch.dispatch();
        assertEquals(List.of("write 0", "write 1", "write 2", "commit"), log);
        assertTrue(io.tasks.isEmpty(), "the I/O executor was not involved");
    }

    @Test
    void burstWithOrdinaryWorkGoesToTheExecutorAsOneTaskInOneScope() {
        Recording io = new Recording();
        List<String> log = new CopyOnWriteArrayList<>();
        IoBatch batch = new IoBatch();
        batch.submit(io, scope -> {
            assertFalse(scope.inline());
            log.add("light");
            scope.defer("commit", () -> log.add("commit"));
        }, 4096);
        batch.submit(io, scope -> {
            log.add("ordinary");
            scope.defer("commit", () -> log.add("commit again"));
        });
        batch.dispatch();
        assertTrue(log.isEmpty());
        assertEquals(1, io.tasks.size());
        io.tasks.get(0).run();
        assertEquals(List.of("light", "ordinary", "commit"), log, "one deferred commit for the burst");
    }

    @Test
    void lightBurstAboveTheLimitGoesToTheExecutor() {
        Recording io = new Recording();
        List<String> log = new CopyOnWriteArrayList<>();
        IoBatch batch = new IoBatch();
        int each = 64 * 1024;
        int n = IoBatch.INLINE_MAX_BYTES / each + 1;
        for (int i = 0; i < n; i++) {
            batch.submit(io, scope -> log.add("w"), each);
        }
        batch.dispatch();
        assertTrue(log.isEmpty());
        assertEquals(1, io.tasks.size());
        io.tasks.get(0).run();
        assertEquals(n, log.size());
    }

    @Test
    void workSubmittedAfterTheDispatchOrFromAnotherThreadOrWithoutABatchGoesStraightToTheExecutor() throws Exception {
        Recording io = new Recording();
        List<String> log = new CopyOnWriteArrayList<>();
        IoBatch batch = new IoBatch();
        batch.dispatch();
        batch.submit(io, scope -> log.add("after"), 4096);
        assertEquals(1, io.tasks.size(), "a dispatched batch collects nothing more");
        IoBatch open = new IoBatch();
        Thread other = new Thread(() -> open.submit(io, scope -> log.add("other thread"), 4096));
        other.start();
        other.join();
        assertEquals(2, io.tasks.size(), "a batch collects only its own thread's work");
        IoBatch.submit(null, io, scope -> log.add("no batch"), 4096);
        assertEquals(3, io.tasks.size());
        open.dispatch();
        assertEquals(3, io.tasks.size(), "the open batch had nothing");
        assertTrue(log.isEmpty());
        io.tasks.forEach(Runnable::run);
        assertEquals(List.of("after", "other thread", "no batch"), log);
    }

    @Test
    void inlineWorkThatWouldWaitGoesToTheExecutorAfterTheDeferredActionsWithTheWorkBehindIt() {
        Recording io = new Recording();
        List<String> log = new CopyOnWriteArrayList<>();
        AtomicReference<IoBatch.Scope> later = new AtomicReference<>();
        IoBatch batch = new IoBatch();
        batch.submit(io, scope -> {
            log.add("first");
            scope.defer("commit", () -> log.add("commit"));
        }, 4096);
        batch.submit(io, scope -> scope.handOff(s -> {
            later.set(s);
            log.add("handed off");
        }), 4096);
        batch.submit(io, scope -> log.add("third"), 4096);
        batch.dispatch();
        assertEquals(List.of("first", "commit"), log, "the deferred commit ran before the hand-off");
        assertEquals(1, io.tasks.size());
        io.tasks.get(0).run();
        assertEquals(List.of("first", "commit", "handed off", "third"), log, "the burst kept its order");
        assertFalse(later.get().inline(), "the handed-off work may wait");
    }
}
