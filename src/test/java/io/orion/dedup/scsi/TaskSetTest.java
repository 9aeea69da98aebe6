package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.A;
import static io.orion.dedup.scsi.ScsiHarness.cdb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.LbaStatus;
import io.orion.dedup.blockdev.RamBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TaskSetTest {

    /** Writes wait for the gate; everything else goes to a RAM device. */
    static final class GatedDevice implements BlockDevice {
        final RamBlockDevice d = new RamBlockDevice(512, 64);
        final CountDownLatch gate = new CountDownLatch(1);

        @Override public int blockSize() { return 512; }
        @Override public long blockCount() { return 64; }
        @Override public boolean thin() { return true; }
        @Override public void read(long lba, ByteBuffer dst) throws IOException { d.read(lba, dst); }

        @Override
        public void write(long lba, ByteBuffer src, boolean fua) throws IOException {
            try {
                gate.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            d.write(lba, src, fua);
        }

        @Override public void flush() { }
        @Override public void unmap(long lba, long n) throws IOException { d.unmap(lba, n); }
        @Override public void writeSame(long lba, long n, ByteBuffer p, boolean u) throws IOException {
            d.writeSame(lba, n, p, u);
        }
        @Override public long compareAndWrite(long lba, ByteBuffer e, ByteBuffer w, boolean f) throws IOException {
            return d.compareAndWrite(lba, e, w, f);
        }
        @Override public LbaStatus status(long lba, long max) { return d.status(lba, max); }
        @Override public void resize(long n) throws IOException { d.resize(n); }
        @Override public String uuid() { return d.uuid(); }
        @Override public void close() { }
    }

    static ScsiCommand command(byte[] cdb, TaskAttribute attr, byte[] out) {
        return new ScsiCommand(A, 0, cdb, attr, out == null ? 0 : out.length, false, out != null,
                out == null ? null : ByteBuffer.wrap(out), 7);
    }

    @Test
    void orderedWaitsForEarlierTasksAndLaterTasksWaitForIt() throws Exception {
        try (ScsiTargetService target = new ScsiTargetService("iqn.2026-11.io.orion:t", null)) {
            GatedDevice dev = new GatedDevice();
            target.addLun(0, dev, LunOptions.defaults());
            new ScsiHarness(target).login(A, 0);
            byte[] tur = cdb(0, 0, 0, 0, 0, 0);
            CompletableFuture<ScsiResponse> write = target.execute(
                    command(cdb(0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0), TaskAttribute.SIMPLE, new byte[512]));
            CompletableFuture<ScsiResponse> simple = target.execute(command(tur, TaskAttribute.SIMPLE, null));
            assertEquals(ScsiResponse.GOOD, simple.get(5, TimeUnit.SECONDS).status(), "SIMPLE passes SIMPLE");
            CompletableFuture<ScsiResponse> ordered = target.execute(command(tur, TaskAttribute.ORDERED, null));
            CompletableFuture<ScsiResponse> after = target.execute(command(tur, TaskAttribute.SIMPLE, null));
            CompletableFuture<ScsiResponse> head = target.execute(command(tur, TaskAttribute.HEAD_OF_QUEUE, null));
            assertEquals(ScsiResponse.GOOD, head.get(5, TimeUnit.SECONDS).status());
            Thread.sleep(200);
            assertFalse(ordered.isDone(), "ORDERED waits for the earlier write");
            assertFalse(after.isDone(), "a later SIMPLE waits for the ORDERED task");
            dev.gate.countDown();
            assertEquals(ScsiResponse.GOOD, write.get(5, TimeUnit.SECONDS).status());
            assertEquals(ScsiResponse.GOOD, ordered.get(5, TimeUnit.SECONDS).status());
            assertEquals(ScsiResponse.GOOD, after.get(5, TimeUnit.SECONDS).status());
            assertTrue(write.isDone());
        }
    }

    @Test
    void nacaIsRefusedAndShortCdbIsInvalid() {
        try (ScsiTargetService target = new ScsiTargetService("iqn.2026-11.io.orion:t", null)) {
            target.addLun(0, new RamBlockDevice(512, 64), LunOptions.defaults());
            ScsiHarness h = new ScsiHarness(target);
            h.login(A, 0);
            ScsiHarness.assertSense(h.run(A, cdb(0, 0, 0, 0, 0, 0x04)), 0x5, 0x24, 0);
            ScsiHarness.assertSense(h.run(A, cdb(0x28, 0, 0, 0, 0, 0)), 0x5, 0x24, 0);
        }
    }
}
