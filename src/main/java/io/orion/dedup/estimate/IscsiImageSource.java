package io.orion.dedup.estimate;

import io.orion.dedup.initiator.IscsiReader;
import io.orion.dedup.initiator.IscsiUrl;
import java.io.IOException;

/** A LUN of another iSCSI target, read through {@link IscsiReader} (read-only). */
public final class IscsiImageSource implements ImageSource {
    private final IscsiUrl url;
    private final IscsiReader reader;

    private IscsiImageSource(IscsiUrl url, IscsiReader reader) {
        this.url = url;
        this.reader = reader;
    }

    /** Logs in to {@code url} as {@code initiatorName} ({@code chap} may be null). */
    public static IscsiImageSource open(IscsiUrl url, String initiatorName, IscsiReader.Chap chap) throws IOException {
        return new IscsiImageSource(url, IscsiReader.open(url, initiatorName, chap));
    }

    @Override
    public long size() {
        return reader.sizeBytes();
    }

    @Override
    public String describe() {
        return url.toString();
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        reader.read(offset, dst, dstOffset, length);
    }

    @Override
    public void close() throws IOException {
        reader.close();
    }
}
