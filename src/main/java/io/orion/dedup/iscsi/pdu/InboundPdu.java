package io.orion.dedup.iscsi.pdu;

/** A PDU an initiator sends to the target (opcodes 0x00-0x1f, RFC 7143 §11.1.1.1). */
public sealed interface InboundPdu extends Pdu permits NopOut, ScsiCommandPdu, TaskMgmtRequest,
        LoginRequest, TextRequest, DataOut, LogoutRequest, SnackRequest, UnknownPdu, DigestErrorPdu {

    /** Initiator Task Tag (BHS bytes 16-19). */
    int itt();

    /** The I bit (BHS byte 0, bit 6): the request is immediate and does not advance CmdSN. */
    default boolean immediate() {
        return false;
    }
}
