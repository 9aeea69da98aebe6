package io.orion.dedup.iscsi.session;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** StatSN: taken by PDUs with status, peeked by the others; it wraps as a serial number. */
class SequenceNumbersTest {

    @Test
    void takeAdvancesPeekDoesNot() {
        SequenceNumbers seq = new SequenceNumbers(0x7fffffff);
        assertEquals(new SequenceNumbers.Stamp(0x7fffffff, 10, 20), seq.take(10, 20));
        assertEquals(0x80000000, seq.peek().statSN());
        assertEquals(0x80000000, seq.peek().statSN(), "peeking takes nothing");
        assertEquals(0x80000000, seq.take().statSN());
        assertEquals(0, seq.take().expCmdSN(), "no session yet: no window");
        assertEquals(0x80000002, seq.peek().statSN());
    }
}
