package io.orion.dedup.iscsi.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LoginLogTest {

    @Test
    void burstPerSourceThenASummaryWithTheNextLine() throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger("test.login-log");
        logger.setLevel(Level.INFO);
        logger.setAdditive(false);
        ListAppender<ILoggingEvent> list = new ListAppender<>();
        list.start();
        logger.addAppender(list);
        LoginLog log = new LoginLog(logger, 3, TimeUnit.MILLISECONDS.toNanos(300), 2);
        InetAddress a = InetAddress.getByName("192.0.2.1");
        for (int i = 0; i < 10; i++) {
            log.info(a, "failure {}", i);
        }
        log.info(InetAddress.getByName("192.0.2.2"), "failure from b");
        List<String> lines = list.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        assertEquals(List.of("failure 0", "failure 1", "failure 2", "failure from b"), lines);
        Thread.sleep(400);
        log.info(a, "failure {}", 10);
        lines = list.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        assertEquals(6, lines.size(), lines.toString());
        assertTrue(lines.get(4).startsWith("7 more login line(s) from 192.0.2.1 suppressed"), lines.get(4));
        assertEquals("failure 10", lines.get(5));
        // beyond the table's size, sources share one budget: the table stays bounded
        for (int i = 0; i < 100; i++) {
            log.info(InetAddress.getByName("198.51.100." + i), "flood {}", i);
        }
        long flood = list.list.stream().filter(e -> e.getFormattedMessage().startsWith("flood")).count();
        assertTrue(flood <= 3 + 3, flood + " flood lines");
        logger.detachAppender(list);
    }
}
