package io.orion.dedup.scsi;

import static io.orion.dedup.scsi.Cdb.u16;
import static io.orion.dedup.scsi.Cdb.u32;
import static io.orion.dedup.scsi.Cdb.u64;
import static io.orion.dedup.scsi.Cdb.u8;

import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.LbaStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * Parsers and executors of the SBC-4 block commands: READ, WRITE, WRITE AND VERIFY, VERIFY,
 * WRITE SAME, UNMAP, COMPARE AND WRITE, PRE-FETCH, SYNCHRONIZE CACHE, READ CAPACITY and GET LBA
 * STATUS (SBC-4 §5).
 *
 * <p>Short or long Data-Out: a write transfers exactly the blocks its CDB names; when the
 * initiator sent fewer bytes (its EDTL was smaller), only the whole blocks that arrived are written,
 * and the response's {@code dataOutLength} lets the transport report the residual (RFC 7143
 * §11.4.5). Parameter-carrying commands (WRITE SAME, COMPARE AND WRITE) require exact data.
 */
final class BlockCommands {

    /** Limits reported in the Block Limits VPD page (SBC-4 §6.6.4), in bytes where noted. */
    static final int MAX_TRANSFER_BYTES = 32 << 20;
    static final int MAX_WRITE_SAME_BYTES = 32 << 20;
    static final long MAX_UNMAP_BLOCKS = 1 << 20;
    static final int MAX_UNMAP_DESCRIPTORS = 2048;
    static final int MAX_COMPARE_AND_WRITE_BLOCKS = 255;
    /** Largest extent one GET LBA STATUS descriptor reports (keeps status scans bounded). */
    static final long MAX_STATUS_EXTENT = 8192;
    /** Device status calls one GET LBA STATUS may make while it joins neighbouring extents. */
    static final int MAX_STATUS_CALLS = 4096;

    private BlockCommands() {
    }

    static long maxTransferBlocks(int blockSize) {
        return MAX_TRANSFER_BYTES / blockSize;
    }

    static long maxWriteSameBlocks(int blockSize) {
        return MAX_WRITE_SAME_BYTES / blockSize;
    }

    /** Decoded LBA and transfer length of the READ/WRITE/VERIFY families by CDB size. */
    private record Extent(long lba, long blocks) {
    }

    private static Extent extent(byte[] cdb) {
        return switch (cdb.length) {
            case 6 -> {
                int n = u8(cdb, 4);
                yield new Extent(u16(cdb, 2) | ((long) (u8(cdb, 1) & 0x1f) << 16), n == 0 ? 256 : n);
            }
            case 10 -> new Extent(u32(cdb, 2), u16(cdb, 7));
            case 12 -> new Extent(u32(cdb, 2), u32(cdb, 6));
            default -> new Extent(u64(cdb, 2), u32(cdb, 10));
        };
    }

    private static void checkTransfer(Request r, long blocks, int field) {
        if (blocks > maxTransferBlocks(r.blockSize())) {
            throw SenseException.cdb(field, -1);
        }
    }

    private static int lengthField(byte[] cdb) {
        return switch (cdb.length) {
            case 6 -> 4;
            case 10 -> 7;
            case 12 -> 6;
            default -> 10;
        };
    }

    /** Protection fields (RDPROTECT/WRPROTECT/VRPROTECT, byte 1 bits 7-5) must be zero: no PI. */
    private static void noProtection(byte[] cdb) {
        if (cdb.length > 6 && (u8(cdb, 1) & 0xe0) != 0) {
            throw SenseException.cdb(1, 7);
        }
    }

    private static boolean fua(Request r) {
        return (r.cdb.length > 6 && (u8(r.cdb, 1) & 0x08) != 0) || !r.lu.wce;
    }

    // ---- READ (SBC-4 §5.11-5.14) ---------------------------------------------------------

    static CommandSpec.Executor read(Request r) {
        noProtection(r.cdb);
        Extent e = extent(r.cdb);
        checkTransfer(r, e.blocks, lengthField(r.cdb));
        r.checkRange(e.lba, e.blocks);
        BlockDevice dev = r.lu.device;
        int bytes = (int) (e.blocks * r.blockSize());
        if (bytes == 0) {
            return () -> Responses.data(ByteBuffer.allocate(0));
        }
        return () -> {
            // Recycled direct memory: no zeroing of a fresh buffer per read, and the socket sends
            // it without another copy. The transport releases it once the Data-In PDUs are written.
            ReadBuffers.Lease lease = ReadBuffers.lease(bytes);
            try {
                ByteBuffer buf = lease.buffer();
                dev.read(e.lba, buf);
                buf.flip();
                return new ScsiResponse(ScsiResponse.GOOD, null, buf, 0, lease.release());
            } catch (IOException | RuntimeException | Error ex) {
                if (lease.release() != null) {
                    lease.release().run();
                }
                throw ex;
            }
        };
    }

