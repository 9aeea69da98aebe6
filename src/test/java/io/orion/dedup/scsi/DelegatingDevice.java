package io.orion.dedup.scsi;

import io.orion.dedup.blockdev.BlockDevice;
import io.orion.dedup.blockdev.LbaStatus;
import io.orion.dedup.blockdev.Provisioning;
import java.io.IOException;
import java.nio.ByteBuffer;

/** A device that forwards every call; tests override the calls they want to slow or fail. */
class DelegatingDevice implements BlockDevice {
    private final BlockDevice d;

    DelegatingDevice(BlockDevice d) {
        this.d = d;
    }

    @Override public int blockSize() { return d.blockSize(); }
    @Override public long blockCount() { return d.blockCount(); }
    @Override public boolean thin() { return d.thin(); }
    @Override public int physicalBlockSize() { return d.physicalBlockSize(); }
    @Override public boolean atomicWrites() { return d.atomicWrites(); }
    @Override public Provisioning provisioning() throws IOException { return d.provisioning(); }
    @Override public void read(long lba, ByteBuffer dst) throws IOException { d.read(lba, dst); }
    @Override public void write(long lba, ByteBuffer src, boolean fua) throws IOException { d.write(lba, src, fua); }
    @Override public void flush() throws IOException { d.flush(); }
    @Override public void unmap(long lba, long blocks) throws IOException { d.unmap(lba, blocks); }
    @Override public void writeSame(long lba, long blocks, ByteBuffer p, boolean u) throws IOException {
        d.writeSame(lba, blocks, p, u);
    }
    @Override public long compareAndWrite(long lba, ByteBuffer e, ByteBuffer w, boolean f) throws IOException {
        return d.compareAndWrite(lba, e, w, f);
    }
    @Override public LbaStatus status(long lba, long max) throws IOException { return d.status(lba, max); }
    @Override public void resize(long n) throws IOException { d.resize(n); }
    @Override public String uuid() { return d.uuid(); }
    @Override public void close() throws IOException { d.close(); }
}
