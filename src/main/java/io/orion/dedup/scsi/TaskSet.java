package io.orion.dedup.scsi;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Ordering of one logical unit's task set by task attribute (SAM-5 §8.6): SIMPLE tasks run
 * concurrently (the control page reports QUEUE ALGORITHM MODIFIER 1, unrestricted reordering); an
 * ORDERED task starts only after every task that arrived before it has completed, and tasks that
 * arrive after it wait for it; HEAD OF QUEUE tasks start at once.
 *
 * <p>Concurrency: {@link #admit} is called on the transport's thread in arrival order and returns a
 * future the caller chains the task on; nothing blocks. Guarded by this object's monitor.
 */
final class TaskSet {

    private static final int PRUNE_AT = 64;

    /** Completes when the last ORDERED task (and everything before it) has completed. */
    private CompletableFuture<?> barrier = CompletableFuture.completedFuture(null);
    /** Tasks admitted since the last ORDERED task, not yet known to be complete. */
    private final List<CompletableFuture<?>> sinceBarrier = new ArrayList<>();

    /**
     * Admits a task whose completion is {@code done}; returns when it may start.
     */
    synchronized CompletableFuture<?> admit(TaskAttribute attribute, CompletableFuture<?> done) {
        switch (attribute) {
            case HEAD_OF_QUEUE -> {
                return CompletableFuture.completedFuture(null);
            }
            case ORDERED -> {
                List<CompletableFuture<?>> before = new ArrayList<>(sinceBarrier);
                before.add(barrier);
                CompletableFuture<?> start = CompletableFuture.allOf(before.toArray(new CompletableFuture<?>[0]));
                sinceBarrier.clear();
                barrier = done;
                return start;
            }
            default -> {
                if (sinceBarrier.size() >= PRUNE_AT) {
                    sinceBarrier.removeIf(CompletableFuture::isDone);
                }
                sinceBarrier.add(done);
                return barrier;
            }
        }
    }
}
