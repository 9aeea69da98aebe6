package io.orion.dedup.containers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** LZ4 payloads of the buffer kinds the engine is handed (the SCSI layer passes read-only views). */
class CompressionTest {
    private final Compression lz4 = new Compression(true, 0.8, 1);

    private static byte[] compressible(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ("orion dedup block ".charAt(i % 18) + (i % 251 == 0 ? 1 : 0));
        }
        return b;
    }

    private ByteBuffer roundTrip(byte[] packed, byte[] original) throws Exception {
        byte[] rec = new byte[RecordFormat.HEADER + packed.length];
        System.arraycopy(packed, 0, rec, RecordFormat.HEADER, packed.length);
        RecordFormat.seal(rec, 7, new byte[32], RecordFormat.FLAG_LZ4, original.length, packed.length);
        return ByteBuffer.wrap(lz4.payload(ByteBuffer.wrap(rec)));
    }

    @Test
    void readOnlyHeapDirectAndArrayBuffersCompressAlike() throws Exception {
        byte[] data = compressible(4096);
        byte[] padded = new byte[4096 + 100];
        System.arraycopy(data, 0, padded, 37, 4096);
        byte[] fromArray = lz4.tryCompress(ByteBuffer.wrap(data));
        ByteBuffer readOnly = ByteBuffer.wrap(padded).asReadOnlyBuffer().position(37).limit(37 + 4096);
        byte[] fromReadOnly = lz4.tryCompress(readOnly);
        ByteBuffer direct = ByteBuffer.allocateDirect(padded.length).put(padded).position(37).limit(37 + 4096);
        byte[] fromDirect = lz4.tryCompress(direct);
        assertNotNull(fromArray);
        assertArrayEquals(fromArray, fromReadOnly);
        assertArrayEquals(fromArray, fromDirect);
        assertEquals(37, readOnly.position(), "position unchanged");
        assertEquals(ByteBuffer.wrap(data), roundTrip(fromReadOnly, data));
    }

    @Test
    void randomDataStaysRawAndRecordsRoundTrip() throws Exception {
        byte[] random = new byte[65536];
        new Random(3).nextBytes(random);
        assertNull(lz4.tryCompress(ByteBuffer.wrap(random).asReadOnlyBuffer()));
        byte[] data = compressible(65536);
        ByteBuffer ro = ByteBuffer.wrap(data).asReadOnlyBuffer();
        byte[] rec = lz4.buildRecord(9, new byte[32], ro);
        assertEquals(RecordFormat.FLAG_LZ4, RecordFormat.flags(ByteBuffer.wrap(rec)) & RecordFormat.FLAG_LZ4);
        assertArrayEquals(data, lz4.payload(ByteBuffer.wrap(rec)));
        assertArrayEquals(Arrays.copyOf(data, 65536), lz4.payload(ByteBuffer.wrap(lz4.buildRecord(9, new byte[32],
                ByteBuffer.wrap(data)))));
    }
}
