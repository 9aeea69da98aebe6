package io.orion.dedup.iscsi.login;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.orion.dedup.iscsi.ChapCredentials;
import io.orion.dedup.iscsi.IscsiServerOptions;
import io.orion.dedup.iscsi.IscsiTargetInfo;
import io.orion.dedup.iscsi.LoginAuthorizer;
import io.orion.dedup.iscsi.TargetCatalog;
import io.orion.dedup.iscsi.pdu.LoginRequest;
import io.orion.dedup.iscsi.pdu.TextParams;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Coverage-guided fuzzing of the login negotiator (Jazzer): up to eight login steps, each with any
 * T/C/CSG/NSG bits, ISID, TSIH and any text, against an open target and a CHAP target. Each step
 * must answer (no exception) with a login status the standard defines (RFC 7143 §11.13.5), only
 * keys and values that encode as text, a full-feature transition only with status 0, and no step
 * after a failure is taken as a success. A plain test run replays the seed corpus in
 * {@code src/test/resources/io/orion/dedup/iscsi/login/LoginNegotiatorFuzzTestInputs}.
 */
class LoginNegotiatorFuzzTest {

    static final Set<Integer> STATUSES = Set.of(0x0000, 0x0101, 0x0102, 0x0200, 0x0201, 0x0202, 0x0203, 0x0204,
            0x0205, 0x0206, 0x0207, 0x0208, 0x0209, 0x020a, 0x020b, 0x020c, 0x0300, 0x0301, 0x0302);

    static final LoginAuthorizer CHAP = new LoginAuthorizer() {
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
            return Optional.of(ChapCredentials.oneWay("user", "secret-12345"));
        }
    };

    static final TargetCatalog CATALOG = TargetCatalog.of(List.of(
            new IscsiTargetInfo("iqn.2026-11.io.orion:open", null, 1, List.of(),
                    LoginNegotiatorTest.NO_SCSI, LoginAuthorizer.OPEN),
            new IscsiTargetInfo("iqn.2026-11.io.orion:chap", "alias", 2, List.of(),
                    LoginNegotiatorTest.NO_SCSI, CHAP)));

    @FuzzTest(maxDuration = "60s")
    void negotiate(FuzzedDataProvider in) {
        LoginNegotiator n = new LoginNegotiator(CATALOG, IscsiServerOptions.defaults(),
                new ChapFailureLimiter(1000, Duration.ofMinutes(1)), new SecureRandom(), x -> 0);
        int steps = in.consumeInt(1, 8);
        for (int i = 0; i < steps; i++) {
            int flags = in.consumeByte() & 0xff;
            long isid = in.consumeBoolean() ? 0x400001370000L : in.consumeLong() & 0xffffffffffffL;
            int tsih = in.consumeBoolean() ? 0 : in.consumeInt(0, 0xffff);
            byte[] text = in.consumeBytes(in.consumeInt(0, 9000));
            LoginRequest req = new LoginRequest((flags & 0x80) != 0, (flags & 0x40) != 0, (flags >> 2) & 3, flags & 3,
                    0, 0, isid, tsih, 1, 0, 1, 0, Unpooled.wrappedBuffer(text));
            LoginNegotiator.Step s = n.step(req, text);
            assertNotNull(s);
            assertTrue(STATUSES.contains(s.status()), String.format("login status 0x%04x", s.status()));
            assertTrue(!s.complete() || s.status() == 0, "full feature with status " + s.status());
            for (Map.Entry<String, String> e : s.answer()) {
                assertNotNull(e.getKey());
                assertTrue(!e.getKey().isEmpty() && e.getKey().indexOf('\0') < 0 && e.getKey().indexOf('=') < 0,
                        "answer key " + e.getKey());
                assertTrue(e.getValue() == null || e.getValue().indexOf('\0') < 0, "answer value with a NUL");
            }
            TextParams.encode(s.answer());
            if (s.status() != 0 || s.complete()) {
                return;
            }
        }
    }
}
