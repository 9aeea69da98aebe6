package io.orion.dedup.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.iscsi.RawInitiator;
import io.orion.dedup.iscsi.RawInitiator.Outcome;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance 4 of issue 12: a size-limited pool (one 256 MiB container device: four 64 MiB slots,
 * {@code space_warning_percent = 60}) filled by a writer. The writer gets THIN PROVISIONING SOFT
 * THRESHOLD REACHED (6h 38h/07h) exactly once, then DATA PROTECT, SPACE ALLOCATION FAILED WRITE
 * PROTECT (7h 27h/07h), asserted through a raw iSCSI initiator and shown by {@code qemu-img} too;
 * reads and an overwrite that needs no new space still work; a second session gets the warning
 * once; after {@code lun delete --destroy} and {@code dedup-reference-cleanup} free the space,
 * writes work again.
 */
class ThinProvisioningIT {

    private static final Duration LIMIT = Duration.ofMinutes(3);
    private static final String IQN = ServerProcess.DEFAULT_IQN;
    private static final int WRITE = 256 << 10;
    private static final String KEYS = "ImmediateData=Yes\0FirstBurstLength=262144\0MaxBurstLength=1048576\0"
            + "MaxRecvDataSegmentLength=262144\0";

    private static byte[] write10(long lba, int blocks) {
        return new byte[] {0x2a, 0, (byte) (lba >> 24), (byte) (lba >> 16), (byte) (lba >> 8), (byte) lba, 0,
            (byte) (blocks >> 8), (byte) blocks, 0};
    }

    private static byte[] read10(long lba, int blocks) {
        byte[] c = write10(lba, blocks);
        c[0] = 0x28;
        return c;
    }

    private static final byte[] TUR = new byte[6];

    private static RawInitiator session(int port, String initiator, long isid) throws IOException {
        RawInitiator s = new RawInitiator(new InetSocketAddress("127.0.0.1", port));
        assertEquals(0, s.login(initiator, IQN, isid, 0, 0, KEYS), "login of " + initiator);
        return s;
    }

    /** TEST UNIT READY until GOOD; returns how often THIN PROVISIONING SOFT THRESHOLD REACHED came. */
    private static int settle(RawInitiator s, int lun) throws IOException {
        int warnings = 0;
        for (int i = 0; i < 10; i++) {
            Outcome o = s.scsi(lun, TUR, null, 0);
            if (o.status() == 0) {
                return warnings;
            }
            assertEquals(0x6, o.key(), "only unit attentions before GOOD: " + o.describe());
            if (o.sense(0x6, 0x38, 0x07)) {
                warnings++;
            }
        }
        throw new AssertionError("TEST UNIT READY never answered GOOD");
    }

