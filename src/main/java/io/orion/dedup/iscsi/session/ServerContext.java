package io.orion.dedup.iscsi.session;

import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.TargetCatalog;
import io.orion.dedup.iscsi.login.ChapFailureLimiter;
import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.LoggerFactory;

/**
 * What every connection of one server shares: the catalog, options, the session registry, the
 * CHAP failure limiter, the count of connections still in login and the rate limit of login
 * failure log lines.
 */
public record ServerContext(TargetCatalog catalog, IscsiServerOptions options, SessionRegistry registry,
                            ChapFailureLimiter chapLimiter, SecureRandom random, PendingLogins pendingLogins,
                            LoginLog loginLog) {

    /** Login failure lines per source address and minute before they are only counted. */
    static final int LOGIN_LOG_BURST = 5;
    /** Source addresses the login log limiter tells apart. */
    static final int LOGIN_LOG_SOURCES = 1024;

    public static ServerContext create(TargetCatalog catalog, IscsiServerOptions options) {
        return new ServerContext(catalog, options, new SessionRegistry(options),
                new ChapFailureLimiter(options.chapFailureLimit(), options.chapFailureWindow()), new SecureRandom(),
                new PendingLogins(options.maxPendingLogins(), options.maxPendingLoginsPerSource()),
                new LoginLog(LoggerFactory.getLogger(IscsiConnection.class), LOGIN_LOG_BURST,
                        TimeUnit.MINUTES.toNanos(1), LOGIN_LOG_SOURCES));
    }
}
