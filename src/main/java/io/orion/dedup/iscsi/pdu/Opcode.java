package io.orion.dedup.iscsi.pdu;

import java.util.Optional;

/**
 * iSCSI PDU opcodes (RFC 7143 §11.1.1.1): the six low bits of BHS byte 0. Initiator opcodes are
 * 0x00-0x1f, target opcodes 0x20-0x3f.
 */
public enum Opcode {
    NOP_OUT(0x00, true),
    SCSI_COMMAND(0x01, true),
    TASK_MGMT_REQUEST(0x02, true),
    LOGIN_REQUEST(0x03, true),
    TEXT_REQUEST(0x04, true),
    SCSI_DATA_OUT(0x05, true),
    LOGOUT_REQUEST(0x06, true),
    SNACK_REQUEST(0x10, true),
    NOP_IN(0x20, false),
    SCSI_RESPONSE(0x21, false),
    TASK_MGMT_RESPONSE(0x22, false),
    LOGIN_RESPONSE(0x23, false),
    TEXT_RESPONSE(0x24, false),
    SCSI_DATA_IN(0x25, false),
    LOGOUT_RESPONSE(0x26, false),
    R2T(0x31, false),
    ASYNC_MESSAGE(0x32, false),
    REJECT(0x3f, false);

    private static final Opcode[] BY_CODE = new Opcode[64];

    static {
        for (Opcode op : values()) {
            BY_CODE[op.code] = op;
        }
    }

    private final int code;
    private final boolean fromInitiator;

    Opcode(int code, boolean fromInitiator) {
        this.code = code;
        this.fromInitiator = fromInitiator;
    }

    /** The 6-bit opcode value. */
    public int code() {
        return code;
    }

    /** True for opcodes an initiator sends. */
    public boolean fromInitiator() {
        return fromInitiator;
    }

    /** Checked lookup: empty for an opcode this implementation does not know. */
    public static Optional<Opcode> of(int code) {
        if (code < 0 || code >= BY_CODE.length) {
            return Optional.empty();
        }
        return Optional.ofNullable(BY_CODE[code]);
    }

    /** Lookup that throws {@link IllegalArgumentException} for an unknown code. */
    public static Opcode require(int code) {
        return of(code).orElseThrow(() -> new IllegalArgumentException(
                String.format("unknown iSCSI opcode 0x%02x", code)));
    }
}