    private static byte[] random(SplittableRandom r, int len) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i += 8) {
            long v = r.nextLong();
            for (int k = 0; k < 8 && i + k < len; k++) {
                b[i + k] = (byte) (v >>> (8 * k));
            }
        }
        return b;
    }

    @Test
    void fullPoolAnswersSpaceAllocationFailedWarnsOnceAndRecoversAfterDelete(@TempDir Path dir) throws Exception {
        Path config = AdminTools.config(dir, 0);
        String text = Files.readString(config);
        String pool = "space_warning_percent = 60\ndevices = [ { path = \""
                + dir.resolve("chunks.0") + "\", size = \"256MiB\" } ]\n";
        assertTrue(text.contains("space_warning_percent = 90\n"), "conf/dedup.toml sets the default threshold");
        Files.writeString(config, text.replace("space_warning_percent = 90\n", pool));
        Path targets = ServerProcess.copyTargets(dir);
        int port = ServerProcess.freePort();
        SplittableRandom rnd = new SplittableRandom(12);
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), targets, config, port)) {
            // LUN 1: the scratch LUN the writer fills
            AdminTools.cli(server, "lun", "create", IQN, "--size", "4GiB", "--lun", "1").assertOk();
            try (RawInitiator a = session(port, "iqn.2026-12.test:writer", 0x23d000000001L);
                 RawInitiator b = session(port, "iqn.2026-12.test:reader", 0x23d000000002L)) {
                assertEquals(0, settle(a, 0));
                assertEquals(0, settle(a, 1));
                assertEquals(0, settle(b, 0));
                byte[] kept = random(rnd, WRITE);
                assertEquals("GOOD", a.scsi(0, write10(0, WRITE / 512), kept, 0).describe());

                // fill LUN 1: the soft threshold warns once, then the pool is full
                int warnings = 0;
                long lba = 0;
                Outcome last = null;
                byte[] data = random(rnd, WRITE);
                for (int i = 0; i < 4000; i++) {
                    last = a.scsi(1, write10(lba, WRITE / 512), data, 0);
                    if (last.status() == 0) {
                        lba += WRITE / 512;
                        data = random(rnd, WRITE);
                        continue;
                    }
                    if (last.sense(0x6, 0x38, 0x07)) {
                        warnings++;
                        continue; // a unit attention: the write was not done, send it again
                    }
                    break;
                }
                System.out.printf("writer: %d MiB written to LUN 1, then %s; %d soft-threshold warning(s)%n",
                        lba * 512 >> 20, last.describe(), warnings);
                assertTrue(last.sense(0x7, 0x27, 0x07), "SPACE ALLOCATION FAILED WRITE PROTECT, got " + last.describe());
                assertEquals(1, warnings, "THIN PROVISIONING SOFT THRESHOLD REACHED exactly once on the writer's nexus");
                assertTrue(lba * 512 > 100L << 20, "the warning came before the pool was full: " + (lba * 512));
                // the writer keeps getting 07/27/07, never MEDIUM ERROR, and no second warning
                for (int i = 0; i < 3; i++) {
                    Thread.sleep(150);
                    Outcome again = a.scsi(1, write10(lba, WRITE / 512), random(rnd, WRITE), 0);
                    assertTrue(again.sense(0x7, 0x27, 0x07), again.describe());
                }

                // reads still work, on both nexuses; each gets the warning of LUN 0 once
                Outcome r = a.scsi(0, read10(0, WRITE / 512), null, WRITE);
                if (r.sense(0x6, 0x38, 0x07)) {
                    r = a.scsi(0, read10(0, WRITE / 512), null, WRITE);
                }
                assertEquals("GOOD", r.describe());
                assertArrayEquals(kept, r.data());
                assertEquals(1, settle(b, 0), "the other nexus: the warning once");
                Outcome rb = b.scsi(0, read10(0, WRITE / 512), null, WRITE);
                assertEquals("GOOD", rb.describe());
                assertArrayEquals(kept, rb.data());
                Thread.sleep(150);
                assertEquals(0, settle(b, 0), "no second warning");
                // an overwrite with data the pool holds needs no new space
                assertEquals("GOOD", b.scsi(0, write10(1024, WRITE / 512), kept, 0).describe());

                // what a host's tool shows: qemu-img reports the sense of a write on the full pool
                Path img = dir.resolve("more.img");
                try (OutputStream out = Files.newOutputStream(img)) {
                    out.write(random(rnd, 8 << 20));
                }
                ExternalTool.Result q = ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw",
                        img.toString(), server.url(0));
                System.out.println("qemu-img on the full pool: " + q.output().strip());
                assertNotEquals(0, q.exitCode(), q.output());
                assertTrue(q.output().contains("DATA PROTECTION(7)") && q.output().contains("(0x2707)"), q.output());

                // free the space: delete the scratch LUN with its volume, clean up; writes work again
                AdminTools.cli(server, "lun", "delete", IQN, "1", "--force", "--destroy").assertOk();
                AdminTools.script(server, "dedup-reference-cleanup").assertOk();
                Outcome w = null;
                for (int i = 0; i < 5; i++) {
                    w = a.scsi(0, write10(4096, WRITE / 512), data, 0);
                    if (w.status() == 0 || w.key() != 0x6) {
                        break;
                    }
                }
                assertEquals("GOOD", w.describe(), "a new write after the space was freed");
                Outcome back = null;
                for (int i = 0; i < 5; i++) {
                    back = b.scsi(0, read10(4096, WRITE / 512), null, WRITE);
                    if (back.status() == 0 || back.key() != 0x6) {
                        break; // unit attentions (REPORTED LUNS DATA HAS CHANGED) first
                    }
                }
                assertEquals("GOOD", back.describe());
                assertArrayEquals(data, back.data());
                ExternalTool.Result q2 = ExternalTool.run(LIMIT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw",
                        img.toString(), server.url(0));
                assertEquals(0, q2.exitCode(), "qemu-img writes again: " + q2.output());
            }
            assertTrue(server.alive(), server.output());
        }
    }
}