    // ---- WRITE (SBC-4 §5.32-5.35) and WRITE AND VERIFY (§5.36-5.38) ---------------------------

    static CommandSpec.Executor write(Request r) {
        r.checkWritable();
        noProtection(r.cdb);
        Extent e = extent(r.cdb);
        checkTransfer(r, e.blocks, lengthField(r.cdb));
        r.checkRange(e.lba, e.blocks);
        return writeExecutor(r, e, fua(r));
    }

    static CommandSpec.Executor writeAndVerify(Request r) {
        r.checkWritable();
        noProtection(r.cdb);
        int bytchk = (u8(r.cdb, 1) >> 1) & 3;
        if (bytchk == 2 || bytchk == 3) {
            throw SenseException.cdb(1, 2);
        }
        Extent e = extent(r.cdb);
        checkTransfer(r, e.blocks, lengthField(r.cdb));
        r.checkRange(e.lba, e.blocks);
        // Verification of the medium means the data must be on it: write through.
        return writeExecutor(r, e, true);
    }

    private static CommandSpec.Executor writeExecutor(Request r, Extent e, boolean fua) {
        int bs = r.blockSize();
        int want = (int) (e.blocks * bs);
        ByteBuffer src = r.dataOut();
        int have = Math.min(src.remaining(), want) / bs * bs;
        src.limit(src.position() + have);
        BlockDevice dev = r.lu.device;
        if (have == 0) {
            return () -> Responses.goodOut(want);
        }
        // The status goes out when the device completes the write, which for a dedup volume is
        // when the group committer committed its block-map changes, without an I/O thread waiting.
        long light = !fua && have <= LIGHT_WRITE_BYTES && dev.quickWrite(e.lba, have) ? have : -1;
        return new CommandSpec.AsyncExecutor() {
            @Override
            public CompletableFuture<ScsiResponse> start(io.orion.dedup.blockdev.IoBatch.Scope scope) {
                return dev.writeAsync(e.lba, src, fua, scope).thenApply(v -> Responses.goodOut(want));
            }

            @Override
            public long lightBytes() {
                return light;
            }
        };
    }

    /**
     * The largest write that may run on the transport thread (when the device's writes never wait
     * for the medium); larger ones go to the I/O threads, where a burst of them runs in parallel
     * with the next socket read.
     */
    static final int LIGHT_WRITE_BYTES = 64 * 1024;

    // ---- WRITE ATOMIC(16) (SBC-4 §5.48) ------------------------------------------------------

    /**
     * Whether the LU offers the opcode: WRITE ATOMIC(16) only on a device whose writes are atomic
     * ({@link io.orion.dedup.blockdev.BlockDevice#atomicWrites}); elsewhere it answers INVALID COMMAND
     * OPERATION CODE and REPORT SUPPORTED OPERATION CODES leaves it out.
     */
    static boolean supported(LogicalUnit lu, int opcode) {
        return opcode != 0x9c || lu == null || lu.device.atomicWrites();
    }

    /**
     * Largest WRITE ATOMIC(16), in blocks (the Block Limits VPD page's MAXIMUM ATOMIC TRANSFER
     * LENGTH) on a device whose writes are atomic: a dedup volume installs a write's block-map
     * changes in one metadata transaction while it holds the block locks of the whole range; a RAM
     * LUN holds a range lock over it. So any write up to the maximum transfer length is atomic, at
     * any alignment (ATOMIC ALIGNMENT and ATOMIC TRANSFER LENGTH GRANULARITY 0). A file LUN's
     * pwrite can be torn by a crash: it offers no atomic writes ({@link #supported}).
     */
    static long maxAtomicBlocks(int blockSize) {
        return Math.min(0xffff, maxTransferBlocks(blockSize));
    }

    static CommandSpec.Executor writeAtomic(Request r) {
        if (!supported(r.lu, 0x9c)) {
            throw SenseReason.INVALID_COMMAND_OPERATION_CODE.ex();
        }
        r.checkWritable();
        noProtection(r.cdb);
        long lba = u64(r.cdb, 2);
        if (u16(r.cdb, 10) != 0) {
            // ATOMIC BOUNDARY: writes with a boundary are not supported (MAXIMUM ATOMIC BOUNDARY SIZE 0)
            throw SenseException.cdb(10, -1);
        }
        long blocks = u16(r.cdb, 12);
        if (blocks > maxAtomicBlocks(r.blockSize())) {
            throw SenseException.cdb(12, -1);
        }
        r.checkRange(lba, blocks);
        return writeExecutor(r, new Extent(lba, blocks), fua(r));
    }

