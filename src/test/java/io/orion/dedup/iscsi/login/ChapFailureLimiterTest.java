package io.orion.dedup.iscsi.login;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ChapFailureLimiterTest {

    static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s);
    }

    @Test
    void countsPerSourceAndForgetsAfterTheWindow() throws Exception {
        ChapFailureLimiter l = new ChapFailureLimiter(3, Duration.ofSeconds(60));
        long t = 1_000_000_000L;
        for (int i = 0; i < 3; i++) {
            assertFalse(l.blocked(ip("192.0.2.1"), t));
            l.failed(ip("192.0.2.1"), t);
        }
        assertTrue(l.blocked(ip("192.0.2.1"), t));
        assertFalse(l.blocked(ip("192.0.2.2"), t), "another address is not affected");
        assertFalse(l.blocked(ip("192.0.2.1"), t + Duration.ofSeconds(61).toNanos()), "the window passed");
    }

    @Test
    void anIpv6HostCannotEscapeByChangingItsAddressWithinItsSlash64() throws Exception {
        ChapFailureLimiter l = new ChapFailureLimiter(3, Duration.ofSeconds(60));
        for (int i = 1; i <= 3; i++) {
            l.failed(ip("2001:db8:1:2::" + i), 0);
        }
        assertTrue(l.blocked(ip("2001:db8:1:2::ffff"), 0));
        assertFalse(l.blocked(ip("2001:db8:1:3::1"), 0));
    }

    @Test
    void theTableIsBounded() throws Exception {
        ChapFailureLimiter l = new ChapFailureLimiter(5, Duration.ofSeconds(60), 100);
        for (int i = 0; i < 10_000; i++) {
            l.failed(ip("10.0." + (i >> 8) + "." + (i & 0xff)), i);
        }
        assertTrue(l.sources() <= 100, l.sources() + " sources remembered");
        // the most recent sources are still counted
        assertEquals(2, l.failed(ip("10.0.39.15"), 10_001));
    }
}
