package io.orion.dedup.scsi;

import java.nio.ByteBuffer;

/**
 * One SCSI command as the transport hands it to the command layer.
 *
 * @param nexus the I_T nexus the command arrived on
 * @param lun the logical unit number (flat/peripheral addressing decoded to 0..16383)
 * @param cdb the CDB, exactly as long as its group code says (extended CDBs include the AHS part)
 * @param attribute the task attribute
 * @param expectedDataTransferLength the transport's expected data transfer length in bytes
 * @param read whether the initiator expects data from the target (iSCSI R bit)
 * @param write whether the initiator sends data (iSCSI W bit)
 * @param dataOut the data the initiator sent, position..limit, at most EDTL bytes; null when none.
 *     Valid until the command's future completes: the transport then reuses the memory.
 * @param taskTag the transport's task tag (iSCSI Initiator Task Tag), for logs and task management
 */
public record ScsiCommand(Nexus nexus, long lun, byte[] cdb, TaskAttribute attribute,
                          int expectedDataTransferLength, boolean read, boolean write,
                          ByteBuffer dataOut, long taskTag) {

    public int opcode() {
        return cdb[0] & 0xff;
    }
}
