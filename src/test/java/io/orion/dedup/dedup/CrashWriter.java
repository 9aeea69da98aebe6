package io.orion.dedup.dedup;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

/**
 * Child process for the crash test: writes blocks whose content is derived from (lba, generation)
 * with several threads, flushes periodically and prints "FLUSHED gen" after each completed flush
 * (every write of generations <= gen finished before it). The parent kills it with SIGKILL.
 */
public final class CrashWriter {
    private CrashWriter() {
    }

    static byte[] content(long lba, int gen) {
        if (lba % 7 == 3) {
            return new byte[4096];
        }
        long seed = lba % 5 == 0 ? (lba % 40) : lba * 1_000_003L + gen;
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int blocks = Integer.parseInt(args[1]);
        DedupPool pool = DedupPool.open(PoolFixture.options(dir).build());
        DedupVolume v = pool.openVolume("lun").orElseGet(() -> {
            try {
                return pool.createVolume("lun", 4096, blocks * 4096L, 4096);
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        });
        int start = Integer.parseInt(args[2]);
        for (int gen = start; ; gen++) {
            int g = gen;
            Thread[] ts = new Thread[4];
            for (int t = 0; t < ts.length; t++) {
                int me = t;
                ts[t] = new Thread(() -> {
                    try {
                        for (long lba = me; lba < blocks; lba += 4) {
                            if ((lba + g) % 3 != 0) {
                                v.write(lba, ByteBuffer.wrap(content(lba, g)), false);
                            }
                        }
                    } catch (java.io.IOException e) {
                        e.printStackTrace();
                        System.exit(3);
                    }
                });
                ts[t].start();
            }
            for (Thread t : ts) {
                t.join();
            }
            pool.flush();
            System.out.println("FLUSHED " + g);
            System.out.flush();
        }
    }
}
