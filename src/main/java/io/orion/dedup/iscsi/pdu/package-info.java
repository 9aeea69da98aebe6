/**
 * iSCSI PDU codec (RFC 7143 §11): {@link io.orion.dedup.iscsi.pdu.Opcode}, one record per PDU,
 * {@link io.orion.dedup.iscsi.pdu.PduDecoder} (BHS → AHS → header digest → data → data digest) and
 * {@link io.orion.dedup.iscsi.pdu.PduEncoder}, CRC32C digests, text key=value encoding.
 */
package io.orion.dedup.iscsi.pdu;
