package io.orion.dedup.iscsi;

import static io.orion.dedup.iscsi.RawInitiator.opcode;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A logged-in initiator that sends protocol errors by the thousand must not flood the server's
 * log: per connection and kind of error, the first lines are logged, then a count of the rest
 * ("N more like this ... suppressed"), with no occurrence left uncounted.
 */
class ProtocolLogFloodTest {

    static final String IQN = "iqn.2026-11.io.orion:flood";
    static final String INITIATOR = "iqn.2026-11.test:flooder";
    static final Pattern SUMMARY = Pattern.compile("([0-9,]+) more like this \\((.+)\\) from (.+) in the last \\d+ s suppressed");

    ScriptedScsiTarget scsi;
    IscsiServer server;
    InetSocketAddress portal;
    ListAppender<ILoggingEvent> logs;
    Logger iscsiLogger;
    Level oldLevel;
    final List<RawInitiator> clients = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        iscsiLogger = (Logger) LoggerFactory.getLogger("io.orion.dedup.iscsi");
        oldLevel = iscsiLogger.getLevel();
        iscsiLogger.setLevel(Level.INFO);
        logs = new ListAppender<>();
        logs.start();
        iscsiLogger.addAppender(logs);
        scsi = new ScriptedScsiTarget();
        server = new IscsiServer(TargetCatalog.of(List.of(new IscsiTargetInfo(IQN, null, 1, List.of(), scsi,
                LoginAuthorizer.OPEN))), IscsiServerOptions.defaults());
        portal = server.bind(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterEach
    void stop() throws IOException {
        for (RawInitiator c : clients) {
            c.close();
        }
        server.close();
        iscsiLogger.detachAppender(logs);
        iscsiLogger.setLevel(oldLevel);
    }

    List<String> lines() {
        List<String> out = new ArrayList<>();
        for (ILoggingEvent e : new ArrayList<>(logs.list)) {
            out.add(e.getFormattedMessage());
        }
        return out;
    }

    static List<String> head(List<String> l) {
        return l.subList(0, Math.min(8, l.size()));
    }

    /**
     * Waits (at most 5 s) until the lines since {@code from} account for {@code n} occurrences: those
     * logged (containing {@code marker}) plus the counts of the summaries of {@code kind}. Returns
     * the summaries' count.
     */
    long suppressed(int from, String marker, String kind, int n) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (true) {
            long counted = 0;
            long logged = 0;
            List<String> all = lines();
            for (String l : all.subList(from, all.size())) {
                Matcher m = SUMMARY.matcher(l);
                if (m.matches() && m.group(2).equals(kind)) {
                    counted += Long.parseLong(m.group(1).replace(",", ""));
                    assertTrue(m.group(3).contains(INITIATOR), l);
                } else if (l.contains(marker)) {
                    logged++;
                }
            }
            if (logged + counted >= n || System.nanoTime() > deadline) {
                return counted;
            }
            Thread.sleep(20);
        }
    }

    @Test
    void tenThousandUnknownOpcodesLogABoundedNumberOfLinesAndCountTheRest() throws Exception {
        RawInitiator c = new RawInitiator(portal);
        clients.add(c);
        assertEquals(0, c.login(INITIATOR, IQN, 0x400000000001L, 0, 0, ""));
        int before = lines().size();
        int n = 10_000;
        int batch = 100;
        for (int i = 0; i < n; i += batch) {
            // one write per batch: 100 PDUs with an opcode no initiator may send (0x0f)
            ByteBuffer b = ByteBuffer.allocate(48 * batch);
            for (int j = 0; j < batch; j++) {
                b.position(48 * j);
                b.put((byte) 0x0f).put((byte) 0x80).putShort((short) 0).putInt(0).putLong(0);
                b.putInt(0x1000 + i + j).putInt(0xffffffff);
            }
            c.sendRaw(b.array());
            for (int j = 0; j < batch; j++) {
                assertEquals(0x3f, opcode(c.read()), "a Reject");
            }
        }
        List<String> during = lines().subList(before, lines().size());
        long logged = during.stream().filter(l -> l.contains("sent unknown opcode 0xf")).count();
        assertTrue(logged >= 1, "the first occurrence is logged: " + during);
        c.close();
        long suppressed = suppressed(before, "sent unknown opcode 0xf", "unknown opcode", n);
        List<String> after = lines().subList(before, lines().size());
        assertTrue(after.size() < 50, after.size() + " lines for " + n + " bad PDUs: " + head(after));
        logged = after.stream().filter(l -> l.contains("sent unknown opcode 0xf")).count();
        assertTrue(suppressed > 0, "a summary line says how many were suppressed: " + after);
        assertEquals(n, logged + suppressed, "every occurrence is logged or counted: " + after);
    }

    @Test
    void dataOutErrorsAreRateLimitedPerConnection() throws Exception {
        RawInitiator c = new RawInitiator(portal);
        clients.add(c);
        assertEquals(0, c.login(INITIATOR, IQN, 0x400000000002L, 0, 0, ""));
        int before = lines().size();
        byte[] write1 = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
        int n = 40;
        for (int i = 0; i < n; i++) {
            int itt = 0x2000 + i;
            // a write of one block without immediate data: the target sends an R2T
            c.command(0xa1, false, itt, 512, c.cmdSN++, write1, null);
            byte[][] r2t = c.read();
            assertEquals(0x31, opcode(r2t), "an R2T");
            int ttt = ByteBuffer.wrap(r2t[0]).getInt(20);
            // the Data-Out at a wrong offset: CHECK CONDITION
            c.dataOut(true, itt, ttt, 0, 4096, new byte[512]);
            byte[][] r = c.read();
            assertEquals(0x21, opcode(r), "a SCSI Response");
        }
        c.close();
        long suppressed = suppressed(before, "Data-Out offset 4096 unexpected", "Data-Out error", n);
        List<String> after = lines().subList(before, lines().size());
        long logged = after.stream().filter(l -> l.contains("Data-Out offset 4096 unexpected")).count();
        assertTrue(logged >= 1 && after.size() < 50, after.size() + " lines: " + head(after));
        assertTrue(suppressed > 0, after.toString());
        assertEquals(n, logged + suppressed, after.toString());
    }
}
