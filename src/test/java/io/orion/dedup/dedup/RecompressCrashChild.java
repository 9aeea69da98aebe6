package io.orion.dedup.dedup;

/**
 * Child process for the recompression crash test: opens the pool with compression on and runs
 * bounded recompression passes (each ends with a flush) one after another, printing "PASS next"
 * after each and "DONE" at the end. The parent kills it with SIGKILL at a random moment.
 */
public final class RecompressCrashChild {
    private RecompressCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        java.nio.file.Path dir = java.nio.file.Path.of(args[0]);
        DedupPool pool = DedupPool.open(PoolFixture.options(dir).compressionEnabled(true).build());
        System.out.println("START");
        System.out.flush();
        long next = 1;
        do {
            RecompressResult r = pool.recompress(next, 8, 0);
            next = r.nextChunkId();
            System.out.println("PASS " + next);
            System.out.flush();
        } while (next != 0);
        System.out.println("DONE");
        System.out.flush();
        pool.close();
    }
}
