package io.orion.dedup.iscsi.session;

import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.TargetCatalog;
import io.orion.dedup.iscsi.login.ChapFailureLimiter;
import java.security.SecureRandom;

/**
 * What every connection of one server shares: the catalog, options, the session registry and the
 * CHAP failure limiter.
 */
public record ServerContext(TargetCatalog catalog, IscsiServerOptions options, SessionRegistry registry,
                            ChapFailureLimiter chapLimiter, SecureRandom random) {

    public static ServerContext create(TargetCatalog catalog, IscsiServerOptions options) {
        return new ServerContext(catalog, options, new SessionRegistry(options),
                new ChapFailureLimiter(options.chapFailureLimit(), options.chapFailureWindow()), new SecureRandom());
    }
}