    // ---- ORWRITE (SBC-4 §5.7) --------------------------------------------------------------------

    /** Attempts of the read / COMPARE AND WRITE loop before ORWRITE reports a target failure. */
    private static final int OR_WRITE_ATTEMPTS = 1000;

    /**
     * ORWRITE(16): ORs the data into the blocks. Atomic against every other command touching those
     * blocks: the new contents are installed with {@link BlockDevice#compareAndWrite} against what
     * was read, and the OR is recomputed if another writer got in between.
     */
    static CommandSpec.Executor orWrite(Request r) {
        r.checkWritable();
        noProtection(r.cdb);
        Extent e = extent(r.cdb);
        checkTransfer(r, e.blocks, 10);
        r.checkRange(e.lba, e.blocks);
        int bs = r.blockSize();
        int want = (int) (e.blocks * bs);
        ByteBuffer src = r.dataOut();
        int have = Math.min(src.remaining(), want) / bs * bs;
        byte[] mask = new byte[have];
        src.get(mask);
        boolean fua = fua(r);
        BlockDevice dev = r.lu.device;
        return () -> {
            for (int attempt = 0; have > 0; attempt++) {
                if (attempt == OR_WRITE_ATTEMPTS) {
                    throw SenseReason.INTERNAL_TARGET_FAILURE.ex();
                }
                ByteBuffer current = ByteBuffer.allocate(have);
                dev.read(e.lba, current);
                byte[] merged = current.array().clone();
                for (int i = 0; i < have; i++) {
                    merged[i] |= mask[i];
                }
                current.flip();
                if (dev.compareAndWrite(e.lba, current, ByteBuffer.wrap(merged), fua) < 0) {
                    break;
                }
            }
            return Responses.goodOut(want);
        };
    }

    // ---- VERIFY (SBC-4 §5.29-5.31) -------------------------------------------------------

    static CommandSpec.Executor verify(Request r) {
        noProtection(r.cdb);
        int bytchk = (u8(r.cdb, 1) >> 1) & 3;
        if (bytchk == 2) {
            throw SenseException.cdb(1, 2);
        }
        Extent e = extent(r.cdb);
        checkTransfer(r, e.blocks, lengthField(r.cdb));
        r.checkRange(e.lba, e.blocks);
        int bs = r.blockSize();
        int bytes = (int) (e.blocks * bs);
        int outLen = bytchk == 0 ? 0 : bytchk == 1 ? bytes : (e.blocks == 0 ? 0 : bs);
        ByteBuffer expected = r.dataOut();
        if (bytchk != 0 && expected.remaining() < outLen) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        BlockDevice dev = r.lu.device;
        return () -> {
            ByteBuffer medium = ByteBuffer.allocate(bytes);
            if (bytes > 0) {
                dev.read(e.lba, medium);
            }
            medium.flip();
            if (bytchk == 0) {
                return Responses.good();
            }
            for (int i = 0; i < bytes; i++) {
                int want = bytchk == 1 ? expected.get(expected.position() + i)
                        : expected.get(expected.position() + i % bs);
                if (medium.get(i) != want) {
                    throw SenseException.withInformation(SenseReason.MISCOMPARE_DURING_VERIFY, i);
                }
            }
            return Responses.goodOut(outLen);
        };
    }

    // ---- WRITE SAME (SBC-4 §5.42-5.43) ----------------------------------------------------

