package io.orion.dedup.dedup;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Child process for {@link PowerLossTest}: opens the pool under {@code args[0]}, writes generation
 * 1 of {@code args[1]} blocks and flushes, prints "FLUSHED", waits for a line on stdin, writes
 * generation 2 over half of them and new blocks past them without flushing, prints "WRITTEN" and
 * waits to be killed. Run with {@code -Dorion.flushEveryMillis} large, so nothing flushes by itself.
 */
public final class PowerLossChild {
    private PowerLossChild() {
    }

    static byte[] content(long lba, int gen) {
        return lba % 9 == 4 ? new byte[4096] : PoolFixture.random(lba * 7919L + gen * 1_000_003L, 4096);
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int blocks = Integer.parseInt(args[1]);
        DedupPool pool = DedupPool.open(PoolFixture.options(dir).build());
        DedupVolume v = pool.createVolume("lun", 4096, 4L * blocks * 4096L, 4096);
        for (long lba = 0; lba < blocks; lba++) {
            v.write(lba, ByteBuffer.wrap(content(lba, 1)), false);
        }
        pool.flush();
        System.out.println("FLUSHED");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        in.readLine();
        for (long lba = 0; lba < 2L * blocks; lba++) {
            if (lba >= blocks || lba % 2 == 0) {
                v.write(lba, ByteBuffer.wrap(content(lba, 2)), false);
            }
        }
        System.out.println("WRITTEN");
        System.out.flush();
        Thread.sleep(600_000);
    }
}
