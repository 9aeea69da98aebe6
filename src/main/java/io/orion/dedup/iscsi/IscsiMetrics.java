package io.orion.dedup.iscsi;

/**
 * Hook for transport statistics (login outcomes, bytes per LUN, command latency), so a metrics
 * registry can be wired in without the transport depending on it. Called on event loops and
 * SCSI completion threads: implementations must be thread-safe and non-blocking.
 */
public interface IscsiMetrics {

    /** Does nothing. */
    IscsiMetrics NOOP = new IscsiMetrics() {
    };

    /** A login reached full-feature phase. */
    default void loginSucceeded(String initiatorName, String targetName, boolean discovery) {
    }

    /** A login was refused with {@code status} (class &lt;&lt; 8 | detail, RFC 7143 §11.13.5). */
    default void loginFailed(String initiatorName, String targetName, int status) {
    }

    /** Payload bytes received from the initiator for {@code lun}. */
    default void bytesIn(String targetName, long lun, long bytes) {
    }

    /** Payload bytes sent to the initiator for {@code lun}. */
    default void bytesOut(String targetName, long lun, long bytes) {
    }

    /** One SCSI command finished; latency from arrival of the command to its response. */
    default void commandCompleted(String targetName, long lun, int opcode, int status, long nanos) {
    }
}