    static CommandSpec.Executor writeSame(Request r) {
        r.checkWritable();
        byte[] cdb = r.cdb;
        noProtection(cdb);
        int flags = u8(cdb, 1);
        boolean anchor = (flags & 0x10) != 0;
        boolean unmap = (flags & 0x08) != 0;
        boolean ndob = cdb.length == 16 && (flags & 0x01) != 0;
        if (anchor) {
            // ANC_SUP is 0 in the Logical Block Provisioning VPD page (SBC-4 §5.42).
            throw SenseException.cdb(1, 4);
        }
        long lba = cdb.length == 10 ? u32(cdb, 2) : u64(cdb, 2);
        long blocks = cdb.length == 10 ? u16(cdb, 7) : u32(cdb, 10);
        r.checkRange(lba, blocks);
        if (blocks == 0) {
            blocks = r.blockCount() - lba;
        }
        if (blocks > maxWriteSameBlocks(r.blockSize())) {
            throw SenseException.cdb(cdb.length == 10 ? 7 : 10, -1);
        }
        int bs = r.blockSize();
        ByteBuffer pattern;
        int outLen;
        if (ndob) {
            pattern = ByteBuffer.allocate(bs);
            outLen = 0;
        } else {
            if (r.dataOutLength() != bs) {
                throw SenseException.cdb(cdb.length == 10 ? 7 : 10, -1);
            }
            pattern = r.dataOut();
            outLen = bs;
        }
        long n = blocks;
        boolean fua = !r.lu.wce;
        BlockDevice dev = r.lu.device;
        // UNMAP=1 on a thin LU deallocates the range whatever the pattern; the blocks then read as
        // zeros (LBPRZ). This is what initiators and the libiscsi suite expect (SBC-4 §4.7.3.4).
        boolean deallocate = unmap && dev.thin();
        return () -> {
            if (n > 0) {
                if (deallocate) {
                    dev.unmap(lba, n);
                } else {
                    dev.writeSame(lba, n, pattern, false);
                }
                if (fua) {
                    dev.flush();
                }
            }
            return Responses.goodOut(outLen);
        };
    }

    // ---- UNMAP (SBC-4 §5.28) ------------------------------------------------------------------

    static CommandSpec.Executor unmap(Request r) {
        r.checkWritable();
        byte[] cdb = r.cdb;
        if ((u8(cdb, 1) & 0x01) != 0) {
            throw SenseException.cdb(1, 0);
        }
        int listLen = u16(cdb, 7);
        if (listLen == 0) {
            return Responses::good;
        }
        if (listLen < 8 || r.dataOutLength() < Math.min(listLen, 8)) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        byte[] p = r.parameters(Math.min(listLen, r.dataOutLength()));
        int bdLen = u16(p, 2);
        if (bdLen > p.length - 8) {
            throw SenseReason.PARAMETER_LIST_LENGTH_ERROR.ex();
        }
        int count = bdLen / 16;
        if (count > MAX_UNMAP_DESCRIPTORS) {
            throw SenseException.param(2);
        }
        long[] lbas = new long[count];
        long[] lens = new long[count];
        long cap = r.blockCount();
        for (int i = 0; i < count; i++) {
            int at = 8 + 16 * i;
            lbas[i] = u64(p, at);
            lens[i] = u32(p, at + 8);
            if (Long.compareUnsigned(lbas[i], cap) > 0 || lens[i] > cap - lbas[i]) {
                throw SenseReason.LBA_OUT_OF_RANGE.ex();
            }
            if (lens[i] > MAX_UNMAP_BLOCKS) {
                throw SenseException.param(at + 8);
            }
        }
        for (int i = 0; i < count; i++) {
            if (lens[i] > 0) {
                r.changing(lbas[i], lens[i]);
            }
        }
        BlockDevice dev = r.lu.device;
        int out = listLen;
        return () -> {
            for (int i = 0; i < count; i++) {
                if (lens[i] > 0) {
                    dev.unmap(lbas[i], lens[i]);
                }
            }
            return Responses.goodOut(out);
        };
    }

    // ---- COMPARE AND WRITE (SBC-4 §5.3) -------------------------------------------------------

    static CommandSpec.Executor compareAndWrite(Request r) {
        r.checkWritable();
        byte[] cdb = r.cdb;
        noProtection(cdb);
        long lba = u64(cdb, 2);
        int nlb = u8(cdb, 13);
        if (nlb > MAX_COMPARE_AND_WRITE_BLOCKS) {
            throw SenseException.cdb(13, -1);
        }
        r.checkRange(lba, nlb);
        int bs = r.blockSize();
        int half = nlb * bs;
        if (r.dataOutLength() != 2 * half) {
            // The Data-Out must hold exactly the verify and write instances (SBC-4 §5.3).
            throw SenseException.cdb(13, -1);
        }
        if (nlb == 0) {
            return Responses::good;
        }
        ByteBuffer all = r.dataOut();
        ByteBuffer verify = all.duplicate();
        verify.limit(verify.position() + half);
        ByteBuffer data = all.duplicate();
        data.position(data.position() + half);
        boolean fua = fua(r);
        BlockDevice dev = r.lu.device;
        return () -> {
            long mismatch = dev.compareAndWrite(lba, verify, data, fua);
            if (mismatch >= 0) {
                throw SenseException.withInformation(SenseReason.MISCOMPARE_DURING_VERIFY, mismatch);
            }
            return Responses.goodOut(2 * half);
        };
    }

