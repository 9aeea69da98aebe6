package io.orion.dedup.iscsi.login;

/** How the result of a key is computed (RFC 7143 §6.2, §6.2.1, §6.2.2). */
public enum KeyRule {
    /** Declared by the sender; no answer is required (e.g. InitiatorName, MaxRecvDataSegmentLength). */
    DECLARATIVE,
    /** Numerical, result is the smaller of offer and our value. */
    MIN,
    /** Numerical, result is the larger of offer and our value. */
    MAX,
    /** Boolean, result is offer AND our value. */
    AND,
    /** Boolean, result is offer OR our value. */
    OR,
    /** List of values in the offerer's order of preference; we answer the first we support. */
    LIST,
    /** May only be sent by the target; an initiator offering it gets Reject. */
    TARGET_ONLY,
    /** Keys that have no meaning in this context (obsolete markers, iSER-only); answered Irrelevant. */
    IRRELEVANT
}
