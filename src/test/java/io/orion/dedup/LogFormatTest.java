package io.orion.dedup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import org.junit.jupiter.api.Test;

/** The production log format (src/main/resources/logback.xml): one line per event, ISO-8601 time with zone. */
class LogFormatTest {

    @SuppressWarnings("unchecked")
    private static String format(String message, Throwable t) throws Exception {
        LoggerContext ctx = new LoggerContext();
        JoranConfigurator j = new JoranConfigurator();
        j.setContext(ctx);
        j.doConfigure(LogFormatTest.class.getResource("/logback.xml"));
        ch.qos.logback.classic.Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ConsoleAppender<ILoggingEvent> app = (ConsoleAppender<ILoggingEvent>) root.getAppender("STDERR");
        Encoder<ILoggingEvent> enc = app.getEncoder();
        String name = Thread.currentThread().getName();
        Thread.currentThread().setName("control-7");
        try {
            LoggingEvent e = new LoggingEvent("x", ctx.getLogger("io.orion.dedup.audit"), Level.INFO, message, t, null);
            return new String(enc.encode(e), StandardCharsets.UTF_8);
        } finally {
            Thread.currentThread().setName(name);
            ctx.stop();
        }
    }

    @Test
    void oneLineWithIsoTimeAndZone() throws Exception {
        String line = format("target created", null);
        assertEquals(1, line.split("\n", -1).length - 1, line);
        assertTrue(line.endsWith("\n"));
        String time = line.substring(0, line.indexOf(' '));
        // parses as an ISO-8601 date-time with an offset (Z or +hh:mm), within a minute of now
        OffsetDateTime t = OffsetDateTime.parse(time);
        assertTrue(Math.abs(t.toEpochSecond() - OffsetDateTime.now().toEpochSecond()) < 60, time);
        assertTrue(line.contains(" INFO  [control-7] audit - target created"), line);
    }

    @Test
    void multiLineMessagesAndStackTracesStayOnOneLine() throws Exception {
        String line = format("first\nsecond", new IllegalStateException("boom\nsecond line"));
        assertEquals(1, line.split("\n", -1).length - 1, line);
        assertTrue(line.contains("first | second"), line);
        assertTrue(line.contains("java.lang.IllegalStateException: boom | second line | at io.orion.dedup.LogFormatTest"), line);
    }
}
