package io.orion.dedup.admin;

/** Which CHAP credentials of a target a {@code chap set|clear} changes. */
public enum ChapScope {
    /** The credentials of one node ACL (per initiator). */
    ACL,
    /** The target-wide credentials (demo mode, and fallback for ACLs without their own). */
    TARGET,
    /** The credentials a discovery session must pass to see this target. */
    DISCOVERY
}
