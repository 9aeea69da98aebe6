package io.orion.dedup.scsi;

/** SAM-5 task attributes, as carried in the iSCSI SCSI Command PDU ATTR field (RFC 7143 §11.3.1). */
public enum TaskAttribute {
    UNTAGGED, SIMPLE, ORDERED, HEAD_OF_QUEUE, ACA;

    /** Decodes the 3-bit iSCSI ATTR field; reserved values are treated as SIMPLE. */
    public static TaskAttribute fromIscsi(int attr) {
        return switch (attr & 7) {
            case 0 -> UNTAGGED;
            case 1 -> SIMPLE;
            case 2 -> ORDERED;
            case 3 -> HEAD_OF_QUEUE;
            case 4 -> ACA;
            default -> SIMPLE;
        };
    }
}
