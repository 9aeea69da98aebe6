package io.orion.dedup.iscsi;

import io.orion.dedup.scsi.Nexus;
import io.orion.dedup.scsi.ScsiCommand;
import io.orion.dedup.scsi.ScsiResponse;
import io.orion.dedup.scsi.ScsiTarget;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test-only command layer: one RAM LUN of 512-byte blocks answering the few commands initiator
 * tools need (INQUIRY with VPD 0x00/0x80/0x83/0xB0, REPORT LUNS, READ CAPACITY 10/16, TEST UNIT
 * READY, MODE SENSE 6/10, READ/WRITE 10/16, SYNCHRONIZE CACHE). Runs commands on its own
 * executor like the real layer.
 */
final class RamScsiTarget implements ScsiTarget {

    static final int BLOCK = 512;

    private final byte[] disk;
    private final long blocks;
    private final ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "ram-scsi");
        t.setDaemon(true);
        return t;
    });
    final List<Nexus> lost = new CopyOnWriteArrayList<>();
    final AtomicInteger resets = new AtomicInteger();
    volatile long delayMillis;

    RamScsiTarget(int megabytes) {
        this.disk = new byte[megabytes << 20];
        this.blocks = disk.length / BLOCK;
    }

    @Override
    public CompletableFuture<ScsiResponse> execute(ScsiCommand c, io.orion.dedup.blockdev.IoBatch batch) {
        return CompletableFuture.supplyAsync(() -> {
            if (delayMillis > 0) {
                try {
                    Thread.sleep(delayMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return run(c);
        }, executor);
    }

    private ScsiResponse run(ScsiCommand c) {
        byte[] cdb = c.cdb();
        if (c.lun() != 0 && c.opcode() != 0x12 && c.opcode() != 0xa0) {
            return check(0x05, 0x25, 0x00); // LOGICAL UNIT NOT SUPPORTED
        }
        switch (c.opcode()) {
            case 0x00:
            case 0x35:
            case 0x91:
                return good(null);
            case 0x12:
                return inquiry(c, cdb);
            case 0xa0: {
                ByteBuffer b = ByteBuffer.allocate(16);
                b.putInt(8).putInt(0).putLong(0);
                return good(limit(b.flip(), (int) u32(cdb, 6)));
            }
            case 0x25: {
                ByteBuffer b = ByteBuffer.allocate(8);
                b.putInt((int) Math.min(blocks - 1, 0xffffffffL)).putInt(BLOCK);
                return good(b.flip());
            }
            case 0x9e: {
                ByteBuffer b = ByteBuffer.allocate(32);
                b.putLong(blocks - 1).putInt(BLOCK);
                return good(limit(b.flip(), (int) u32(cdb, 10)));
            }
            case 0x1a:
            case 0x5a: {
                boolean six = c.opcode() == 0x1a;
                ByteBuffer b = ByteBuffer.allocate(six ? 4 : 8);
                if (six) {
                    b.put((byte) 3).put((byte) 0).put((byte) 0).put((byte) 0);
                } else {
                    b.putShort((short) 6).putShort((short) 0).putShort((short) 0).putShort((short) 0);
                }
                int alloc = six ? cdb[4] & 0xff : ((cdb[7] & 0xff) << 8) | (cdb[8] & 0xff);
                return good(limit(b.flip(), alloc));
            }
            case 0x28:
            case 0x88: {
                long lba = c.opcode() == 0x28 ? u32(cdb, 2) : u64(cdb, 2);
                long n = c.opcode() == 0x28 ? ((cdb[7] & 0xff) << 8) | (cdb[8] & 0xff) : u32(cdb, 10);
                if (lba + n > blocks) {
                    return check(0x05, 0x21, 0x00);
                }
                byte[] out = new byte[(int) n * BLOCK];
                synchronized (disk) {
                    System.arraycopy(disk, (int) (lba * BLOCK), out, 0, out.length);
                }
                return good(ByteBuffer.wrap(out));
            }
            case 0x2a:
            case 0x8a: {
                long lba = c.opcode() == 0x2a ? u32(cdb, 2) : u64(cdb, 2);
                long n = c.opcode() == 0x2a ? ((cdb[7] & 0xff) << 8) | (cdb[8] & 0xff) : u32(cdb, 10);
                if (lba + n > blocks) {
                    return check(0x05, 0x21, 0x00);
                }
                int len = (int) n * BLOCK;
                ByteBuffer data = c.dataOut();
                int have = data == null ? 0 : data.remaining();
                synchronized (disk) {
                    if (data != null) {
                        data.duplicate().get(disk, (int) (lba * BLOCK), Math.min(len, have));
                    }
                }
                return new ScsiResponse(ScsiResponse.GOOD, null, null, len);
            }
            default:
                return check(0x05, 0x20, 0x00);
        }
    }

    private ScsiResponse inquiry(ScsiCommand c, byte[] cdb) {
        int alloc = ((cdb[3] & 0xff) << 8) | (cdb[4] & 0xff);
        ByteBuffer b = ByteBuffer.allocate(96);
        int pq = c.lun() == 0 ? 0 : 0x7f;
        if ((cdb[1] & 1) == 0) {
            b.put((byte) pq).put((byte) 0).put((byte) 6).put((byte) 2).put((byte) 91).put((byte) 0).put((byte) 0)
                    .put((byte) 2);
            b.put(pad("ORION", 8)).put(pad("RAMTEST", 16)).put(pad("0001", 4));
            b.position(96);
            return good(limit(b.flip(), alloc));
        }
        switch (cdb[2] & 0xff) {
            case 0x00 -> b.put((byte) pq).put((byte) 0).putShort((short) 4).put((byte) 0).put((byte) 0x80)
                    .put((byte) 0x83).put((byte) 0xb0);
            case 0x80 -> b.put((byte) pq).put((byte) 0x80).putShort((short) 8).put(pad("SN000001", 8));
            case 0x83 -> b.put((byte) pq).put((byte) 0x83).putShort((short) 12).put((byte) 1).put((byte) 3)
                    .put((byte) 0).put((byte) 8).putLong(0x6001405000000001L);
            case 0xb0 -> {
                b.put((byte) pq).put((byte) 0xb0).putShort((short) 0x3c);
                b.position(8);
                b.putInt(2048); // maximum transfer length
                b.position(64);
            }
            default -> {
                return check(0x05, 0x24, 0x00);
            }
        }
        return good(limit(b.flip(), alloc));
    }

    private static byte[] pad(String s, int n) {
        byte[] out = new byte[n];
        java.util.Arrays.fill(out, (byte) ' ');
        byte[] src = s.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(src, 0, out, 0, Math.min(n, src.length));
        return out;
    }

    private static ByteBuffer limit(ByteBuffer b, int alloc) {
        if (b.remaining() > alloc) {
            b.limit(b.position() + alloc);
        }
        return b;
    }

    private static long u32(byte[] b, int i) {
        return ((b[i] & 0xffL) << 24) | ((b[i + 1] & 0xffL) << 16) | ((b[i + 2] & 0xffL) << 8) | (b[i + 3] & 0xffL);
    }

    private static long u64(byte[] b, int i) {
        return (u32(b, i) << 32) | u32(b, i + 4);
    }

    private static ScsiResponse good(ByteBuffer data) {
        return new ScsiResponse(ScsiResponse.GOOD, null, data, 0);
    }

    static ScsiResponse check(int key, int asc, int ascq) {
        byte[] s = new byte[18];
        s[0] = 0x70;
        s[2] = (byte) key;
        s[7] = 10;
        s[12] = (byte) asc;
        s[13] = (byte) ascq;
        return new ScsiResponse(ScsiResponse.CHECK_CONDITION, s, null, 0);
    }

    @Override
    public boolean hasLun(Nexus nexus, long lun) {
        return lun == 0;
    }

    @Override
    public void logicalUnitReset(Nexus issuer, long lun) {
        resets.incrementAndGet();
    }

    @Override
    public void targetReset(Nexus issuer, boolean cold) {
        resets.incrementAndGet();
    }

    @Override
    public void taskSetCleared(Nexus issuer, long lun, boolean allInitiators) {
    }

    @Override
    public void nexusLost(Nexus nexus) {
        lost.add(nexus);
    }

    void shutdown() {
        executor.shutdownNow();
    }
}
