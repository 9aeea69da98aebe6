package io.orion.dedup.containers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.blockdev.ChecksumMismatchException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Record and slot-header formats: round trip, and every kind of damage is detected. */
class RecordFormatTest {
    private final Compression lz4 = new Compression(true, 0.9, 1);
    private final byte[] fp = new byte[32];

    {
        new Random(1).nextBytes(fp);
    }

    private static byte[] text(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ("abcabcabd".charAt(i % 9));
        }
        return b;
    }

    @Test
    void compressibleDataIsStoredCompressedAndReadsBackExactly() throws Exception {
        byte[] data = text(4096);
        byte[] rec = lz4.buildRecord(7, fp, ByteBuffer.wrap(data));
        assertTrue(rec.length < 4096 / 4, "compressed: " + rec.length);
        ByteBuffer b = ByteBuffer.wrap(rec);
        assertNull(RecordFormat.check(b, 7));
        assertEquals(RecordFormat.FLAG_LZ4, RecordFormat.flags(b));
        assertArrayEquals(data, lz4.payload(b));
        assertArrayEquals(fp, RecordFormat.fingerprint(b));
        assertEquals(rec.length, RecordFormat.announcedLength(b));
    }

    @Test
    void incompressibleOrThresholdMissStaysRaw() throws Exception {
        byte[] rnd = new byte[4096];
        new Random(2).nextBytes(rnd);
        byte[] rec = lz4.buildRecord(1, fp, ByteBuffer.wrap(rnd));
        assertEquals(RecordFormat.HEADER + 4096, rec.length);
        assertEquals(0, RecordFormat.flags(ByteBuffer.wrap(rec)));
        Compression strict = new Compression(true, 0.005, 1);
        byte[] rec2 = strict.buildRecord(1, fp, ByteBuffer.wrap(text(4096)));
        assertEquals(RecordFormat.HEADER + 4096, rec2.length, "a 0.5% threshold keeps text raw");
        assertArrayEquals(rnd, lz4.payload(ByteBuffer.wrap(rec)));
        Compression off = new Compression(false, 1.0, 1);
        assertEquals(RecordFormat.HEADER + 4096, off.buildRecord(1, fp, ByteBuffer.wrap(text(4096))).length);
        byte[] hc = new Compression(true, 1.0, 9).buildRecord(2, fp, ByteBuffer.wrap(text(8192)));
        assertArrayEquals(text(8192), lz4.payload(ByteBuffer.wrap(hc)));
    }

    @Test
    void everyFlippedByteIsDetected() {
        byte[] rec = lz4.buildRecord(3, fp, ByteBuffer.wrap(text(4096)));
        for (int i = 0; i < rec.length; i++) {
            byte[] bad = rec.clone();
            bad[i] ^= 0x10;
            assertNotNull(RecordFormat.check(ByteBuffer.wrap(bad), 3), "flip at " + i);
        }
    }

    @Test
    void aRecordInsideALargerDirectBufferIsCheckedAndItsFingerprintComparedInPlace() {
        byte[] rec = lz4.buildRecord(3, fp, ByteBuffer.wrap(text(4096)));
        for (java.nio.ByteOrder order : new java.nio.ByteOrder[] {java.nio.ByteOrder.BIG_ENDIAN, java.nio.ByteOrder.LITTLE_ENDIAN}) {
            // as the read path sees it: one record among others in a direct read buffer
            ByteBuffer all = ByteBuffer.allocateDirect(rec.length + 100).order(order);
            all.position(37);
            all.put(rec);
            ByteBuffer view = all.duplicate().order(order).limit(37 + rec.length).position(37);
            assertNull(RecordFormat.check(view, 3), order.toString());
            assertEquals(37, view.position(), "check leaves the position");
            assertEquals(37 + rec.length, view.limit(), "check leaves the limit");
            assertTrue(RecordFormat.fingerprintMatches(view, fp), order.toString());
            for (int i = 0; i < fp.length; i++) {
                byte[] other = fp.clone();
                other[i] ^= 1;
                assertTrue(!RecordFormat.fingerprintMatches(view, other), "byte " + i + " differs, " + order);
            }
            assertTrue(!RecordFormat.fingerprintMatches(view, Arrays.copyOf(fp, 31)));
        }
    }

    @Test
    void truncatedJunkAndWrongIdAreDetected() {
        byte[] rec = lz4.buildRecord(3, fp, ByteBuffer.wrap(text(4096)));
        assertNotNull(RecordFormat.check(ByteBuffer.wrap(Arrays.copyOf(rec, rec.length - 1)), 3));
        assertNotNull(RecordFormat.check(ByteBuffer.wrap(Arrays.copyOf(rec, 10)), 3));
        assertNotNull(RecordFormat.check(ByteBuffer.wrap(Arrays.copyOf(rec, rec.length + 5)), 3));
        assertNotNull(RecordFormat.check(ByteBuffer.wrap(rec), 4));
        byte[] junk = new byte[200];
        new Random(3).nextBytes(junk);
        assertNotNull(RecordFormat.check(ByteBuffer.wrap(junk), -1));
        assertEquals(-1, RecordFormat.announcedLength(ByteBuffer.wrap(junk)));
    }

    @Test
    void damagedCompressedPayloadWithValidCrcStillFailsCleanly() {
        byte[] rec = lz4.buildRecord(3, fp, ByteBuffer.wrap(text(4096)));
        byte[] bad = rec.clone();
        bad[RecordFormat.HEADER] = (byte) 0xff;
        bad[RecordFormat.HEADER + 1] = (byte) 0xff;
        RecordFormat.seal(bad, 3, fp, RecordFormat.FLAG_LZ4, 4096, rec.length - RecordFormat.HEADER);
        assertNull(RecordFormat.check(ByteBuffer.wrap(bad), 3));
        assertThrows(ChecksumMismatchException.class, () -> lz4.payload(ByteBuffer.wrap(bad)));
    }

    @Test
    void slotHeaderNamesItsContainerAndPool() {
        UUID pool = UUID.randomUUID();
        ByteBuffer h = SlotHeader.encode(5, 2, 0, pool);
        assertNull(SlotHeader.check(h, 5, pool));
        assertNotNull(SlotHeader.check(h, 6, pool));
        assertNotNull(SlotHeader.check(h, 5, UUID.randomUUID()));
        h.put(20, (byte) (h.get(20) ^ 1));
        assertNotNull(SlotHeader.check(h, 5, pool));
    }
}
