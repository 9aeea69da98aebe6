/**
 * Login phase (RFC 7143 §6, §11.12-13, §12, §13): the table of text keys with their rules, the
 * target's negotiation state machine, and CHAP with MD5, SHA-1, SHA-256 and SHA3-256.
 */
package io.orion.dedup.iscsi.login;
