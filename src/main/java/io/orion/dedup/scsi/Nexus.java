package io.orion.dedup.scsi;

/**
 * An I_T nexus (SAM-5 §4.7): one initiator port talking to one target port.
 *
 * @param initiatorPort SCSI initiator port name, for iSCSI {@code "<iqn>,i,0x<ISID hex, 12 digits>"}
 * @param initiatorName the initiator node name alone (the IQN), used by ACLs and PR transport IDs
 * @param isid the 48-bit ISID of the session
 * @param targetPort SCSI target port name, for iSCSI {@code "<target iqn>,t,0x<TPGT hex, 4 digits>"}
 * @param relativeTargetPort relative target port identifier (1-based; we use the portal group tag)
 */
public record Nexus(String initiatorPort, String initiatorName, long isid, String targetPort,
                    int relativeTargetPort) {

    public static Nexus iscsi(String initiatorName, long isid, String targetName, int tpgt) {
        return new Nexus(String.format("%s,i,0x%012x", initiatorName, isid), initiatorName, isid,
                String.format("%s,t,0x%04x", targetName, tpgt), tpgt);
    }
}
