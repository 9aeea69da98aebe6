package io.orion.dedup.scsi;

/**
 * Every reason the command layer ends a command with CHECK CONDITION, and the one table that maps
 * it to a sense key and additional sense code/qualifier (SPC-4 §4.5.6, Table 28 and Annex D).
 */
public enum SenseReason {
    NO_SENSE(0x0, 0x00, 0x00),
    // NOT READY (2h)
    /** A SANITIZE runs on the logical unit (SBC-4 §4.11). */
    SANITIZE_IN_PROGRESS(0x2, 0x04, 0x1b),
    // ILLEGAL REQUEST (5h)
    INVALID_COMMAND_OPERATION_CODE(0x5, 0x20, 0x00),
    INVALID_FIELD_IN_CDB(0x5, 0x24, 0x00),
    INVALID_FIELD_IN_PARAMETER_LIST(0x5, 0x26, 0x00),
    PARAMETER_LIST_LENGTH_ERROR(0x5, 0x1a, 0x00),
    LBA_OUT_OF_RANGE(0x5, 0x21, 0x00),
    LOGICAL_UNIT_NOT_SUPPORTED(0x5, 0x25, 0x00),
    /** The transport found the command PDU itself invalid (iSCSI: RFC 7143 §11.3). */
    INVALID_FIELD_IN_COMMAND_INFORMATION_UNIT(0x5, 0x0e, 0x03),
    SAVING_PARAMETERS_NOT_SUPPORTED(0x5, 0x39, 0x00),
    MEDIUM_REMOVAL_PREVENTED(0x5, 0x53, 0x02),
    INVALID_RELEASE_OF_PERSISTENT_RESERVATION(0x5, 0x26, 0x04),
    INSUFFICIENT_REGISTRATION_RESOURCES(0x5, 0x55, 0x04),
    // Third-party copy parameter lists (SPC-4 §6.4.3, §6.4.5; SBC-3 §5.8, §5.46)
    TOO_MANY_TARGET_DESCRIPTORS(0x5, 0x26, 0x06),
    UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE(0x5, 0x26, 0x07),
    TOO_MANY_SEGMENT_DESCRIPTORS(0x5, 0x26, 0x08),
    UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE(0x5, 0x26, 0x09),
    INLINE_DATA_LENGTH_EXCEEDED(0x5, 0x26, 0x0b),
    OPERATION_IN_PROGRESS(0x5, 0x00, 0x16),
    INVALID_TOKEN_OPERATION_UNSUPPORTED_TOKEN_TYPE(0x5, 0x23, 0x01),
    INVALID_TOKEN_OPERATION_TOKEN_UNKNOWN(0x5, 0x23, 0x04),
    INVALID_TOKEN_OPERATION_TOKEN_REVOKED(0x5, 0x23, 0x06),
    INVALID_TOKEN_OPERATION_TOKEN_EXPIRED(0x5, 0x23, 0x07),
    INVALID_TOKEN_OPERATION_TOKEN_DELETED(0x5, 0x23, 0x09),
    INVALID_TOKEN_OPERATION_INVALID_TOKEN_LENGTH(0x5, 0x23, 0x0a),
    INSUFFICIENT_RESOURCES_TO_CREATE_ROD_TOKEN(0x5, 0x55, 0x0d),
    // COPY ABORTED (Ah): a copy the copy manager started could not finish (SPC-4 §6.4.4)
    COPY_ABORTED(0xa, 0x00, 0x00),
    COPY_TARGET_DEVICE_NOT_REACHABLE(0xa, 0x0d, 0x02),
    INCORRECT_COPY_TARGET_DEVICE_TYPE(0xa, 0x0d, 0x03),
    // DATA PROTECT (7h)
    WRITE_PROTECTED(0x7, 0x27, 0x00),
    /** A thin-provisioned LU whose pool cannot supply the space a write needs (SBC-4 §4.7.3.6). */
    SPACE_ALLOCATION_FAILED_WRITE_PROTECT(0x7, 0x27, 0x07),
    // MEDIUM ERROR (3h)
    UNRECOVERED_READ_ERROR(0x3, 0x11, 0x00),
    WRITE_ERROR(0x3, 0x0c, 0x00),
    /** A SANITIZE failed: the LU is in sanitize failure until a SANITIZE ends it (SBC-4 §4.11). */
    SANITIZE_COMMAND_FAILED(0x3, 0x31, 0x03),
    // HARDWARE ERROR (4h)
    INTERNAL_TARGET_FAILURE(0x4, 0x44, 0x00),
    // ABORTED COMMAND (Bh), detected by the transport (iSCSI Data-Out sequence, offsets, digests)
    DATA_PHASE_ERROR(0xb, 0x4b, 0x00),
    DATA_OFFSET_ERROR(0xb, 0x4b, 0x05),
    PROTOCOL_SERVICE_CRC_ERROR(0xb, 0x47, 0x05),
    // MISCOMPARE (Eh)
    MISCOMPARE_DURING_VERIFY(0xe, 0x1d, 0x00),
    // UNIT ATTENTION (6h)
    MEDIUM_MAY_HAVE_CHANGED(0x6, 0x28, 0x00),
    POWER_ON_RESET(0x6, 0x29, 0x00),
    BUS_DEVICE_RESET(0x6, 0x29, 0x03),
    I_T_NEXUS_LOSS(0x6, 0x29, 0x07),
    MODE_PARAMETERS_CHANGED(0x6, 0x2a, 0x01),
    RESERVATIONS_PREEMPTED(0x6, 0x2a, 0x03),
    RESERVATIONS_RELEASED(0x6, 0x2a, 0x04),
    REGISTRATIONS_PREEMPTED(0x6, 0x2a, 0x05),
    CAPACITY_DATA_CHANGED(0x6, 0x2a, 0x09),
    /** The pool's used space crossed {@code [pool] space_warning_percent} (SBC-4 §4.7.3.7.3). */
    THIN_PROVISIONING_SOFT_THRESHOLD_REACHED(0x6, 0x38, 0x07),
    COMMANDS_CLEARED_BY_ANOTHER_INITIATOR(0x6, 0x2f, 0x00),
    REPORTED_LUNS_DATA_CHANGED(0x6, 0x3f, 0x0e);

    private final int key;
    private final int asc;
    private final int ascq;

    SenseReason(int key, int asc, int ascq) {
        this.key = key;
        this.asc = asc;
        this.ascq = ascq;
    }

    public int key() {
        return key;
    }

    public int asc() {
        return asc;
    }

    public int ascq() {
        return ascq;
    }

    /** Shorthand for the exception handlers throw. */
    public SenseException ex() {
        return new SenseException(this);
    }
}
