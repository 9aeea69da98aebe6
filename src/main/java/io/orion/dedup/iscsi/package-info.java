/**
 * The iSCSI target transport (RFC 7143, ErrorRecoveryLevel 0) on Netty.
 *
 * <p>Public API: {@link io.orion.dedup.iscsi.IscsiServer} (bind portals, list sessions, close),
 * {@link io.orion.dedup.iscsi.TargetCatalog} and {@link io.orion.dedup.iscsi.IscsiTargetInfo} (what
 * is offered), {@link io.orion.dedup.iscsi.LoginAuthorizer}, {@link io.orion.dedup.iscsi.ChapCredentials}
 * and {@link io.orion.dedup.iscsi.DiscoveryAuth} (ACLs and CHAP), {@link io.orion.dedup.iscsi.IscsiServerOptions}
 * and {@link io.orion.dedup.iscsi.IscsiMetrics} (tunables and statistics).
 *
 * <p>Layout: {@code pdu} frames bytes into one immutable record per PDU and back (§11);
 * {@code login} is the key table, the negotiation and CHAP (§6, §12, §13); {@code session} holds
 * sessions, the CmdSN window, connections, tasks, R2T and Data-In sequencing (§3, §4, §11).
 *
 * <p>Threads: each connection is confined to one Netty event loop; the SCSI command layer runs
 * commands on its own executor and completions hop back to the connection's loop. Sessions with
 * several connections share a thread-safe CmdSN window and task table.
 */
package io.orion.dedup.iscsi;