    // ---- PRE-FETCH (SBC-4 §5.9-5.10), SYNCHRONIZE CACHE (§5.26-5.27) ---------------------------

    static CommandSpec.Executor preFetch(Request r) {
        long lba = r.cdb.length == 10 ? u32(r.cdb, 2) : u64(r.cdb, 2);
        long blocks = r.cdb.length == 10 ? u16(r.cdb, 7) : u32(r.cdb, 10);
        r.checkRange(lba, blocks);
        return Responses::good;
    }

    static CommandSpec.Executor synchronizeCache(Request r) {
        long lba = r.cdb.length == 10 ? u32(r.cdb, 2) : u64(r.cdb, 2);
        long blocks = r.cdb.length == 10 ? u16(r.cdb, 7) : u32(r.cdb, 10);
        r.checkRange(lba, blocks);
        BlockDevice dev = r.lu.device;
        return () -> {
            dev.flush();
            return Responses.good();
        };
    }

    // ---- READ CAPACITY (SBC-4 §5.15-5.16), GET LBA STATUS (§5.8) -------------------------------

    static CommandSpec.Executor readCapacity10(Request r) {
        boolean pmi = (u8(r.cdb, 8) & 1) != 0;
        if (!pmi && u32(r.cdb, 2) != 0) {
            throw SenseException.cdb(2, -1);
        }
        long last = r.blockCount() - 1;
        byte[] d = new byte[8];
        Cdb.put32(d, 0, Math.min(last, 0xffffffffL));
        Cdb.put32(d, 4, r.blockSize());
        return () -> Responses.data(d, d.length);
    }

    static CommandSpec.Executor readCapacity16(Request r) {
        long alloc = u32(r.cdb, 10);
        byte[] d = new byte[32];
        Cdb.put64(d, 0, r.blockCount() - 1);
        Cdb.put32(d, 8, r.blockSize());
        d[13] = (byte) physicalExponent(r.lu.device); // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT
        if (r.lu.device.thin()) {
            d[14] = (byte) 0xc0; // LBPME, LBPRZ
        }
        return () -> Responses.data(d, alloc);
    }

    /**
     * log2 of the logical blocks in one physical block: the dedup block of a dedup volume (4 KiB
     * under 512-byte blocks: 3), 0 when they are equal (SBC-4 §5.16.2).
     */
    static int physicalExponent(BlockDevice dev) {
        int per = Math.max(1, dev.physicalBlockSize() / dev.blockSize());
        return 31 - Integer.numberOfLeadingZeros(per);
    }

    /** Logical blocks per physical block (dedup block), at least 1. */
    static int blocksPerPhysical(BlockDevice dev) {
        return 1 << physicalExponent(dev);
    }

    static CommandSpec.Executor getLbaStatus(Request r) {
        long lba = u64(r.cdb, 2);
        long alloc = u32(r.cdb, 10);
        long cap = r.blockCount();
        if (Long.compareUnsigned(lba, cap) >= 0) {
            throw SenseReason.LBA_OUT_OF_RANGE.ex();
        }
        int max = (int) Math.max(1, Math.min(64, (alloc - 8) / 16));
        BlockDevice dev = r.lu.device;
        return () -> {
            ByteBuffer out = ByteBuffer.allocate(8 + 16 * max);
            out.position(8);
            long at = lba;
            int n = 0;
            int budget = MAX_STATUS_CALLS;
            LbaStatus next = null;
            while (n < max && at < cap) {
                LbaStatus s = next != null ? next : dev.status(at, Math.min(MAX_STATUS_EXTENT, cap - at));
                next = null;
                budget--;
                // neighbouring extents of one status are one descriptor: a sanitized or fresh LUN is
                // one deallocated extent, which hosts (and libiscsi's Sanitize tests) expect
                long blocks = s.blocks();
                while (budget > 0 && at + blocks < cap && blocks < 0xffffffffL - MAX_STATUS_EXTENT) {
                    LbaStatus t = dev.status(at + blocks, Math.min(MAX_STATUS_EXTENT, cap - at - blocks));
                    budget--;
                    if (t.mapped() != s.mapped()) {
                        next = t;
                        break;
                    }
                    blocks += t.blocks();
                }
                out.putLong(at);
                out.putInt((int) Math.min(blocks, 0xffffffffL));
                out.put((byte) (s.mapped() ? 0 : 1));
                out.put(new byte[3]);
                at += blocks;
                n++;
            }
            out.putInt(0, 4 + 16 * n);
            byte[] d = new byte[8 + 16 * n];
            out.flip();
            out.get(d);
            return Responses.data(d, alloc);
        };
    }
}
