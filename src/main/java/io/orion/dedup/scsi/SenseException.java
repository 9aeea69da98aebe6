package io.orion.dedup.scsi;

/**
 * A command ended with CHECK CONDITION for {@link #reason()}. Thrown by parsers and executors; the
 * command layer turns it into sense data. Optional INFORMATION (SPC-4 §4.5.2.1, e.g. the miscompare
 * offset) and a sense-key-specific field pointer (SPC-4 §4.5.2.4.2) travel with it.
 */
public final class SenseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final SenseReason reason;
    private final Long information;
    private final int fieldPointer;
    private final boolean inCdb;
    private final int bitPointer;

    public SenseException(SenseReason reason) {
        this(reason, null, -1, false, -1);
    }

    private SenseException(SenseReason reason, Long information, int fieldPointer, boolean inCdb, int bitPointer) {
        super(reason.name(), null, false, false);
        this.reason = reason;
        this.information = information;
        this.fieldPointer = fieldPointer;
        this.inCdb = inCdb;
        this.bitPointer = bitPointer;
    }

    /** INVALID FIELD IN CDB pointing at byte {@code field} (bit {@code bit}, or -1). */
    public static SenseException cdb(int field, int bit) {
        return new SenseException(SenseReason.INVALID_FIELD_IN_CDB, null, field, true, bit);
    }

    /** INVALID FIELD IN PARAMETER LIST pointing at byte {@code field} of the parameter data. */
    public static SenseException param(int field) {
        return new SenseException(SenseReason.INVALID_FIELD_IN_PARAMETER_LIST, null, field, false, -1);
    }

    /** {@code reason} with the INFORMATION field set. */
    public static SenseException withInformation(SenseReason reason, long information) {
        return new SenseException(reason, information, -1, false, -1);
    }

    public SenseReason reason() {
        return reason;
    }

    /** The INFORMATION field, or null. */
    public Long information() {
        return information;
    }

    /** Byte offset of the bad field, or -1 when none is given. */
    public int fieldPointer() {
        return fieldPointer;
    }

    public boolean inCdb() {
        return inCdb;
    }

    public int bitPointer() {
        return bitPointer;
    }
}
