package io.orion.dedup.iscsi.session;

/**
 * The one place a connection stamps its outgoing PDUs with sequence numbers (RFC 7143 §4.2.2.2,
 * §3.2.2.1): StatSN, counted per connection, and the session's ExpCmdSN / MaxCmdSN at the moment
 * the PDU is built. A PDU that carries a status (a response, a Data-In with the S bit, a NOP-In
 * answering a NOP-Out...) {@link #take takes} a StatSN; one that only reports the next StatSN (an
 * R2T, a Data-In without status, an unsolicited NOP-In) {@link #peek peeks}.
 *
 * <p>Threads: the connection's event loop only.
 */
final class SequenceNumbers {

    /** The numbers one PDU carries. */
    record Stamp(int statSN, int expCmdSN, int maxCmdSN) {
    }

    private int statSN;
    private IscsiSession session;

    SequenceNumbers(int initialStatSN) {
        this.statSN = initialStatSN;
    }

    /** From now on ExpCmdSN / MaxCmdSN come from this session's CmdSN window. */
    void session(IscsiSession s) {
        this.session = s;
    }

    /** A StatSN for a PDU with status, and the window; advances StatSN. */
    Stamp take() {
        long w = window();
        return new Stamp(statSN++, (int) (w >>> 32), (int) w);
    }

    /** The next StatSN without taking it, and the window. */
    Stamp peek() {
        long w = window();
        return new Stamp(statSN, (int) (w >>> 32), (int) w);
    }

    /** A StatSN with a window given by the caller (login, before the session's window exists). */
    Stamp take(int expCmdSN, int maxCmdSN) {
        return new Stamp(statSN++, expCmdSN, maxCmdSN);
    }

    private long window() {
        return session == null ? 0 : session.window().snapshot();
    }
}
