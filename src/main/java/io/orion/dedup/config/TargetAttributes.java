package io.orion.dedup.config;

/**
 * Target-wide attributes, in the spirit of LIO's TPG attributes.
 *
 * @param authentication CHAP required at login (AuthMethod=CHAP, RFC 7143 §12.1): with demo mode
 *     the target-wide {@code [chap]} applies to everyone, otherwise each ACL's CHAP (or the
 *     target-wide one as fallback)
 * @param demoMode generated ACLs: any initiator may log in and sees every LUN; with demo mode off
 *     only initiators listed in an ACL may log in
 * @param queueDepth commands accepted per session for this target, 1..1024, or 0 for the server's
 *     {@code [server] queue_depth}
 */
public record TargetAttributes(boolean authentication, boolean demoMode, int queueDepth) {

    /** Authentication off, demo mode off, server default queue depth (what {@code target create} makes). */
    public static TargetAttributes defaults() {
        return new TargetAttributes(false, false, 0);
    }
}
