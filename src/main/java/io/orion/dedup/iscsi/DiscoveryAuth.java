package io.orion.dedup.iscsi;

import java.util.Optional;

/** Whether discovery sessions (SessionType=Discovery, RFC 7143 §4.3) must authenticate with CHAP. */
@FunctionalInterface
public interface DiscoveryAuth {

    /** Discovery without authentication. */
    DiscoveryAuth NONE = initiatorName -> Optional.empty();

    /** Present when this initiator must authenticate with CHAP to open a discovery session. */
    Optional<ChapCredentials> chap(String initiatorName);

    /** Every initiator authenticates with the same credentials. */
    static DiscoveryAuth chap(ChapCredentials credentials) {
        Optional<ChapCredentials> c = Optional.of(credentials);
        return initiatorName -> c;
    }
}
