package io.orion.dedup.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.orion.dedup.dedup.DedupMode;
import io.orion.dedup.containers.JournalFormat;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A volume's dedup mode survives the {@code volumes} table and the journal's catalogue: bits 1-2 of
 * the flags byte (docs/on-disk-format.md), an inline volume without origin keeping its 56-byte
 * version 1 record.
 */
class VolumeDedupModeCodecTest {
    @TempDir
    Path dir;

    private static final UUID U = UUID.fromString("01234567-89ab-cdef-0123-456789abcdef");

    private static ByteBuffer encode(VolumeRecord r) {
        ByteBuffer k = ByteBuffer.wrap(r.name().getBytes(StandardCharsets.UTF_8));
        ByteBuffer v = ByteBuffer.allocate(512);
        MetaCodec.volumeValue(k, v, r);
        assertNull(MetaCodec.checkVolume(k, v), "the value passes the open-time check");
        return v;
    }

    @Test
    void everyModeRoundTripsAndAnInlineVolumeKeepsItsVersion1Record() {
        for (DedupMode m : DedupMode.values()) {
            VolumeRecord plain = new VolumeRecord("lun", 7, U, 512, 4096, 1 << 20, 3, 1, false, null, 0, m);
            ByteBuffer v = encode(plain);
            assertEquals(m == DedupMode.INLINE ? MetaCodec.VOLUME_VAL : MetaCodec.VOLUME_VAL_V2, v.remaining(), m.label());
            assertEquals(plain, MetaCodec.volume("lun", v));
            if (m != DedupMode.INLINE) {
                // bit 0 (read-only) stays clear: an older reader sees a writable volume
                assertEquals(0, v.get(52) & 1);
                assertEquals(m == DedupMode.POST ? 2 : 4, v.get(52));
            }
            VolumeRecord snap = new VolumeRecord("snap", 8, U, 4096, 8192, 1 << 21, 5, 2, true, "lun", 99L, m);
            assertEquals(snap, MetaCodec.volume("snap", encode(snap)));
        }
        // the old constructors still mean inline
        VolumeRecord old = new VolumeRecord("lun", 7, U, 512, 4096, 1 << 20, 3, 1);
        assertEquals(DedupMode.INLINE, old.dedupMode());
        assertEquals(MetaCodec.VOLUME_VAL, encode(old).remaining());
        assertEquals(DedupMode.OFF, old.withDedupMode(DedupMode.OFF).withCounters(9, 9).withCapacity(4096).dedupMode());
    }

    @Test
    void anUnknownModeCodeIsReportedAsDamage() {
        VolumeRecord r = new VolumeRecord("lun", 7, U, 512, 4096, 1 << 20, 3, 1, false, null, 0, DedupMode.OFF);
        ByteBuffer k = ByteBuffer.wrap("lun".getBytes(StandardCharsets.UTF_8));
        ByteBuffer v = ByteBuffer.allocate(512);
        MetaCodec.volumeValue(k, v, r);
        int n = v.remaining();
        ByteBuffer body = ByteBuffer.allocate(512);
        body.put(v.array(), 0, n - 4);
        body.put(52, (byte) 6); // mode code 3, with a correct CRC
        MetaCodec.seal(k, body);
        String bad = MetaCodec.checkVolume(k, body);
        assertNotNull(bad);
        assertTrue(bad.contains("dedup mode"), bad);
    }

    @Test
    void theModeSurvivesTheStoreAndItsOpenCheck() throws Exception {
        try (MetaStore m = MetaStore.open(dir, 1 << 20)) {
            try (MetaWriteTxn w = m.write()) {
                w.putVolume(new VolumeRecord("i", 1, U, 512, 4096, 1 << 20, 0, 0));
                w.putVolume(new VolumeRecord("p", 2, U, 512, 4096, 1 << 20, 0, 0, false, null, 0, DedupMode.POST));
                w.putVolume(new VolumeRecord("o", 3, U, 512, 4096, 1 << 20, 0, 0, false, "p", 5, DedupMode.OFF));
                w.commit();
            }
        }
        try (MetaStore m = MetaStore.open(dir, 1 << 20)) {
            assertTrue(m.damage().isEmpty(), m.damage().summary());
            try (MetaTxn r = m.read()) {
                assertEquals(DedupMode.INLINE, r.volume("i").dedupMode());
                assertEquals(DedupMode.POST, r.volume("p").dedupMode());
                assertEquals(DedupMode.OFF, r.volume("o").dedupMode());
                assertEquals("p", r.volume("o").origin());
            }
        }
    }

    @Test
    void theJournalCatalogueCarriesTheModeInBits1And2() {
        List<JournalFormat.CatalogueEntry> vols = List.of(
                new JournalFormat.CatalogueEntry(1, "i", U, 512, 4096, 1 << 20, false, null, 0),
                new JournalFormat.CatalogueEntry(2, "p", U, 512, 4096, 1 << 20, false, null, 0, DedupMode.POST),
                new JournalFormat.CatalogueEntry(3, "o", U, 4096, 4096, 1 << 20, true, "p", 77, DedupMode.OFF));
        byte[] p = JournalFormat.encodeCatalogue(new JournalFormat.Catalogue(4, vols));
        JournalFormat.Catalogue back = JournalFormat.readCatalogue(ByteBuffer.wrap(p));
        assertEquals(4, back.nextVolumeId());
        assertEquals(vols, back.volumes());
        assertEquals(DedupMode.INLINE, back.volumes().get(0).dedupMode());
        // the flags byte of the first entry (after id 4, UUID 16, sizes 4+4, capacity 8): an inline
        // volume's byte is unchanged, so catalogues written before the mode read the same
        assertEquals(0, p[8 + 36]);
        // a reader masking bit 0 still sees "read-only" only for the snapshot
        int second = 8 + 36 + 1 + 8 + 2 + 1 + 2 + 36;
        assertEquals(2, p[second]);
    }
}
