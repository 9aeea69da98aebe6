package io.orion.dedup.dedup;

import java.nio.ByteBuffer;

/**
 * Child process for the clone crash test: on a pool holding volume "a" and its snapshot "s", it
 * clones "a" again and again (clone i is read-only when i is odd), overwrites a few blocks of "a"
 * and rolls "a" back to "s", printing "CLONED i" after each clone. The parent kills it with
 * SIGKILL at a random moment.
 */
public final class CloneCrashChild {
    private CloneCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        java.nio.file.Path dir = java.nio.file.Path.of(args[0]);
        DedupPool pool = DedupPool.open(PoolFixture.options(dir).build());
        DedupVolume a = pool.openVolume("a").orElseThrow();
        System.out.println("START");
        System.out.flush();
        for (int i = 0; i < 1000; i++) {
            pool.cloneVolume("a", "c" + i, i % 2 == 1);
            System.out.println("CLONED " + i);
            System.out.flush();
            for (int j = 0; j < 4; j++) {
                a.write(j * 100L, ByteBuffer.wrap(PoolFixture.random(9000 + j, 4096)), false);
            }
            pool.rollbackVolume("a", "s");
        }
        System.out.println("DONE");
        System.out.flush();
        pool.close();
    }
}
