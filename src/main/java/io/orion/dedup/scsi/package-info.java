/**
 * The transport-neutral SCSI command layer of a direct-access device (SAM-5, SPC-4, SBC-3/4).
 *
 * <p>Entry point: {@link io.orion.dedup.scsi.ScsiTargetService}, the {@link io.orion.dedup.scsi.ScsiTarget}
 * the iSCSI transport calls. A command goes through the 256-slot opcode table ({@code CommandTable}):
 * each entry's parser decodes, validates and range-checks the CDB and returns an executor that does
 * the block I/O on the layer's own executor. Every failure is a {@link io.orion.dedup.scsi.SenseReason}
 * (one table of key/ASC/ASCQ), rendered by {@link io.orion.dedup.scsi.SenseData} in fixed or
 * descriptor format as the control mode page's D_SENSE bit says.
 *
 * <p>Per logical unit ({@code LogicalUnit}): mode parameters, unit attentions per I_T nexus, the
 * SCSI-2 reservation, persistent reservations ({@code PersistentReservations}) and task-attribute
 * ordering ({@code TaskSet}).
 */
package io.orion.dedup.scsi;
