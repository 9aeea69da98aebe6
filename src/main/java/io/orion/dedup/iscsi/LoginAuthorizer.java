package io.orion.dedup.iscsi;

import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * Access control for one target: which initiators may log in, which see it in SendTargets, and
 * whether they must authenticate with CHAP (RFC 7143 §12). Called on a Netty event loop during
 * login and discovery: implementations must be quick and thread-safe.
 */
public interface LoginAuthorizer {

    /** Everyone may log in and discover; no CHAP. */
    LoginAuthorizer OPEN = new LoginAuthorizer() {
        @Override
        public boolean mayLogin(String initiatorName) {
            return true;
        }

        @Override
        public boolean visibleInDiscovery(String initiatorName) {
            return true;
        }

        @Override
        public Optional<ChapCredentials> chap(String initiatorName) {
            return Optional.empty();
        }
    };

    /** False answers a normal-session login with status 0x0202 (authorization failure). */
    boolean mayLogin(String initiatorName);

    /** Whether SendTargets lists this target for this initiator. */
    boolean visibleInDiscovery(String initiatorName);

    /** Present when the initiator must authenticate with CHAP before a normal session. */
    Optional<ChapCredentials> chap(String initiatorName);

    /**
     * Whether a normal-session login that arrived at local address {@code local} reaches this
     * target; false answers 0x0203, the target "does not exist at this address". Default: every
     * portal of the server serves the target.
     */
    default boolean reachableThrough(InetSocketAddress local) {
        return true;
    }
}
