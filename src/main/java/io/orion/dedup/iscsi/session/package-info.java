/**
 * Sessions and connections in full-feature phase (RFC 7143 §3-§4, §11): the session registry
 * (TSIH, reinstatement), the CmdSN window, the per-connection handler with R2T, Data-In, NOP,
 * task management, text and logout.
 */
package io.orion.dedup.iscsi.session;
