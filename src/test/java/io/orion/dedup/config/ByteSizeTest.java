package io.orion.dedup.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ByteSizeTest {

    @Test
    void parsesBinaryUnits() {
        assertEquals(4096, ByteSize.parse("4096"));
        assertEquals(256L << 20, ByteSize.parse("256MB"));
        assertEquals(256L << 20, ByteSize.parse("256 MiB"));
        assertEquals(1L << 30, ByteSize.parse("1GiB"));
        assertEquals(1L << 30, ByteSize.parse("1g"));
        assertEquals(16L << 30, ByteSize.parse("16G"));
        assertEquals(3L << 29, ByteSize.parse("1.5GiB"));
        assertEquals(512, ByteSize.parse("512B"));
        assertEquals(1L << 50, ByteSize.parse("1P"));
    }

    @Test
    void rejectsGarbageAndOverflow() {
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("lots"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("-1"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("1iB"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("9000000P"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("99999999999999999999"));
    }

    @Test
    void formats() {
        assertEquals("512 B", ByteSize.format(512));
        assertEquals("16.0 GiB", ByteSize.format(16L << 30));
        assertEquals("1.5 MiB", ByteSize.format(3L << 19));
        assertEquals("16GiB", ByteSize.formatExact(16L << 30));
        assertEquals("1536KiB", ByteSize.formatExact(3L << 19));
        assertEquals("1000", ByteSize.formatExact(1000));
    }
}
