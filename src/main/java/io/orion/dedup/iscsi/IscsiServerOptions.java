package io.orion.dedup.iscsi;

import java.time.Duration;
import java.util.Objects;

/**
 * Tunables of the iSCSI transport.
 *
 * @param nopInInterval idle time after which the target pings a connection with NOP-In
 *     (RFC 7143 §11.19); zero disables pings
 * @param nopInTimeout a ping unanswered for this long drops the connection
 * @param maxSessions sessions (normal and discovery) beyond this are refused with 0x0302
 * @param queueDepth commands per session the CmdSN window admits (MaxCmdSN - ExpCmdSN + 1), &gt;= 1
 * @param maxRecvDataSegmentLength the MaxRecvDataSegmentLength we declare (512..16777215, §13.12)
 * @param firstBurstLength our FirstBurstLength offer (§13.14)
 * @param maxBurstLength our MaxBurstLength offer (§13.13)
 * @param maxOutstandingR2T our MaxOutstandingR2T offer (§13.17)
 * @param maxConnections our MaxConnections offer (§13.2)
 * @param maxCommandDataLength largest Expected Data Transfer Length accepted for a write
 * @param chapFailureLimit CHAP failures from one source address (IPv6: one /64) within
 *     {@code chapFailureWindow} after which further CHAP logins from it are refused until the
 *     window passes
 * @param chapFailureWindow see {@code chapFailureLimit}
 * @param discoveryAuth CHAP for discovery sessions
 * @param metrics statistics hook
 * @param loginTimeout a connection that has not finished its login within this time is closed
 * @param maxPendingLogins connections that have not finished login, in all; more are closed at once
 * @param maxPendingLoginsPerSource connections that have not finished login from one source address
 */
