package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.ScsiHarness.A;
import static io.orion.dedup.scsi.ScsiHarness.assertGood;
import static io.orion.dedup.scsi.ScsiHarness.assertSense;
import static io.orion.dedup.scsi.ThirdPartyCopyTest.cscd;
import static io.orion.dedup.scsi.ThirdPartyCopyTest.segment;
import static io.orion.dedup.scsi.ThirdPartyCopyTest.xcopyList;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.RamBlockDevice;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Removing a LUN waits for the EXTENDED COPYs sent to another LUN that resolved it by its NAA (they
 * are not addressed to its LUN number), so its device is not closed or deleted under a running
 * copy; a copy that names a LUN removed meanwhile is refused.
 */
class CopyDetachTest {
    static final int BS = ThirdPartyCopyTest.BS;
    static final long BLOCKS = ThirdPartyCopyTest.BLOCKS;

    /** A RAM device whose copies into it signal {@code copying}, then wait for {@code release}. */
    private static BlockDevice heldCopies(CountDownLatch copying, CountDownLatch release) {
        return new DelegatingDevice(new RamBlockDevice(BS, BLOCKS)) {
            @Override
            public void copyFrom(BlockDevice source, long srcLba, long dstLba, long blocks) throws IOException {
                copying.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
                super.copyFrom(source, srcLba, dstLba, blocks);
            }
        };
    }

    @Test
    void removingALunWaitsForACopyIntoItSentToAnotherLun() throws Exception {
        CountDownLatch copying = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        BlockDevice slow = heldCopies(copying, release);
        CopyManager copies = new CopyManager();
        try (ScsiTargetService one = new ScsiTargetService("iqn.2026-11.io.orion:one", null);
             ScsiTargetService two = new ScsiTargetService("iqn.2026-11.io.orion:two", null)) {
            one.useCopyManager(copies);
            two.useCopyManager(copies);
            one.addLun(0, new RamBlockDevice(BS, BLOCKS), LunOptions.defaults());
            two.addLun(0, slow, LunOptions.defaults());
            ScsiHarness h1 = new ScsiHarness(one);
            ScsiHarness h2 = new ScsiHarness(two);
            h1.login(A, 0);
            h2.login(A, 0);
            ThirdPartyCopyTest naas = new ThirdPartyCopyTest();
            byte[] list = xcopyList(1, List.of(cscd(naas.naa(h1, 0)), cscd(naas.naa(h2, 0))),
                    List.of(segment(0, 1, 16, 0, 0)));

            CompletableFuture<ScsiResponse> copy = CompletableFuture.supplyAsync(() -> naas.xcopy(h1, 0, list));
            assertTrue(copying.await(10, TimeUnit.SECONDS));
            two.removeLun(0);
            assertFalse(two.awaitIdle(0, Duration.ofMillis(300)),
                    "the removed LUN's device is still being copied into");
            release.countDown();
            assertGood(copy.get(10, TimeUnit.SECONDS));
            assertTrue(two.awaitIdle(0, Duration.ofSeconds(5)));

            // named again after the removal: unreachable, not copied into a closed device
            assertSense(naas.xcopy(h1, 0, list), 0xa, 0x0d, 0x02);
        }
    }

    @Test
    void removingALunWaitsForAWriteUsingTokenThatReadsIt() throws Exception {
        CountDownLatch copying = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        BlockDevice slow = heldCopies(copying, release);
        CopyManager copies = new CopyManager();
        try (ScsiTargetService one = new ScsiTargetService("iqn.2026-11.io.orion:one", null);
             ScsiTargetService two = new ScsiTargetService("iqn.2026-11.io.orion:two", null)) {
            one.useCopyManager(copies);
            two.useCopyManager(copies);
            one.addLun(0, new RamBlockDevice(BS, BLOCKS), LunOptions.defaults());
            two.addLun(0, slow, LunOptions.defaults());
            ThirdPartyCopyTest t = new ThirdPartyCopyTest();
            t.h1 = new ScsiHarness(one);
            ScsiHarness h2 = new ScsiHarness(two);
            t.h1.login(A, 0);
            h2.login(A, 0);
            byte[] token = t.populate(1, 0, 0, 16);

            // the WRITE USING TOKEN is addressed to target two; its source is LU 0 of target one
            CompletableFuture<ScsiResponse> copy = CompletableFuture.supplyAsync(
                    () -> t.writeUsing(h2, 2, ThirdPartyCopyTest.writeUsingList(token, 0, 0, 0, 16)));
            assertTrue(copying.await(10, TimeUnit.SECONDS));
            one.removeLun(0);
            assertFalse(one.awaitIdle(0, Duration.ofMillis(300)),
                    "the removed LUN's device is still being read by the copy");
            release.countDown();
            copy.get(10, TimeUnit.SECONDS);
            assertTrue(one.awaitIdle(0, Duration.ofSeconds(5)));
        }
    }
}
