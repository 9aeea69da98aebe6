package io.orion.dedup.estimate;

import java.io.IOException;

/** What {@code estimate} reads: an image file, a block device or a remote LUN; never written. */
public interface ImageSource extends AutoCloseable {

    /** Bytes to read. */
    long size();

    /** What is read, for messages ("file disk.img", "iscsi://host:3260/iqn.../0"). */
    String describe();

    /**
     * Reads exactly {@code length} bytes at {@code offset} into {@code dst[dstOffset..]}; the range
     * lies inside {@link #size()}. Called from one thread at a time.
     */
    void read(long offset, byte[] dst, int dstOffset, int length) throws IOException;

    @Override
    void close() throws IOException;
}