public record IscsiServerOptions(Duration nopInInterval, Duration nopInTimeout, int maxSessions, int queueDepth,
                                 int maxRecvDataSegmentLength, int firstBurstLength, int maxBurstLength,
                                 int maxOutstandingR2T, int maxConnections, int maxCommandDataLength,
                                 int chapFailureLimit, Duration chapFailureWindow, DiscoveryAuth discoveryAuth,
                                 IscsiMetrics metrics, Duration loginTimeout, int maxPendingLogins,
                                 int maxPendingLoginsPerSource) {

    public IscsiServerOptions {
        Objects.requireNonNull(nopInInterval, "nopInInterval");
        Objects.requireNonNull(nopInTimeout, "nopInTimeout");
        Objects.requireNonNull(chapFailureWindow, "chapFailureWindow");
        Objects.requireNonNull(loginTimeout, "loginTimeout");
        if (loginTimeout.isNegative() || loginTimeout.isZero()) {
            throw new IllegalArgumentException("loginTimeout must be positive: " + loginTimeout);
        }
        range("maxPendingLogins", maxPendingLogins, 1, Integer.MAX_VALUE);
        range("maxPendingLoginsPerSource", maxPendingLoginsPerSource, 1, Integer.MAX_VALUE);
        discoveryAuth = discoveryAuth == null ? DiscoveryAuth.NONE : discoveryAuth;
        metrics = metrics == null ? IscsiMetrics.NOOP : metrics;
        range("maxRecvDataSegmentLength", maxRecvDataSegmentLength, 512, 16777215);
        range("firstBurstLength", firstBurstLength, 512, 16777215);
        range("maxBurstLength", maxBurstLength, 512, 16777215);
        range("maxOutstandingR2T", maxOutstandingR2T, 1, 65535);
        range("maxConnections", maxConnections, 1, 65535);
        range("queueDepth", queueDepth, 1, 1 << 20);
        range("maxSessions", maxSessions, 1, Integer.MAX_VALUE);
        range("maxCommandDataLength", maxCommandDataLength, 512, Integer.MAX_VALUE);
        if (firstBurstLength > maxBurstLength) {
            throw new IllegalArgumentException("firstBurstLength must not exceed maxBurstLength");
        }
    }

    private static void range(String name, int v, int min, int max) {
        if (v < min || v > max) {
            throw new IllegalArgumentException(name + " must be " + min + ".." + max + ": " + v);
        }
    }

    /**
     * Defaults: ping after 10 s idle, drop after 15 s more, 1024 sessions, queue depth 128; 5 CHAP
     * failures a minute per source; logins finish within 15 s (LIO's login timeout), at most 64
     * unfinished at a time, 8 of them from one source address.
     */
    public static IscsiServerOptions defaults() {
        return new IscsiServerOptions(Duration.ofSeconds(10), Duration.ofSeconds(15), 1024, 128, 262144, 262144,
                1048576, 4, 8, 64 << 20, 5, Duration.ofMinutes(1), DiscoveryAuth.NONE, IscsiMetrics.NOOP,
                Duration.ofSeconds(15), 64, 8);
    }

    public IscsiServerOptions withLoginLimits(Duration timeout, int pending, int pendingPerSource) {
        return new IscsiServerOptions(nopInInterval, nopInTimeout, maxSessions, queueDepth, maxRecvDataSegmentLength,
                firstBurstLength, maxBurstLength, maxOutstandingR2T, maxConnections, maxCommandDataLength,
                chapFailureLimit, chapFailureWindow, discoveryAuth, metrics, timeout, pending, pendingPerSource);
    }

    public IscsiServerOptions withNopIn(Duration interval, Duration timeout) {
        return new IscsiServerOptions(interval, timeout, maxSessions, queueDepth, maxRecvDataSegmentLength,
                firstBurstLength, maxBurstLength, maxOutstandingR2T, maxConnections, maxCommandDataLength,
                chapFailureLimit, chapFailureWindow, discoveryAuth, metrics, loginTimeout, maxPendingLogins,
                maxPendingLoginsPerSource);
    }

    public IscsiServerOptions withMaxSessions(int n) {
        return new IscsiServerOptions(nopInInterval, nopInTimeout, n, queueDepth, maxRecvDataSegmentLength,
                firstBurstLength, maxBurstLength, maxOutstandingR2T, maxConnections, maxCommandDataLength,
                chapFailureLimit, chapFailureWindow, discoveryAuth, metrics, loginTimeout, maxPendingLogins,
                maxPendingLoginsPerSource);
    }

    public IscsiServerOptions withDiscoveryAuth(DiscoveryAuth auth) {
        return new IscsiServerOptions(nopInInterval, nopInTimeout, maxSessions, queueDepth, maxRecvDataSegmentLength,
                firstBurstLength, maxBurstLength, maxOutstandingR2T, maxConnections, maxCommandDataLength,
                chapFailureLimit, chapFailureWindow, auth, metrics, loginTimeout, maxPendingLogins,
                maxPendingLoginsPerSource);
    }

    public IscsiServerOptions withMetrics(IscsiMetrics m) {
        return new IscsiServerOptions(nopInInterval, nopInTimeout, maxSessions, queueDepth, maxRecvDataSegmentLength,
                firstBurstLength, maxBurstLength, maxOutstandingR2T, maxConnections, maxCommandDataLength,
                chapFailureLimit, chapFailureWindow, discoveryAuth, m, loginTimeout, maxPendingLogins,
                maxPendingLoginsPerSource);
    }

    public IscsiServerOptions withSegmentAndBursts(int maxRecv, int firstBurst, int maxBurst) {
        return new IscsiServerOptions(nopInInterval, nopInTimeout, maxSessions, queueDepth, maxRecv, firstBurst,
                maxBurst, maxOutstandingR2T, maxConnections, maxCommandDataLength, chapFailureLimit,
                chapFailureWindow, discoveryAuth, metrics, loginTimeout, maxPendingLogins,
                maxPendingLoginsPerSource);
    }

    public IscsiServerOptions withQueueDepth(int depth) {
        return new IscsiServerOptions(nopInInterval, nopInTimeout, maxSessions, depth, maxRecvDataSegmentLength,
                firstBurstLength, maxBurstLength, maxOutstandingR2T, maxConnections, maxCommandDataLength,
                chapFailureLimit, chapFailureWindow, discoveryAuth, metrics, loginTimeout, maxPendingLogins,
                maxPendingLoginsPerSource);
    }
}
